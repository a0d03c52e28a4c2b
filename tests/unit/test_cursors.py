"""Cursors are signed (HMAC-SHA256 under the server's secret): only cursors the ledger made are
read at all, and what is read is guarded anyway (a timestamp no store can hold is a 422, not an
error of the store)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import pytest

from bank_adapters.memory import InMemoryStore
from bank_domain import (
    InvalidValue,
    Ledger,
    ListAccountsQuery,
    ListTransactionsQuery,
)
from bank_domain.pagination import CursorCodec

from .support import CURSOR_SECRET, SteppingClock, number_of, open_account, post

OUT_OF_RANGE = [
    pytest.param("0001-01-01T00:00:00+01:00", id="before-the-first-utc-instant"),
    pytest.param("9999-12-31T23:59:59-01:00", id="after-the-last-utc-instant"),
]


def unsigned(position: list[str]) -> str:
    """A cursor as this ledger made them before they were signed: easy to forge."""
    raw = json.dumps(position, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


async def _account_with_pages(ledger: Ledger) -> str:
    number = number_of(await open_account(ledger))
    for _ in range(3):
        await post(ledger, number, "1")
    return number


async def _transactions_cursor(ledger: Ledger, number: str) -> str:
    page = await ledger.list_transactions(ListTransactionsQuery(number, limit=1))
    assert page.next_cursor is not None
    return page.next_cursor


@pytest.mark.parametrize("timestamp", OUT_OF_RANGE)
async def test_a_forged_cursor_with_an_out_of_range_timestamp_is_refused(
    ledger: Ledger, timestamp: str
) -> None:
    number = await _account_with_pages(ledger)
    with pytest.raises(InvalidValue) as caught:
        await ledger.list_transactions(
            ListTransactionsQuery(number, cursor=unsigned([timestamp, "abcdefgh"]))
        )
    assert caught.value.field == "cursor"


@pytest.mark.parametrize("timestamp", OUT_OF_RANGE)
async def test_a_signed_cursor_with_an_out_of_range_timestamp_is_refused_too(
    ledger: Ledger, timestamp: str
) -> None:
    number = await _account_with_pages(ledger)
    cursor = CursorCodec(CURSOR_SECRET).encode([timestamp, "abcdefgh"])
    with pytest.raises(InvalidValue) as caught:
        await ledger.list_transactions(ListTransactionsQuery(number, cursor=cursor))
    assert caught.value.field == "cursor"


async def test_a_well_formed_cursor_the_ledger_did_not_sign_is_refused(ledger: Ledger) -> None:
    number = await _account_with_pages(ledger)
    first = (await ledger.list_transactions(ListTransactionsQuery(number, limit=1))).items[0]
    forged = unsigned([first.timestamp.isoformat(), first.transaction_id.value])
    with pytest.raises(InvalidValue):
        await ledger.list_transactions(ListTransactionsQuery(number, cursor=forged))
    await open_account(ledger)
    with pytest.raises(InvalidValue):
        await ledger.list_accounts(ListAccountsQuery(cursor=unsigned(["0000000000"])))


Tamper = Callable[[str], str]


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda c: c.split(".")[0], id="signature-cut-off"),
        pytest.param(lambda c: c + "A", id="signature-lengthened"),
        pytest.param(lambda c: c[:-1] + ("B" if c[-1] == "A" else "A"), id="signature-changed"),
        pytest.param(lambda c: ("B" if c[0] == "A" else "A") + c[1:], id="position-changed"),
        pytest.param(lambda c: c.replace(".", ".."), id="two-separators"),
        pytest.param(lambda c: c.upper(), id="upper-cased"),
    ],
)
async def test_a_tampered_cursor_is_refused(ledger: Ledger, tamper: Tamper) -> None:
    number = await _account_with_pages(ledger)
    cursor = await _transactions_cursor(ledger, number)
    with pytest.raises(InvalidValue) as caught:
        await ledger.list_transactions(ListTransactionsQuery(number, cursor=tamper(cursor)))
    assert caught.value.field == "cursor"


@pytest.mark.parametrize(
    "position",
    [
        pytest.param(["12345"], id="short-number"),
        pytest.param(["0000000001", "x"], id="two-parts"),
        pytest.param(["not-a-timestamp", "abcdefgh"], id="not-a-timestamp"),
        pytest.param(["2024-03-01T09:00:00", "abcdefgh"], id="naive-timestamp"),
        pytest.param(["2024-03-01T09:00:00+00:00", "a b"], id="impossible-id"),
    ],
)
async def test_a_signed_cursor_with_a_position_the_ledger_never_makes_is_refused(
    ledger: Ledger, position: list[str]
) -> None:
    number = await _account_with_pages(ledger)
    signed = CursorCodec(CURSOR_SECRET).encode(position)
    with pytest.raises(InvalidValue):
        await ledger.list_transactions(ListTransactionsQuery(number, cursor=signed))
    with pytest.raises(InvalidValue):
        await ledger.list_accounts(ListAccountsQuery(cursor=signed))


async def test_ledgers_sharing_a_secret_read_each_other_s_cursors(store: InMemoryStore) -> None:
    # As two server processes (workers) over one database do.
    one = Ledger(store.unit_of_work, SteppingClock(), cursor_secret="shared")
    other = Ledger(store.unit_of_work, SteppingClock(), cursor_secret=b"shared")
    number = await _account_with_pages(one)
    cursor = await _transactions_cursor(one, number)
    page = await other.list_transactions(ListTransactionsQuery(number, limit=1, cursor=cursor))
    assert len(page.items) == 1


@pytest.mark.parametrize("secret", [None, "another secret"])
async def test_a_ledger_with_another_secret_refuses_them(
    store: InMemoryStore, secret: str | None
) -> None:
    one = Ledger(store.unit_of_work, SteppingClock(), cursor_secret="shared")
    other = Ledger(store.unit_of_work, SteppingClock(), cursor_secret=secret)
    number = await _account_with_pages(one)
    cursor = await _transactions_cursor(one, number)
    with pytest.raises(InvalidValue):
        await other.list_transactions(ListTransactionsQuery(number, cursor=cursor))


def test_a_ledger_without_a_secret_makes_its_own() -> None:
    a, b = CursorCodec(), CursorCodec()
    assert a.encode(["0000000001"]) != b.encode(["0000000001"])
    assert a.decode(a.encode(["0000000001"]), 1) == ["0000000001"]


@pytest.mark.parametrize("secret", ["", b""])
def test_an_empty_secret_is_refused(secret: str | bytes) -> None:
    with pytest.raises(ValueError, match="never empty"):
        CursorCodec(secret)
