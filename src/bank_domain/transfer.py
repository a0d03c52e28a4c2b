"""The Transfer entity: money moved from one account to another, both legs or neither."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bank_domain.account import Account
from bank_domain.errors import InvalidValue
from bank_domain.identifiers import AccountNumber, TransactionId, TransferId
from bank_domain.money import Money
from bank_domain.transaction import Transaction, TransactionStatus, TransactionType


def require_two_accounts(from_account: AccountNumber, to_account: AccountNumber) -> None:
    """A transfer moves money between two different accounts."""
    if from_account == to_account:
        raise InvalidValue("to_account", "A transfer moves money between two different accounts.")


class TransferStatus(StrEnum):
    SUCCESS = "success"
    REVERSED = "reversed"


@dataclass(frozen=True, slots=True)
class Transfer:
    """A ``success`` withdrawal on ``from_account`` (the debit leg) and a ``success`` deposit on
    ``to_account`` (the credit leg), each carrying the transfer's id, posted together and
    reversed together. A transfer is its legs: both ``success``, or both ``cancelled`` once it
    is reversed (a leg never changes on its own: ``Transaction.amend`` and ``delete`` refuse
    one). The stores keep the legs and nothing else of a transfer."""

    transfer_id: TransferId
    debit: Transaction
    credit: Transaction

    @classmethod
    def new(
        cls,
        transfer_id: TransferId,
        from_account: AccountNumber,
        to_account: AccountNumber,
        amount: Money,
        description: str | None,
        now: datetime,
    ) -> Transfer:
        """A transfer made now, its legs not yet accepted by their accounts (``post``); each
        leg gets a generated transaction id."""
        require_two_accounts(from_account, to_account)

        def leg(number: AccountNumber, kind: TransactionType) -> Transaction:
            return Transaction.new(
                TransactionId.generate(),
                number,
                amount,
                kind,
                description,
                TransactionStatus.SUCCESS,
                now,
                transfer_id=transfer_id,
            )

        return cls(
            transfer_id,
            leg(from_account, TransactionType.WITHDRAWAL),
            leg(to_account, TransactionType.DEPOSIT),
        )

    @classmethod
    def of_legs(cls, transfer_id: TransferId, legs: Iterable[Transaction]) -> Transfer | None:
        """The transfer its stored legs make; None when no transaction is a leg of it."""
        by_type = {leg.transaction_type: leg for leg in legs if leg.transfer_id == transfer_id}
        if not by_type:
            return None
        debit = by_type.get(TransactionType.WITHDRAWAL)
        credit = by_type.get(TransactionType.DEPOSIT)
        if debit is None or credit is None:
            raise ValueError(f"Transfer {transfer_id} is stored with one leg only.")
        return cls(transfer_id, debit, credit)

    @property
    def from_account(self) -> AccountNumber:
        return self.debit.account_number

    @property
    def to_account(self) -> AccountNumber:
        return self.credit.account_number

    @property
    def amount(self) -> Money:
        return self.debit.amount

    @property
    def description(self) -> str | None:
        return self.debit.description

    @property
    def timestamp(self) -> datetime:
        return self.debit.timestamp

    @property
    def status(self) -> TransferStatus:
        if self.debit.status is TransactionStatus.CANCELLED:
            return TransferStatus.REVERSED
        return TransferStatus.SUCCESS

    @property
    def legs(self) -> tuple[Transaction, Transaction]:
        return self.debit, self.credit

    @property
    def account_numbers(self) -> tuple[AccountNumber, AccountNumber]:
        return self.from_account, self.to_account

    def same_request(
        self,
        from_account: AccountNumber,
        to_account: AccountNumber,
        amount: Money,
        description: str | None,
    ) -> bool:
        """Whether a repeated transfer with this id asks for exactly what is stored (a retry)."""
        return (
            self.from_account == from_account
            and self.to_account == to_account
            and self.amount == amount
            and self.description == description
        )

    def post(self, now: datetime, from_account: Account, to_account: Account) -> None:
        """Each account accepts its leg, the debit first: a frozen account, or a from_account
        that cannot give the amount, refuses the transfer (nothing is stored unless both
        accept, since both are stored in one unit of work)."""
        from_account.accept(self.debit, now)
        to_account.accept(self.credit, now)

    def reverse(self, now: datetime, from_account: Account, to_account: Account) -> None:
        """Gives the money back: to_account returns the amount (refused when it can no
        longer), from_account takes it back, and both legs become ``cancelled``."""
        if self.status is TransferStatus.REVERSED:
            raise ValueError(f"Transfer {self.transfer_id} is reversed already.")
        to_account.move_balance(-self.amount, now, self.credit.transaction_id)
        from_account.move_balance(self.amount, now, self.debit.transaction_id)
        self.debit.reverse_leg(now)
        self.credit.reverse_leg(now)
