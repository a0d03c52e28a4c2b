"""Running use cases under idempotency claims, and forgetting old ones.

Every use case that takes a claim (``bank_domain.idempotency.IdempotencyClaim``, in its
command) follows three steps, so that wiring one more is small and always the same:

- ``__call__`` runs its work through ``Idempotency.run(command.idempotency, work)``;
- in its unit of work, before any other read or change, ``Idempotency.check(uow, claim)``;
- after its change and before ``commit()``, ``Idempotency.keep(uow, claim, result)`` (and it
  commits even when the change turned out to be none: the answer is kept all the same).

A refusal is kept by ``run`` in a unit of work of its own. A use case whose unit of work may
hold the key beyond its claim (a posting's, which takes it with the account's lock and keeps
it until the group it joined ends) keeps a refusal made there in that unit of work instead,
with ``Idempotency.refuse(uow, claim, refusal)``.

A use case whose result is made after its unit of work ended must give ``keep`` the result it
will return: what is kept is exactly what was answered.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, Final, NoReturn, TypeVar

from bank_domain.errors import (
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    LedgerError,
    StorageUnavailable,
)
from bank_domain.idempotency import (
    IdempotencyClaim,
    IdempotencyKey,
    IdempotentReplay,
    KeptAnswer,
    KeptRequest,
)
from bank_domain.ports import Clock, PostingUnitOfWork, UnitOfWorkFactory
from bank_domain.use_cases._common import utc_now

Result = TypeVar("Result")

MIN_RETENTION: Final = timedelta(hours=24)
"""A kept answer is kept at least this long (API.md section 15)."""
REMOVAL_BATCH: Final = 1_000
"""Expired kept answers are removed this many per unit of work, so no removal holds a lock long."""


class Idempotency:
    """One per Ledger: it holds the keys of the requests this process is running."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock = utc_now) -> None:
        self._uow = uow
        self._clock = clock
        self._in_flight: set[IdempotencyKey] = set()

    async def run(
        self, claim: IdempotencyClaim[Result] | None, work: Callable[[], Awaitable[Result]]
    ) -> Result:
        """Runs ``work`` (the use case) while this process holds the claim's key: a second
        request with the key meanwhile is refused at once (409). A refusal is kept, or not, as
        the claim's ``refusal`` says (``refuse`` has kept it already)."""
        if claim is None:
            return await work()
        if claim.key in self._in_flight:
            raise IdempotencyKeyInUse()
        self._in_flight.add(claim.key)
        try:
            return await work()
        except _RefusalSettled as settled:
            raise settled.refusal from None
        except (IdempotencyKeyInUse, IdempotencyKeyReused, StorageUnavailable):
            raise  # the mechanism's own answers, and an outage, are never kept
        except LedgerError as refusal:
            await self._settle(claim, claim.refusal(refusal))
            raise
        finally:
            self._in_flight.discard(claim.key)

    async def check(self, uow: PostingUnitOfWork, claim: IdempotencyClaim[Any] | None) -> None:
        """First in a use case's unit of work: takes the key, and replays its kept answer
        (IdempotentReplay) or refuses another request's use of it (IdempotencyKeyReused)."""
        if claim is None:
            return
        kept = await uow.idempotency.claim(claim.key)
        if kept is None:
            return
        if kept.fingerprint != claim.fingerprint:
            raise IdempotencyKeyReused()
        raise IdempotentReplay(kept.answer)

    async def keep(
        self, uow: PostingUnitOfWork, claim: IdempotencyClaim[Result] | None, result: Result
    ) -> None:
        """Adds the answer to ``result`` to the unit of work, to be committed with the change."""
        if claim is not None:
            await uow.idempotency.add(self._kept(claim, claim.answer(result)))

    async def refuse(
        self, uow: PostingUnitOfWork, claim: IdempotencyClaim[Any], refusal: LedgerError
    ) -> NoReturn:
        """Raises ``refusal`` (out of ``run``) once its answer, when the claim keeps one, is
        committed in ``uow``, which holds the key and has changed nothing else: what ``run``
        does in a unit of work of its own, for a unit of work that holds the key until
        something other than its own end (a group). When the store does not answer, the
        refusal is answered unkept, as ``run``'s is."""
        answer = claim.refusal(refusal)
        if answer is not None:
            try:
                await uow.idempotency.add(self._kept(claim, answer))
                await uow.commit()
            except StorageUnavailable:
                pass
        raise _RefusalSettled(refusal)

    async def _settle(self, claim: IdempotencyClaim[Any], answer: KeptAnswer | None) -> None:
        """After a refusal, which changed nothing: an answer kept for the key meanwhile, or
        before (a refusal raised before the use case's unit of work has not looked), wins, and
        a request with the key running elsewhere makes this one in use (409), as it would have
        made it before the refusal; else the refusal is kept in a unit of work of its own when
        ``answer`` is one. When the store does not answer, the refusal is answered unkept."""
        try:
            async with self._uow() as uow:
                await self.check(uow, claim)
                if answer is None:
                    return
                await uow.idempotency.add(self._kept(claim, answer))
                await uow.commit()
        except StorageUnavailable:
            return

    def _kept(self, claim: IdempotencyClaim[Any], answer: KeptAnswer) -> KeptRequest:
        return KeptRequest(claim.key, claim.fingerprint, answer, self._clock())


class _RefusalSettled(Exception):
    """A refusal whose answer ``Idempotency.refuse`` kept already: ``run`` raises the refusal
    itself, and keeps nothing more."""

    def __init__(self, refusal: LedgerError) -> None:
        super().__init__(str(refusal))
        self.refusal = refusal


class ClaimingUseCase:
    """The base of a use case that takes idempotency claims: its units of work, its clock, and
    the Ledger's one ``Idempotency`` (a use case made alone makes its own)."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock = utc_now,
        idempotency: Idempotency | None = None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._idempotency = idempotency or Idempotency(uow, clock)


class ForgetExpiredIdempotencyKeys:
    """Removes the answers kept longer than ``retention`` (at least MIN_RETENTION), a batch
    per unit of work; returns how many it removed. The service runs it periodically."""

    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock = utc_now, batch: int = REMOVAL_BATCH
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._batch = batch

    async def __call__(self, retention: timedelta) -> int:
        if retention < MIN_RETENTION:
            raise ValueError(f"Kept answers are kept at least {MIN_RETENTION}, not {retention}.")
        before = self._clock() - retention
        removed = 0
        while True:
            async with self._uow() as uow:
                count = await uow.idempotency.remove_expired(before, self._batch)
                await uow.commit()
            removed += count
            if count < self._batch:
                return removed
