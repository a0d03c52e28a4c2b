"""Batches: many postings, all stored or none."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from bank_domain.account import Account
from bank_domain.actors import MASTER, Actor
from bank_domain.errors import DuplicateTransactionId, InvalidValue, ItemRefused, LedgerError
from bank_domain.events import Event, EventType
from bank_domain.idempotency import IdempotencyClaim
from bank_domain.identifiers import AccountNumber, TransactionId
from bank_domain.ports import Clock
from bank_domain.transaction import Transaction
from bank_domain.use_cases._common import record_due_expiries, require_open_account
from bank_domain.use_cases.idempotency import ClaimingUseCase
from bank_domain.use_cases.posting import (
    PostedTransaction,
    PostingRequest,
    PostTransactionCommand,
)

MAX_BATCH_ITEMS: Final = 1000
"""The most postings one batch holds (and the fewest is 1)."""

_TICK: Final = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class PostBatchCommand:
    """The items are postings as ``PostTransaction`` takes them; the batch's ``actor`` posts
    every one of them (an item's own ``actor`` is not read)."""

    items: Sequence[PostTransactionCommand]
    actor: Actor = MASTER
    idempotency: IdempotencyClaim[PostedBatch] | None = None


@dataclass(frozen=True, slots=True)
class PostedBatch:
    items: list[PostedTransaction]
    """In the order given."""

    @property
    def created(self) -> bool:
        """Whether the batch stored anything: False when every item repeated a stored one."""
        return any(item.created for item in self.items)


@dataclass(frozen=True, slots=True)
class _Item:
    index: int
    transaction_id: TransactionId | None
    """The client's; None when it gave none."""
    new_id: TransactionId
    """The id a new transaction of this item takes: the client's, or one made for it before
    the batch takes its locks."""
    request: PostingRequest


class PostBatch(ClaimingUseCase):
    """Posts 1 to 1,000 transactions, all or nothing, in the order given: each item sees what
    the earlier ones did (a deposit and then a withdrawal of it works). One unit of work locks
    every account of the batch once, in account-number order. An item that repeats a stored
    transaction (same id, same fields) is answered with it and moves no money. When any item
    is refused, nothing is stored: ``ItemRefused`` names the item and why. Two items with one
    transaction_id are refused (the second)."""

    async def __call__(self, command: PostBatchCommand) -> PostedBatch:
        return await self._idempotency.run(command.idempotency, lambda: self._post_any(command))

    async def _post_any(self, command: PostBatchCommand) -> PostedBatch:
        items = _parse(command, self._clock)
        claim = command.idempotency
        try:
            return await self._post(items, command.actor, claim)
        except DuplicateTransactionId:
            # An id was taken by another posting between our look-up and our insert: once
            # more, and the look-up now finds it (a retry of it, or an item refused).
            return await self._post(items, command.actor, claim)

    async def _post(
        self, items: list[_Item], actor: Actor, claim: IdempotencyClaim[PostedBatch] | None
    ) -> PostedBatch:
        async with self._uow() as uow:
            await self._idempotency.check(uow, claim)
            given = [item.transaction_id for item in items if item.transaction_id is not None]
            stored = await uow.transactions.get_many(given) if given else {}
            locked = await uow.accounts.get_many_for_update(
                item.request.account_number
                for item in items
                if item.transaction_id is None or item.transaction_id not in stored
            )
            now = self._clock()
            await record_due_expiries(uow, locked.values(), now)
            versions = {number: account.version for number, account in locked.items()}
            answers = self._apply(items, stored, locked, now)
            transactions = [answer.transaction for answer in answers if answer.created]
            if transactions:
                await uow.add_postings(
                    transactions,
                    [a for n, a in locked.items() if a.version != versions[n]],
                    [
                        Event.of(EventType.TRANSACTION_POSTED, t, actor, t.timestamp)
                        for t in transactions
                    ],
                )
            batch = PostedBatch(answers)
            await self._idempotency.keep(uow, claim, batch)
            await uow.commit()  # the postings, the expiries recorded under the locks, the answer
        return batch

    def _apply(
        self,
        items: list[_Item],
        stored: dict[TransactionId, Transaction],
        locked: dict[AccountNumber, Account],
        now: datetime,
    ) -> list[PostedTransaction]:
        """Each item in turn: a repeat of a stored transaction is answered with it; a new one
        is accepted by its locked account as the earlier items left it. The first item
        refused refuses the batch."""
        answers: list[PostedTransaction] = []
        previous: datetime | None = None
        seen_at = now
        index = 0
        # One handler for the whole loop, not a context manager an item: this runs under the
        # locks of every account of the batch, where each microsecond is everyone's.
        try:
            for item in items:
                index, request, tid = item.index, item.request, item.transaction_id
                if tid is not None and tid in stored:
                    answers.append(request.replay(stored[tid], tid, seen_at))
                    continue
                # Each item a moment after the one before, so that lists show them in order.
                now = self._clock()
                if previous is not None and now <= previous:
                    now = previous + _TICK
                previous = now
                number = request.account_number
                account = require_open_account(locked.get(number), number, actor=request.actor)
                transaction = request.new_transaction(item.new_id, now)
                account.accept(transaction, now)
                answers.append(PostedTransaction(transaction, created=True))
        except LedgerError as error:
            raise ItemRefused(index, error) from None
        return answers


@contextmanager
def _refused_as(index: int) -> Iterator[None]:
    """Turns a refusal of one item into the batch's refusal, naming the item."""
    try:
        yield
    except ItemRefused:
        raise
    except LedgerError as error:
        raise ItemRefused(index, error) from None


def _parse(command: PostBatchCommand, clock: Clock) -> list[_Item]:
    """Every item through the posting's rules, in order; an id given twice is refused."""
    if not 1 <= len(command.items) <= MAX_BATCH_ITEMS:
        raise InvalidValue("transactions", f"A batch holds 1 to {MAX_BATCH_ITEMS:,} transactions.")
    actor = command.actor
    items: list[_Item] = []
    first_use: dict[TransactionId, int] = {}
    for index, given in enumerate(command.items):
        with _refused_as(index):
            posting = given if given.actor is actor else dataclasses.replace(given, actor=actor)
            request = PostingRequest.parse(posting, clock)
            tid = None if given.transaction_id is None else TransactionId(given.transaction_id)
            if tid is not None and tid in first_use:
                raise InvalidValue(
                    "transaction_id",
                    f"The transaction id {tid} is given twice in the batch "
                    f"(items {first_use[tid]} and {index}).",
                )
        if tid is not None:
            first_use[tid] = index
        items.append(_Item(index, tid, tid or TransactionId.generate(), request))
    return items
