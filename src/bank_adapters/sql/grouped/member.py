"""A posting's unit of work inside a group, and the keeper of the port's call order.

Its reads come from the group's locked rows, its writes are staged, and ``commit()`` hands them
to the group and waits until the group is durable; leaving without a commit hands over nothing.
It serves ``PostingUnitOfWork`` in the order that port states (the claim of an idempotency key,
then look-ups, then one lock, then the changes, the claimed key's answer among them, then the
commit), and refuses any other order at once: out of order, a call could wait for a group that
waits for the caller.

The claim only looks the key's answer up (batched, as look-ups are); the key is taken with the
lock, by the group, in its transaction (group_writer.py), where the answer is written too.
"""

from __future__ import annotations

import copy
import enum
from types import TracebackType
from typing import Self

from bank_adapters.sql.grouped.committer import GroupCommitter
from bank_adapters.sql.grouped.group import Group
from bank_domain.account import Account
from bank_domain.events import Event
from bank_domain.idempotency import IdempotencyKey, KeptRequest
from bank_domain.identifiers import AccountNumber, TransactionId
from bank_domain.journal import JournalEntry
from bank_domain.transaction import Transaction


class _Step(enum.Enum):
    NOT_ENTERED = "before `async with`"
    LOOKING_UP = "before the account's lock"
    LOCKED = "after the account's lock"
    ENDED = "after the commit or the end of `async with`"


class GroupMemberUnitOfWork:
    """Made by ``SqlStore.posting_unit_of_work()`` on PostgreSQL, one per posting."""

    def __init__(self, committer: GroupCommitter) -> None:
        self._committer = committer
        self.accounts = MemberAccounts(self)
        self.transactions = MemberTransactions(self)
        self.events = MemberEvents(self)
        self.idempotency = MemberIdempotency(self)
        self._step = _Step.NOT_ENTERED
        self._key: IdempotencyKey | None = None
        self._looked_up_at: int | None = None
        self._group: Group | None = None
        self._locked_number: AccountNumber | None = None  # None: no such account
        self._staged_accounts: dict[AccountNumber, Account] = {}
        self._staged_transactions: list[Transaction] = []
        self._staged_entries: list[JournalEntry] = []
        self._staged_events: list[Event] = []
        self._staged_kept: list[KeptRequest] = []

    async def __aenter__(self) -> Self:
        self._expect(_Step.NOT_ENTERED, "enters its `async with` once")
        self._step = _Step.LOOKING_UP
        return self

    async def claim(self, key: IdempotencyKey) -> KeptRequest | None:
        self._expect(_Step.LOOKING_UP, "claims its idempotency key first, and once")
        if self._key is not None or self._looked_up_at is not None:
            raise RuntimeError(
                "A grouped posting claims its idempotency key first, and once "
                "(the order of PostingUnitOfWork)."
            )
        self._key = key
        return await self._committer.get_kept(key)

    async def look_up(self, transaction_id: TransactionId) -> Transaction | None:
        self._expect(_Step.LOOKING_UP, "looks transactions up before it locks its account")
        if self._looked_up_at is None:
            self._looked_up_at = self._committer.begin_lookup()
        return await self._committer.get_transaction(transaction_id)

    async def lock(self, number: AccountNumber) -> Account | None:
        self._expect(_Step.LOOKING_UP, "locks exactly one account, after its look-ups")
        self._step = _Step.LOCKED
        try:
            self._group = await self._committer.join(number, self._key)
        except BaseException:
            self._step = _Step.ENDED
            raise
        account = await self._group.take_turn(number)
        if account is not None:
            self._locked_number = number
        return account

    def stage_account(self, account: Account) -> None:
        self._expect(_Step.LOCKED, "saves the account it locked, after locking it")
        if account.number != self._locked_number:
            raise RuntimeError(
                f"A grouped posting saves only the account it locked, not {account.number}."
            )
        self._staged_accounts[account.number] = copy.copy(account)
        # Taken from the account itself: a copy carries none.
        self._staged_entries.extend(account.take_new_entries())

    def stage_transaction(self, transaction: Transaction) -> None:
        self._expect(_Step.LOCKED, "adds a transaction after locking its account")
        self._staged_transactions.append(copy.copy(transaction))

    def stage_event(self, event: Event) -> None:
        self._expect(_Step.LOCKED, "records its event after locking its account")
        if event.account_number is None or event.account_number != self._locked_number:
            raise RuntimeError(
                "A grouped posting records events only about the account it locked, "
                f"not {event.account_number}."
            )
        self._staged_events.append(event)

    def stage_kept(self, kept: KeptRequest) -> None:
        self._expect(_Step.LOCKED, "keeps its answer after locking its account")
        if kept.key != self._key or self._staged_kept:
            raise RuntimeError(
                "A grouped posting keeps one answer, for the idempotency key it claimed."
            )
        self._staged_kept.append(kept)

    async def commit(self) -> None:
        self._expect(_Step.LOCKED, "commits once, after locking its account")
        group = self._group
        assert group is not None  # the lock step joined one
        self._committer.hand_over(
            group,
            self._staged_transactions,
            list(self._staged_accounts.values()),
            self._staged_entries,
            self._staged_events,
            self._staged_kept,
            self._looked_up_at,
        )
        self._end()
        await group.until_durable()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._end()

    def _expect(self, step: _Step, rule: str) -> None:
        if self._step is not step:
            raise RuntimeError(
                f"A grouped posting {rule} (the order of PostingUnitOfWork); "
                f"this call came {self._step.value}."
            )

    def _end(self) -> None:
        self._step = _Step.ENDED
        self._staged_accounts, self._staged_transactions = {}, []
        self._staged_entries, self._staged_events, self._staged_kept = [], [], []
        if self._looked_up_at is not None:
            self._committer.end_lookup(self._looked_up_at)
            self._looked_up_at = None
        if self._group is not None:
            if self._locked_number is not None:
                self._group.end_turn(self._locked_number)
                self._locked_number = None
            self._group.leave()
            self._group = None


class MemberAccounts:
    """The member's ``accounts``: its one lock, and the save of what it locked."""

    def __init__(self, member: GroupMemberUnitOfWork) -> None:
        self._member = member

    async def get_for_update(self, number: AccountNumber) -> Account | None:
        return await self._member.lock(number)

    async def save(self, account: Account) -> None:
        self._member.stage_account(account)


class MemberTransactions:
    """The member's ``transactions``: look-ups before the lock, additions after it."""

    def __init__(self, member: GroupMemberUnitOfWork) -> None:
        self._member = member

    async def get(self, transaction_id: TransactionId) -> Transaction | None:
        return await self._member.look_up(transaction_id)

    async def add(self, transaction: Transaction) -> None:
        self._member.stage_transaction(transaction)


class MemberEvents:
    """The member's ``events``: the posting's event, recorded after the lock."""

    def __init__(self, member: GroupMemberUnitOfWork) -> None:
        self._member = member

    async def add(self, event: Event) -> None:
        self._member.stage_event(event)


class MemberIdempotency:
    """The member's ``idempotency``: the claim first, the answer kept after the lock."""

    def __init__(self, member: GroupMemberUnitOfWork) -> None:
        self._member = member

    async def claim(self, key: IdempotencyKey) -> KeptRequest | None:
        return await self._member.claim(key)

    async def add(self, kept: KeptRequest) -> None:
        self._member.stage_kept(kept)
