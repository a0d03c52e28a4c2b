"""What the unit tests share: unique references, a clock we control, short ways to drive the ledger.

Every test makes its own ids with ``random_*`` (as cosmicpython's ``random_refs``), so no test
depends on another's data or needs cleaning up after.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TypedDict, Unpack

from bank_domain import (
    Account,
    Ledger,
    ListTransactionsQuery,
    OpenAccountCommand,
    PostedTransaction,
    PostTransactionCommand,
    Transaction,
    TransactionStatus,
    TransactionType,
)
from bank_domain.pagination import CursorCodec

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
CURSOR_SECRET = b"the unit tests' cursor secret"
"""The ``ledger`` fixture's: a test can sign a cursor as that ledger would (``encode_cursor``)."""
encode_cursor = CursorCodec(CURSOR_SECRET).encode


def random_suffix() -> str:
    return uuid.uuid4().hex[:8]


def random_account_number() -> str:
    return f"{secrets.randbelow(10**10):010d}"


def random_tid(prefix: str = "tx") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def random_name(prefix: str = "Customer") -> str:
    return f"{prefix} {random_suffix()}"


class SteppingClock:
    """Answers ``start``, then ``start + step``, ``start + 2 * step``... one tick per call.

    ``step=timedelta(0)`` is a clock that stands still; ``advance`` jumps ahead by hand.
    """

    def __init__(self, start: datetime = T0, step: timedelta = timedelta(seconds=1)) -> None:
        self.now = start
        self.step = step

    def __call__(self) -> datetime:
        current = self.now
        self.now += self.step
        return current

    def advance(self, delta: timedelta) -> None:
        self.now += delta


class TransactionFilters(TypedDict, total=False):
    """The filters of a ``ListTransactionsQuery``."""

    transaction_type: str | None
    status: str | None
    since: datetime | None
    until: datetime | None


def number_of(account: Account) -> str:
    return str(account.number)


async def open_account(
    ledger: Ledger,
    deposit: Decimal | int | str = 0,
    *,
    name: str | None = None,
    account_type: str = "checking",
    number: str | None = None,
) -> Account:
    return await ledger.open_account(
        OpenAccountCommand(
            customer_name=name if name is not None else random_name(),
            account_type=account_type,
            account_number=number,
            initial_deposit=deposit,
        )
    )


async def post(
    ledger: Ledger,
    account_number: str,
    amount: Decimal | int | str,
    transaction_type: str = "deposit",
    *,
    status: str = "success",
    transaction_id: str | None = None,
    description: str | None = None,
) -> PostedTransaction:
    return await ledger.post_transaction(
        PostTransactionCommand(
            account_number=account_number,
            amount=amount,
            transaction_type=transaction_type,
            transaction_id=transaction_id,
            description=description,
            status=status,
        )
    )


async def balance_of(ledger: Ledger, account_number: str) -> Decimal:
    return (await ledger.get_account(account_number)).balance.amount


async def every_transaction(
    ledger: Ledger,
    account_number: str,
    *,
    limit: int = 50,
    cursor: str | None = None,
    **filters: Unpack[TransactionFilters],
) -> list[Transaction]:
    """Walks every page of an account's transactions (from ``cursor`` on), refusing a cursor
    that repeats."""
    items: list[Transaction] = []
    seen_cursors: set[str] = set()
    while True:
        page = await ledger.list_transactions(
            ListTransactionsQuery(account_number, limit=limit, cursor=cursor, **filters)
        )
        assert len(page.items) <= limit
        items.extend(page.items)
        if page.next_cursor is None:
            return items
        assert page.items, "a page with a next_cursor is never empty"
        assert page.next_cursor not in seen_cursors, "the cursor went round in a circle"
        seen_cursors.add(page.next_cursor)
        cursor = page.next_cursor


def sum_of_success(transactions: Iterable[Transaction]) -> Decimal:
    """Deposits minus withdrawals over the success transactions that are not deleted."""
    total = Decimal("0.00")
    for t in transactions:
        if t.status is TransactionStatus.SUCCESS and t.deleted_at is None:
            total += (
                t.amount.amount
                if t.transaction_type is TransactionType.DEPOSIT
                else -t.amount.amount
            )
    return total
