"""The Account entity: its balance moves only through transactions, and its available balance
(balance + overdraft limit - holds) never goes below zero."""

from __future__ import annotations

import copy
import dataclasses
import operator
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Final

from bank_domain.choices import parse_choice
from bank_domain.errors import (
    AccountFrozen,
    AccountNotEmpty,
    AccountNotFound,
    BalanceLimitExceeded,
    InsufficientFunds,
    InvalidValue,
    LedgerInconsistent,
    OverdraftLimitInUse,
    VersionMismatch,
)
from bank_domain.identifiers import AccountNumber, TransactionId
from bank_domain.journal import EMPTY_CHAIN, ChainHead, JournalEntry
from bank_domain.money import MAX_BALANCE, Money
from bank_domain.text import name_text
from bank_domain.transaction import TransactionStatus

if TYPE_CHECKING:
    from bank_domain.transaction import Transaction

MAX_CUSTOMER_NAME_LENGTH: Final = 200


class AccountType(StrEnum):
    SAVINGS = "savings"
    CHECKING = "checking"

    @classmethod
    def parse(cls, value: object) -> AccountType:
        return parse_choice(cls, value, "account_type")


class AccountStatus(StrEnum):
    ACTIVE = "active"
    FROZEN = "frozen"

    @classmethod
    def parse(cls, value: object) -> AccountStatus:
        return parse_choice(cls, value, "status")


def customer_name(value: object) -> str:
    """A customer's name: 1 to 200 characters once surrounding white space is trimmed, in NFC,
    with no control or format character (see ``bank_domain.text.name_text``)."""
    if not isinstance(value, str):
        raise InvalidValue("customer_name", "customer_name is a string.")
    trimmed = name_text("customer_name", value.strip(), MAX_CUSTOMER_NAME_LENGTH)
    if not trimmed:
        raise InvalidValue(
            "customer_name",
            f"customer_name is 1 to {MAX_CUSTOMER_NAME_LENGTH} characters after trimming.",
        )
    return trimmed


@dataclass(eq=False, slots=True)
class Account:
    number: AccountNumber
    customer_name: str
    account_type: AccountType
    status: AccountStatus
    balance: Money
    created_at: datetime
    updated_at: datetime
    version: int = 1
    closed_at: datetime | None = None
    journal: ChainHead = EMPTY_CHAIN
    """Where the account's journal ends; its last entry's balance_after is ``balance``."""
    overdraft_limit: Money = field(default_factory=Money.zero)
    """How far below zero the balance may go."""
    held: Money = field(default_factory=Money.zero)
    """The sum of the account's pending withdrawals (its holds) as stored: those due to expire
    count until their expiry is recorded (``expire_due``), which every change does first."""
    next_hold_expiry: datetime | None = None
    """At or before the earliest expires_at of the account's holds; None when none expires.
    Once it has come, the holds must be read to know which still count (``holds_due``)."""
    _new_entries: list[JournalEntry] = field(default_factory=list, init=False, repr=False)

    def __copy__(self) -> Account:
        # copy.copy's generic way for a slotted dataclass costs three times this, and every
        # unit of work copies what it reads and stages. A copy carries no unwritten entries:
        # the store writes them from the account it was given.
        return Account(*_account_fields_of(self))

    def take_new_entries(self) -> list[JournalEntry]:
        """The journal entries this account made since it was read, oldest first, handed over
        once: a store appends them when it stores the account, in the same unit of work. Every
        movement of the balance makes one, so no store can move a balance without its entry."""
        entries, self._new_entries = self._new_entries, []
        return entries

    @classmethod
    def open(
        cls,
        number: AccountNumber,
        name: str,
        account_type: AccountType,
        now: datetime,
        opening_balance: Money | None = None,
        *,
        opening_deposit: Transaction | None = None,
        overdraft_limit: Money | None = None,
    ) -> Account:
        """A new account at version 1. The ledger opens an account with its ``opening_deposit``
        (if any), accepted as part of opening it: the deposit's effect sets the balance and its
        balance_after, and the version stays 1. ``opening_balance`` sets a balance with no
        transaction behind it: only for a store's own tests."""
        if opening_balance is not None and opening_balance.is_negative():
            raise InvalidValue("initial_deposit", "An initial deposit is never negative.")
        account = cls(
            number=number,
            customer_name=customer_name(name),
            account_type=account_type,
            status=AccountStatus.ACTIVE,
            balance=Money.zero() if opening_balance is None else opening_balance,
            created_at=now,
            updated_at=now,
            overdraft_limit=overdraft_limit or Money.zero(),
        )
        if opening_deposit is not None:
            account._take(opening_deposit, now)
        return account

    @property
    def is_closed(self) -> bool:
        return self.closed_at is not None

    @property
    def available_balance(self) -> Money:
        """What the account may still give: never below zero after any change."""
        return self.balance + self.overdraft_limit - self.held

    def holds_due(self, now: datetime) -> bool:
        """Whether a hold may have expired by ``now``: then the account's pending transactions
        are read and ``expire_due`` runs before anything is judged or shown."""
        return self.next_hold_expiry is not None and self.next_hold_expiry <= now

    def expire_due(self, now: datetime, pending: Iterable[Transaction]) -> list[Transaction]:
        """Expires the account's pending transactions that are due by ``now`` (``pending``:
        every pending one of it), oldest expiry first, and returns them. Each expired hold is
        a change of the account (its version, and updated_at its expires_at); ``held`` and
        ``next_hold_expiry`` are then recomputed from the holds that remain. The same whether
        a read shows it or the store records it."""
        pending = [t for t in pending if t.account_number == self.number]
        due = sorted(
            (t for t in pending if t.is_due(now)),
            key=lambda t: (t.expires_at, t.transaction_id.value),
        )
        for transaction in due:
            was_a_hold = not transaction.hold.is_zero()
            transaction.expire()
            if was_a_hold:
                self._touch(max(self.updated_at, transaction.updated_at))
        self._count_holds(pending)
        return due

    def correct_holds(self, pending: Iterable[Transaction], now: datetime) -> bool:
        """Repairs drift between ``held`` and the account's holds (``pending``: every pending
        transaction of it, none due to expire); whether held was wrong."""
        held = self.held
        self._count_holds([t for t in pending if t.account_number == self.number])
        if self.held == held:
            return False
        self._touch(now)
        return True

    def _count_holds(self, pending: list[Transaction]) -> None:
        holds = [t for t in pending if not t.hold.is_zero()]
        self.held = sum((t.hold for t in holds), Money.zero())
        expiries = [t.expires_at for t in holds if t.expires_at is not None]
        self.next_hold_expiry = min(expiries, default=None)

    def seen_at(self, now: datetime, pending: Iterable[Transaction]) -> Account:
        """This account as every read shows it at ``now``: its due holds expired."""
        seen = copy.copy(self)
        seen.expire_due(now, [copy.copy(t) for t in pending])
        return seen

    def expect_version(self, expected: int | None) -> None:
        if expected is not None and expected != self.version:
            raise VersionMismatch(
                f"Account {self.number} is at version {self.version}, not {expected}."
            )

    def update(
        self,
        now: datetime,
        *,
        name: str | None = None,
        account_type: AccountType | None = None,
        status: AccountStatus | None = None,
        overdraft_limit: Money | None = None,
    ) -> None:
        """Changes the holder's details; a request that changes nothing leaves the version alone.
        A lower overdraft limit than the account uses (its balance less its holds) is refused."""
        changed = False
        if overdraft_limit is not None and overdraft_limit != self.overdraft_limit:
            if (self.balance - self.held + overdraft_limit).is_negative():
                raise OverdraftLimitInUse(
                    f"Account {self.number} uses {self.held - self.balance} of its overdraft "
                    f"(balance {self.balance}, held {self.held}); the limit cannot be "
                    f"{overdraft_limit}."
                )
            self.overdraft_limit, changed = overdraft_limit, True
        if name is not None and (new_name := customer_name(name)) != self.customer_name:
            self.customer_name, changed = new_name, True
        if account_type is not None and account_type != self.account_type:
            self.account_type, changed = account_type, True
        if status is not None and status != self.status:
            self.status, changed = status, True
        if changed:
            self._touch(now)

    def accept(self, transaction: Transaction, now: datetime) -> None:
        """Takes a new transaction of this account: a frozen account takes none (whatever its
        status), and neither its effect nor its hold may take the available balance below
        zero, nor the balance past the limit. Moves the balance by the effect (recording the
        transaction's balance_after) and the held amount by its hold."""
        if self._take(transaction, now):
            self._touch(now)

    def move_balance(self, delta: Money, now: datetime, transaction_id: TransactionId) -> None:
        """Moves the balance by an existing transaction's changed effect: refuses a frozen
        account, a move below the available balance, an overflow. A zero delta changes
        nothing."""
        if self._change(transaction_id, delta, Money.zero(), now):
            self._touch(now)

    def follow(
        self, transaction: Transaction, effect_before: Money, hold_before: Money, now: datetime
    ) -> bool:
        """Follows a change of one of its transactions (amended, deleted), whose effect and
        hold were ``effect_before`` and ``hold_before``: moves the balance and the held amount
        by the differences, under the same rules as ``accept``; a frozen account still lets
        a hold go. Records the transaction's balance_after when its balance moved. Returns
        whether the account is to be stored: it changed (a new version), or only its
        next_hold_expiry moved (a hold's earlier expiry: no change anyone sees)."""
        effect = transaction.effect
        changed = self._change(
            transaction.transaction_id, effect - effect_before, transaction.hold - hold_before, now
        )
        if effect != effect_before:
            transaction.record_balance(self.balance)
        if changed:
            self._touch(now)
        return self._note_expiry(transaction) or changed

    def _change(
        self, transaction_id: TransactionId, effect: Money, hold: Money, now: datetime
    ) -> bool:
        """The one place a transaction changes what the account holds: ``effect`` on the
        balance, ``hold`` on the held amount. A frozen account refuses any move of its balance
        and any new hold; no change may lower the available balance below zero (one that does
        not lower it, such as capturing a hold, is never refused for funds)."""
        if effect.is_zero() and hold.is_zero():
            return False
        if self.status is AccountStatus.FROZEN and (not effect.is_zero() or hold.amount > 0):
            raise AccountFrozen(str(self.number))
        available = self.available_balance
        after = available + effect - hold
        if after.is_negative() and after < available:
            raise InsufficientFunds(
                f"Account {self.number} has {available} available; this change needs "
                f"{hold - effect}."
            )
        held = self.held + hold
        if held.is_negative():
            raise LedgerInconsistent(
                f"Account {self.number}'s holds would add up to {held}; nothing was changed."
            )
        if not effect.is_zero():
            self._move(effect, now, transaction_id)
        self.held = held
        return True

    def _note_expiry(self, transaction: Transaction) -> bool:
        """Keeps next_hold_expiry at or before the expiry of a hold; whether it moved."""
        moment = transaction.expires_at
        if transaction.hold.is_zero() or moment is None:
            return False
        if self.next_hold_expiry is not None and self.next_hold_expiry <= moment:
            return False
        self.next_hold_expiry = moment
        return True

    def _move(self, delta: Money, now: datetime, transaction_id: TransactionId) -> None:
        """The one place a transaction moves the balance, so that every move makes its entry."""
        entry = JournalEntry.next(
            self.journal,
            self.balance,
            account_number=self.number,
            transaction_id=transaction_id,
            amount=delta,
            now=now,
        )
        self.balance = self._balance_moved_by(delta)
        self.journal = entry.head
        self._new_entries.append(entry)

    def _take(self, transaction: Transaction, now: datetime) -> bool:
        """Applies a new transaction's effect; whether the balance moved."""
        if transaction.account_number != self.number:
            raise ValueError(
                f"Transaction {transaction.transaction_id} belongs to account "
                f"{transaction.account_number}, not {self.number}."
            )
        if self.is_closed:
            raise AccountNotFound(str(self.number))
        if self.status is AccountStatus.FROZEN:
            raise AccountFrozen(str(self.number))
        changed = self._change(
            transaction.transaction_id, transaction.effect, transaction.hold, now
        )
        transaction.record_balance(self.balance)
        return self._note_expiry(transaction) or changed

    def _balance_moved_by(self, delta: Money) -> Money:
        new_balance = self.balance + delta
        if new_balance.amount > MAX_BALANCE:
            raise BalanceLimitExceeded(
                f"A balance is at most {MAX_BALANCE}; this change would take it to {new_balance}."
            )
        return new_balance

    def correct_balance(self, recomputed: Money, now: datetime) -> bool:
        """Repairs drift between the stored balance and the sum of the account's journal; a sum
        that no balance may be (one that leaves less than nothing available, or above the
        limit) is reported, never stored. No entry is made: the journal did not move, the row
        had drifted from it."""
        available = recomputed + self.overdraft_limit - self.held
        if available.is_negative() or recomputed.amount > MAX_BALANCE:
            raise LedgerInconsistent(
                f"Account {self.number}'s transactions add up to {recomputed}, which no balance "
                "may be; the stored balance is left as it is."
            )
        if recomputed == self.balance:
            return False
        self.balance = recomputed
        self._touch(now)
        return True

    def close(self, now: datetime, pending: Iterable[Transaction] = ()) -> None:
        """Closes the account: only with a balance of zero and no pending transaction (of
        ``pending``, every pending one of it, those due to expire already expired)."""
        if not self.balance.is_zero():
            raise AccountNotEmpty(
                f"Account {self.number} holds {self.balance}; only an empty account closes."
            )
        if any(t.status is TransactionStatus.PENDING and not t.is_deleted for t in pending):
            raise AccountNotEmpty(
                f"Account {self.number} has pending transactions; only a settled account closes."
            )
        self.closed_at = now
        self._touch(now)

    def _touch(self, now: datetime) -> None:
        self.version += 1
        self.updated_at = now


_ACCOUNT_FIELDS: Final = tuple(
    account_field.name for account_field in dataclasses.fields(Account) if account_field.init
)
"""In the order of Account's constructor."""
_account_fields_of: Final = operator.attrgetter(*_ACCOUNT_FIELDS)
"""An account's constructor's values in order, read in one call."""
