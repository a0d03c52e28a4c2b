"""Idempotency keys (API.md section 15): a request's answer, kept with the change it answers.

A client sends a key with a request that changes something; the first answer with that key is
kept, in the same unit of work as the change, and a repeat of the same request with the key is
answered with it again and changes nothing. What a request and its answer look like is the
caller's business (over HTTP: a status, headers and a body, and a fingerprint of the method,
path and JSON body): here they are opaque, and only compared and kept.

The flow, run by ``bank_domain.use_cases.idempotency.Idempotency`` for every use case that
takes a claim:

1. the key is held in this process while the request runs (a second request with it gets
   ``IdempotencyKeyInUse`` at once);
2. first in the use case's unit of work, the store claims the key (``IdempotencyRepository.
   claim``: a lock that another process's unit of work cannot take at the same time) and
   returns its kept answer: one with the same fingerprint is replayed (``IdempotentReplay``),
   one with another is refused (``IdempotencyKeyReused``). A posting's unit of work may take
   the key only with its account's lock (``PostingUnitOfWork``): there another process's hold
   is ``IdempotencyKeyInUse``, and an answer kept since the claim ``KeyAnsweredMeanwhile``;
3. the change is made, and the claim's rendering of the result is added to the unit of work,
   which commits both, or neither;
4. a refusal that the caller keeps (its ``refusal`` rendering returns an answer) is kept in a
   small unit of work of its own, since the refused one changed nothing; a posting refused
   under its account's lock keeps it in its own unit of work instead, which holds the key.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Final, Generic, TypeVar

from bank_domain.errors import IDEMPOTENCY_KEY_FIELD, InvalidValue

if TYPE_CHECKING:
    from bank_domain.errors import LedgerError

MAX_KEY_LENGTH: Final = 255
_KEY: Final = re.compile(rf"[\x21-\x7e]{{1,{MAX_KEY_LENGTH}}}")
"""1 to 255 visible ASCII characters: no space, no control character, nothing beyond ASCII."""

Result = TypeVar("Result")


@dataclass(frozen=True, slots=True)
class IdempotencyKey:
    """A client's key, in the scope of who sent it (an actor's id: a key id, or ``master``):
    two API keys may use the same text without meeting."""

    scope: str
    value: str

    def __post_init__(self) -> None:
        if not _KEY.fullmatch(self.value):
            raise InvalidValue(
                IDEMPOTENCY_KEY_FIELD,
                f"An {IDEMPOTENCY_KEY_FIELD} is 1 to {MAX_KEY_LENGTH} visible ASCII characters.",
            )


@dataclass(frozen=True, slots=True)
class KeptAnswer:
    """An answer as the caller gave it back: a status, a few headers and the body's bytes."""

    status: int
    body: bytes = field(repr=False)
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class KeptRequest:
    """What a store keeps of a request with a key: its fingerprint, its answer, and when."""

    key: IdempotencyKey
    fingerprint: str
    answer: KeptAnswer
    created_at: datetime


@dataclass(frozen=True, slots=True)
class IdempotencyClaim(Generic[Result]):
    """What a command carries when its request came with a key.

    ``fingerprint`` tells requests apart (the same key with another one is refused);
    ``answer`` renders the use case's result as the caller answers it; ``refusal`` renders a
    refusal, or gives None for a refusal that is not kept (so that a corrected retry may use
    the key again)."""

    key: IdempotencyKey
    fingerprint: str
    answer: Callable[[Result], KeptAnswer]
    refusal: Callable[[LedgerError], KeptAnswer | None]


class IdempotentReplay(Exception):
    """The request repeats one whose answer is kept: the caller answers ``answer`` again, and
    nothing was changed. Raised by a use case instead of returning its result (it is no
    error, so no LedgerError: no table of errors answers it by mistake)."""

    def __init__(self, answer: KeptAnswer) -> None:
        super().__init__("The request repeats one whose answer is kept.")
        self.answer = answer


class KeyAnsweredMeanwhile(Exception):
    """Raised by a posting's unit of work at the account's lock when its claimed key was
    answered by another unit of work since the claim looked (a store that takes the key only
    with the lock, ``PostingUnitOfWork``): nothing was changed, and the use case starts over,
    so that its claim finds that answer. No LedgerError: it is never kept, nor answered."""

    def __init__(self) -> None:
        super().__init__("The idempotency key was answered since the claim looked.")
