"""The Account entity: its balance moves only through transactions, never below zero."""

from __future__ import annotations

import dataclasses
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
    VersionMismatch,
)
from bank_domain.identifiers import AccountNumber, TransactionId
from bank_domain.journal import EMPTY_CHAIN, ChainHead, JournalEntry
from bank_domain.money import MAX_BALANCE, Money
from bank_domain.text import name_text

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
    _new_entries: list[JournalEntry] = field(default_factory=list, init=False, repr=False)

    def __copy__(self) -> Account:
        # copy.copy's generic way for a slotted dataclass costs three times this, and every
        # unit of work copies what it reads and stages. A copy carries no unwritten entries:
        # the store writes them from the account it was given.
        return Account(*[getattr(self, name) for name in _ACCOUNT_FIELDS])

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
        )
        if opening_deposit is not None:
            account._take(opening_deposit, now)
        return account

    @property
    def is_closed(self) -> bool:
        return self.closed_at is not None

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
    ) -> None:
        """Changes the holder's details; a request that changes nothing leaves the version alone."""
        changed = False
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
        status), and its effect may neither overdraw the account nor pass the limit. Moves the
        balance by the effect and records the transaction's balance_after."""
        if self._take(transaction, now):
            self._touch(now)

    def move_balance(self, delta: Money, now: datetime, transaction_id: TransactionId) -> None:
        """Moves the balance by an existing transaction's changed effect: refuses a frozen
        account, an overdraft, an overflow. A zero delta changes nothing."""
        if delta.is_zero():
            return
        self._move(delta, now, transaction_id)
        self._touch(now)

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
        effect = transaction.effect
        if not effect.is_zero():
            self._move(effect, now, transaction.transaction_id)
        transaction.record_balance(self.balance)
        return not effect.is_zero()

    def _balance_moved_by(self, delta: Money) -> Money:
        if self.status is AccountStatus.FROZEN:
            raise AccountFrozen(str(self.number))
        new_balance = self.balance + delta
        if new_balance.is_negative():
            raise InsufficientFunds(
                f"Account {self.number} holds {self.balance}; taking {-delta} would overdraw it."
            )
        if new_balance.amount > MAX_BALANCE:
            raise BalanceLimitExceeded(
                f"A balance is at most {MAX_BALANCE}; this change would take it to {new_balance}."
            )
        return new_balance

    def correct_balance(self, recomputed: Money, now: datetime) -> bool:
        """Repairs drift between the stored balance and the sum of the account's journal; a sum
        that no balance may be (below zero, above the limit) is reported, never stored. No entry
        is made: the journal did not move, the row had drifted from it."""
        if recomputed.is_negative() or recomputed.amount > MAX_BALANCE:
            raise LedgerInconsistent(
                f"Account {self.number}'s transactions add up to {recomputed}, which no balance "
                "may be; the stored balance is left as it is."
            )
        if recomputed == self.balance:
            return False
        self.balance = recomputed
        self._touch(now)
        return True

    def close(self, now: datetime) -> None:
        if not self.balance.is_zero():
            raise AccountNotEmpty(
                f"Account {self.number} holds {self.balance}; only an empty account closes."
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
