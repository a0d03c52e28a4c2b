"""Property-based: random sequences of ledger operations keep the books straight.

A ``RuleBasedStateMachine`` drives the ledger (opens, postings of every type and status, retries,
amendments, deletions, freezes, overdraft limits, closes, holds that expire as the clock moves
on, the sweeper) and keeps a small model of what each operation must do. After every step it
checks, for every account ever opened:

* the balance equals the sum of its success, non-deleted deposits minus withdrawals, read back
  through ``list_transactions`` (open accounts) or the store (closed ones); the available
  balance (balance + overdraft limit - the pending withdrawals not expired) is never negative;
* ``recalculate_balance`` finds nothing to correct;
* balance, held amount, version and the set of listed transactions match the model, and the
  store's account, seen at the clock's time, is what the model says (whether or not the
  expiries that came were recorded yet).

Each operation's outcome (its success or the exact error) must match the model's prediction too.
The async use cases run from the sync rules on one ``asyncio.Runner`` per machine.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)

from bank_adapters.memory import InMemoryStore
from bank_domain import (
    UNSET,
    AccountFrozen,
    AccountNotEmpty,
    AccountNotFound,
    AccountNumber,
    AmendTransactionCommand,
    CloseAccountCommand,
    DeleteTransactionCommand,
    DuplicateTransactionId,
    InsufficientFunds,
    InvalidStatusChange,
    InvalidValue,
    Ledger,
    LedgerError,
    Money,
    OpenAccountCommand,
    OverdraftLimitInUse,
    PostTransactionCommand,
    TransactionNotFound,
    UpdateAccountCommand,
)

from .support import SteppingClock, every_transaction, random_tid

ALLOWED_STATUS_CHANGES = {
    "pending": {"success", "failed", "cancelled"},
    "success": {"failed", "cancelled"},
    "failed": set(),
    "cancelled": set(),
}

cents = st.integers(min_value=1, max_value=20_000)
kinds = st.sampled_from(["deposit", "withdrawal"])
statuses = st.sampled_from(["pending", "success", "failed", "cancelled"])
descriptions = st.sampled_from([None, "rent", "coffee", "Initial deposit"])
expiries = st.none() | st.integers(min_value=1, max_value=120)
"""Minutes ahead of the clock that a pending transaction expires, or never."""
limits = st.sampled_from([0, 0, 500, 10_000, 30_000])


def money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


@dataclass
class AccountModel:
    balance: int = 0
    version: int = 1
    frozen: bool = False
    closed: bool = False
    limit: int = 0


@dataclass
class TransactionModel:
    account: str
    cents: int
    kind: str
    status: str
    description: str | None
    deleted: bool = False
    expires_at: datetime | None = None

    def effect(self) -> int:
        if self.deleted or self.status != "success":
            return 0
        return self.cents if self.kind == "deposit" else -self.cents

    def hold(self) -> int:
        if self.deleted or self.status != "pending" or self.kind != "withdrawal":
            return 0
        return self.cents


class LedgerMachine(RuleBasedStateMachine):
    accounts = Bundle("accounts")
    transactions = Bundle("transactions")

    def __init__(self) -> None:
        super().__init__()
        self.runner = asyncio.Runner()
        self.store = InMemoryStore()
        self.clock = SteppingClock(step=timedelta(0))
        self.ledger = Ledger(self.store.unit_of_work, self.clock)
        self.model_accounts: dict[str, AccountModel] = {}
        self.model_transactions: dict[str, TransactionModel] = {}
        self.touched: set[str] = set()

    def teardown(self) -> None:
        self.runner.close()

    def held(self, number: str) -> int:
        return sum(t.hold() for t in self.model_transactions.values() if t.account == number)

    def available(self, number: str) -> int:
        account = self.model_accounts[number]
        return account.balance + account.limit - self.held(number)

    def refusal(self, number: str, effect: int, hold: int) -> type[LedgerError] | None:
        """What the account refuses of a change that moves its balance by ``effect`` and its
        held amount by ``hold`` (the rule of ``Account._change``)."""
        account = self.model_accounts[number]
        if not effect and not hold:
            return None
        if account.frozen and (effect or hold > 0):
            return AccountFrozen
        available = self.available(number)
        after = available + effect - hold
        if after < 0 and after < available:
            return InsufficientFunds
        return None

    def run(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        return self.runner.run(coroutine)

    def outcome(self, coroutine: Coroutine[Any, Any, Any]) -> tuple[Any, LedgerError | None]:
        try:
            return self.run(coroutine), None
        except LedgerError as error:
            return None, error

    @staticmethod
    def expect(error: LedgerError | None, expected: type[LedgerError] | None) -> None:
        event(f"outcome: {'success' if expected is None else expected.__name__}")
        if expected is None:
            assert error is None, f"expected success, got {error!r}"
        else:
            assert isinstance(error, expected), f"expected {expected.__name__}, got {error!r}"

    # -- rules ------------------------------------------------------------------------------

    @initialize(target=accounts, deposit=st.one_of(st.just(0), cents))
    def open_first_account(self, deposit: int) -> str:
        return self.opened_account(deposit)

    @rule(target=accounts, deposit=st.one_of(st.just(0), cents))
    def open_account(self, deposit: int) -> str:
        return self.opened_account(deposit)

    def opened_account(self, deposit: int) -> str:
        """Opens an account with ``deposit`` cents; both rules that open one do it here."""
        account = self.run(
            self.ledger.open_account(
                OpenAccountCommand("Prop Tester", "savings", initial_deposit=money(deposit))
            )
        )
        number = str(account.number)
        assert number not in self.model_accounts
        self.touched.add(number)
        self.model_accounts[number] = AccountModel(balance=deposit)
        if deposit:
            [opening] = self.run(every_transaction(self.ledger, number))
            self.model_transactions[str(opening.transaction_id)] = TransactionModel(
                number, deposit, "deposit", "success", "Initial deposit"
            )
        return number

    @rule(
        target=transactions,
        number=accounts,
        amount=cents,
        kind=kinds,
        status=statuses,
        description=descriptions,
        expires_in=expiries,
    )
    def post(
        self,
        number: str,
        amount: int,
        kind: str,
        status: str,
        description: str | None,
        expires_in: int | None = None,
    ) -> Any:
        self.touched.add(number)
        account = self.model_accounts[number]
        expires_at = (
            None
            if expires_in is None or status != "pending"
            else self.clock.now + timedelta(minutes=expires_in)
        )
        proposed = TransactionModel(
            number, amount, kind, status, description, expires_at=expires_at
        )
        expected: type[LedgerError] | None = None
        if account.closed:
            expected = AccountNotFound
        elif account.frozen:
            expected = AccountFrozen
        else:
            expected = self.refusal(number, proposed.effect(), proposed.hold())
        tid = random_tid("prop")
        posting, error = self.outcome(
            self.ledger.post_transaction(
                PostTransactionCommand(
                    number,
                    money(amount),
                    kind,
                    tid,
                    description=description,
                    status=status,
                    expires_at=expires_at,
                )
            )
        )
        self.expect(error, expected)
        if error is not None:
            return multiple()
        assert posting.created
        assert posting.transaction.balance_after == (
            Money.from_cents(account.balance + proposed.effect()) if proposed.effect() else None
        )
        if proposed.effect() or proposed.hold():
            account.balance += proposed.effect()
            account.version += 1
        self.model_transactions[tid] = proposed
        return tid

    @rule(tid=transactions, change_amount=st.booleans())
    def retry(self, tid: str, change_amount: bool) -> None:
        t = self.model_transactions[tid]
        self.touched.add(t.account)
        amount = t.cents + 1 if change_amount else t.cents
        posting, error = self.outcome(
            self.ledger.post_transaction(
                PostTransactionCommand(
                    t.account,
                    money(amount),
                    t.kind,
                    tid,
                    description=t.description,
                    status=t.status,
                    # Only an expiry still ahead can be sent again (a past one is a 422).
                    expires_at=t.expires_at
                    if t.status == "pending"
                    and t.expires_at is not None
                    and t.expires_at > self.clock.now
                    else None,
                )
            )
        )
        expired = t.expires_at is not None and t.expires_at <= self.clock.now
        self.expect(
            error, DuplicateTransactionId if t.deleted or change_amount or expired else None
        )
        if error is None:
            assert posting.created is False
            assert str(posting.transaction.transaction_id) == tid

    @rule(
        tid=transactions,
        amount=st.none() | cents,
        kind=st.none() | kinds,
        status=st.none() | statuses,
        description=st.just(UNSET) | descriptions,
    )
    def amend(
        self,
        tid: str,
        amount: int | None,
        kind: str | None,
        status: str | None,
        description: Any,
    ) -> None:
        t = self.model_transactions[tid]
        self.touched.add(t.account)
        account = self.model_accounts[t.account]
        after = TransactionModel(
            t.account,
            t.cents if amount is None else amount,
            t.kind if kind is None else kind,
            t.status if status is None else status,
            t.description if description is UNSET else description,
        )
        changed = (after.cents, after.kind, after.status, after.description) != (
            t.cents,
            t.kind,
            t.status,
            t.description,
        )
        delta = after.effect() - t.effect()
        hold_delta = after.hold() - t.hold()
        expected: type[LedgerError] | None = None
        if t.deleted:
            expected = TransactionNotFound
        elif account.closed:
            expected = AccountNotFound
        elif (
            status is not None
            and status != t.status
            and (status not in ALLOWED_STATUS_CHANGES[t.status])
        ):
            expected = InvalidStatusChange
        elif changed:
            expected = self.refusal(t.account, delta, hold_delta)
        _, error = self.outcome(
            self.ledger.amend_transaction(
                AmendTransactionCommand(
                    tid,
                    amount=None if amount is None else money(amount),
                    transaction_type=kind,
                    description=description,
                    status=status,
                )
            )
        )
        self.expect(error, expected)
        if error is None and changed:
            if t.status == "pending" and after.status != "pending":
                t.expires_at = None  # resolved by a request: it no longer expires
            t.cents, t.kind, t.status, t.description = (
                after.cents,
                after.kind,
                after.status,
                after.description,
            )
            if delta or hold_delta:
                account.balance += delta
                account.version += 1

    @rule(tid=transactions)
    def delete(self, tid: str) -> None:
        t = self.model_transactions[tid]
        self.touched.add(t.account)
        account = self.model_accounts[t.account]
        expected: type[LedgerError] | None = None
        if t.deleted:
            expected = TransactionNotFound
        elif account.closed:
            expected = AccountNotFound
        else:
            expected = self.refusal(t.account, -t.effect(), -t.hold())
        _, error = self.outcome(self.ledger.delete_transaction(DeleteTransactionCommand(tid)))
        self.expect(error, expected)
        if error is None:
            if t.effect() or t.hold():
                account.balance -= t.effect()
                account.version += 1
            t.deleted = True

    @rule(number=accounts, frozen=st.booleans())
    def set_frozen(self, number: str, frozen: bool) -> None:
        self.touched.add(number)
        account = self.model_accounts[number]
        _, error = self.outcome(
            self.ledger.update_account(
                UpdateAccountCommand(number, status="frozen" if frozen else "active")
            )
        )
        self.expect(error, AccountNotFound if account.closed else None)
        if error is None and account.frozen != frozen:
            account.frozen = frozen
            account.version += 1

    @rule(number=accounts, drain_first=st.booleans())
    def close(self, number: str, drain_first: bool) -> None:
        self.touched.add(number)
        account = self.model_accounts[number]
        if drain_first and not account.closed and not account.frozen:
            if 0 < account.balance <= self.available(number):
                assert self.post(number, account.balance, "withdrawal", "success", "drain")
            elif account.balance < 0:
                assert self.post(number, -account.balance, "deposit", "success", "refill")
        pending = any(
            t.status == "pending" and not t.deleted
            for t in self.model_transactions.values()
            if t.account == number
        )
        expected: type[LedgerError] | None = None
        if account.closed:
            expected = AccountNotFound
        elif account.balance or pending:
            expected = AccountNotEmpty
        _, error = self.outcome(self.ledger.close_account(CloseAccountCommand(number)))
        self.expect(error, expected)
        if error is None:
            account.closed = True
            account.version += 1

    @rule(number=accounts, limit=limits)
    def set_limit(self, number: str, limit: int) -> None:
        self.touched.add(number)
        account = self.model_accounts[number]
        expected: type[LedgerError] | None = None
        if account.closed:
            expected = AccountNotFound
        elif limit != account.limit and account.balance - self.held(number) + limit < 0:
            expected = OverdraftLimitInUse
        _, error = self.outcome(
            self.ledger.update_account(UpdateAccountCommand(number, overdraft_limit=money(limit)))
        )
        self.expect(error, expected)
        if error is None and limit != account.limit:
            account.limit = limit
            account.version += 1

    @rule(tid=transactions, expires_in=expiries)
    def move_expiry(self, tid: str, expires_in: int | None) -> None:
        """A pending transaction's expiry is set, moved or removed; it changes no account."""
        t = self.model_transactions[tid]
        self.touched.add(t.account)
        expires_at = None if expires_in is None else self.clock.now + timedelta(minutes=expires_in)
        expected: type[LedgerError] | None = None
        if t.deleted:
            expected = TransactionNotFound
        elif self.model_accounts[t.account].closed:
            expected = AccountNotFound
        elif t.status != "pending" and expires_at is not None:
            expected = InvalidValue
        _, error = self.outcome(
            self.ledger.amend_transaction(AmendTransactionCommand(tid, expires_at=expires_at))
        )
        self.expect(error, expected)
        if error is None and t.status == "pending":
            t.expires_at = expires_at

    @rule(minutes=st.integers(min_value=1, max_value=90))
    def let_time_pass(self, minutes: int) -> None:
        """Pending transactions whose expires_at comes are cancelled from that instant, each
        hold a change of its account, whether or not anything records it."""
        self.clock.advance(timedelta(minutes=minutes))
        for t in self.model_transactions.values():
            due = t.expires_at is not None and t.expires_at <= self.clock.now
            if due and t.status == "pending" and not t.deleted:
                if t.kind == "withdrawal":
                    self.model_accounts[t.account].version += 1
                t.status = "cancelled"
                self.touched.add(t.account)

    @rule()
    def sweep(self) -> None:
        """The sweeper records what the reads already showed; the invariants check that
        nothing they see moved."""
        self.run(self.ledger.expire_holds())

    @precondition(lambda self: self.model_transactions)
    @rule(data=st.data())
    def read_back_a_transaction(self, data: st.DataObject) -> None:
        tid = data.draw(st.sampled_from(sorted(self.model_transactions)))
        t = self.model_transactions[tid]
        found, error = self.outcome(self.ledger.get_transaction(tid))
        # Transactions stay readable after their account closes; only deletion hides them.
        self.expect(error, TransactionNotFound if t.deleted else None)
        if found is not None:
            assert found.amount == Money.from_cents(t.cents)
            assert found.transaction_type.value == t.kind
            assert found.status.value == t.status
            assert found.description == t.description
            assert found.expires_at == t.expires_at

    # -- invariants ---------------------------------------------------------------------------

    @invariant()
    def the_store_balances_every_account(self) -> None:
        """Every account, closed ones included: balance == its success, non-deleted deposits
        minus withdrawals, its available balance never below zero, as the model predicts: the
        stored account as a read sees it now (its expiries recorded or not)."""
        for number, model in self.model_accounts.items():
            stored = self.store.accounts[AccountNumber(number)]
            pending = [
                t
                for t in self.store.transactions.values()
                if t.account_number == stored.number and t.status.value == "pending"
            ]
            seen = stored.seen_at(self.clock.now, pending)
            assert not seen.available_balance.is_negative()
            assert not stored.available_balance.is_negative()
            assert seen.held.cents == self.held(number)
            assert seen.overdraft_limit.cents == model.limit
            effects = sum(
                t.effect.cents
                for t in self.store.transactions.values()
                if t.account_number == stored.number
            )
            truth = sum(t.effect() for t in self.model_transactions.values() if t.account == number)
            assert stored.balance.cents == effects == truth == model.balance
            assert stored.balance.cents >= -model.limit
            assert seen.version == model.version
            assert stored.is_closed == model.closed

    @invariant()
    def the_ledger_agrees_on_what_changed(self) -> None:
        """The accounts the last step touched, read back through the use cases."""
        self.run(self._check_through_the_ledger(sorted(self.touched)))
        self.touched.clear()

    async def _check_through_the_ledger(self, numbers: list[str]) -> None:
        for number in numbers:
            model = self.model_accounts[number]
            if model.closed:
                try:
                    await self.ledger.get_account(number)
                except AccountNotFound:
                    continue
                raise AssertionError(f"closed account {number} still answers")

            account = await self.ledger.get_account(number)
            listed = await every_transaction(self.ledger, number, limit=7)
            listed_sum = sum(
                t.amount.cents * (1 if t.transaction_type == "deposit" else -1)
                for t in listed
                if t.status == "success"
            )
            assert account.balance.cents == listed_sum == model.balance
            assert not account.available_balance.is_negative()
            assert account.available_balance.cents == self.available(number)
            assert account.version == model.version
            assert (account.status.value == "frozen") == model.frozen
            assert {str(t.transaction_id) for t in listed} == {
                tid
                for tid, t in self.model_transactions.items()
                if t.account == number and not t.deleted
            }
            timeline = [(t.timestamp, t.transaction_id) for t in listed]
            assert timeline == sorted(timeline)

            recalculation = await self.ledger.recalculate_balance(number)
            assert recalculation.corrected is False
            assert recalculation.balance == recalculation.previous_balance == account.balance


LedgerMachine.TestCase.settings = settings(
    max_examples=75,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestLedgerProperties = LedgerMachine.TestCase
