"""Listing accounts and transactions: pages, cursors, filters and time windows."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import TypedDict, Unpack

import pytest

from bank_adapters.memory import InMemoryStore
from bank_domain import (
    Account,
    AccountNotFound,
    CloseAccountCommand,
    DeleteTransactionCommand,
    InvalidValue,
    Ledger,
    ListAccountsQuery,
    ListTransactionsQuery,
    Transaction,
    UpdateAccountCommand,
)

from .support import (
    SteppingClock,
    TransactionFilters,
    encode_cursor,
    every_transaction,
    number_of,
    open_account,
    post,
    random_name,
    random_tid,
)


class AccountFilters(TypedDict, total=False):
    """The filters of a ``ListAccountsQuery``."""

    customer_name: str | None
    account_type: str | None
    status: str | None


class TransactionListing(TransactionFilters, total=False):
    """A ``ListTransactionsQuery``'s filters and page size."""

    limit: int | None


def raw_cursor(payload: bytes) -> str:
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def json_cursor(value: object) -> str:
    return raw_cursor(json.dumps(value).encode())


async def every_account(
    ledger: Ledger, *, limit: int, **filters: Unpack[AccountFilters]
) -> list[Account]:
    items: list[Account] = []
    cursor: str | None = None
    for _ in range(1000):
        page = await ledger.list_accounts(ListAccountsQuery(limit=limit, cursor=cursor, **filters))
        assert len(page.items) <= limit
        items.extend(page.items)
        if page.next_cursor is None:
            return items
        assert len(page.items) == limit
        cursor = page.next_cursor
    raise AssertionError("the pages never ended")


BAD_CURSORS = [
    pytest.param("", id="empty"),
    pytest.param("not a cursor!", id="garbage"),
    pytest.param("%%%%", id="not-base64"),
    pytest.param("ü", id="non-ascii"),
    pytest.param(raw_cursor(b"\xff\xfe\x00"), id="not-utf8"),
    pytest.param(raw_cursor(b"{"), id="broken-json"),
    pytest.param(json_cursor({"after": "0000000001"}), id="object"),
    pytest.param(json_cursor("0000000001"), id="bare-string"),
    pytest.param(json_cursor([]), id="empty-list"),
    pytest.param(json_cursor([1]), id="number-inside"),
    pytest.param(json_cursor([None, None]), id="nulls"),
    pytest.param(json_cursor(["a", "b", "c"]), id="three-parts"),
    pytest.param(raw_cursor(b"[" * 5000 + b"]" * 5000), id="deeply-nested"),
    pytest.param(raw_cursor(b"[" * 380), id="nested-but-short"),
    pytest.param(json_cursor(["0" * 2000]), id="over-long"),
]


class TestListAccounts:
    async def test_walks_every_open_account_in_number_order_without_gap_or_repeat(
        self, ledger: Ledger
    ) -> None:
        numbers = sorted([number_of(await open_account(ledger)) for _ in range(23)])
        for limit in (1, 2, 5, 22, 23, 24, 500):
            walked = [number_of(a) for a in await every_account(ledger, limit=limit)]
            assert walked == numbers, f"limit={limit}"

    async def test_the_default_page_is_50(self, ledger: Ledger) -> None:
        for _ in range(51):
            await open_account(ledger)
        page = await ledger.list_accounts(ListAccountsQuery())
        assert len(page.items) == 50
        assert page.next_cursor is not None
        rest = await ledger.list_accounts(ListAccountsQuery(cursor=page.next_cursor))
        assert len(rest.items) == 1
        assert rest.next_cursor is None

    async def test_an_exactly_full_last_page_has_no_next_cursor(self, ledger: Ledger) -> None:
        for _ in range(4):
            await open_account(ledger)
        page = await ledger.list_accounts(ListAccountsQuery(limit=4))
        assert len(page.items) == 4
        assert page.next_cursor is None

    async def test_an_empty_ledger_lists_nothing(self, ledger: Ledger) -> None:
        page = await ledger.list_accounts(ListAccountsQuery())
        assert list(page.items) == []
        assert page.next_cursor is None

    async def test_closed_accounts_are_left_out(self, ledger: Ledger) -> None:
        kept = number_of(await open_account(ledger))
        closed = number_of(await open_account(ledger))
        await ledger.close_account(CloseAccountCommand(closed))
        assert [number_of(a) for a in await every_account(ledger, limit=1)] == [kept]

    async def test_a_page_continues_after_its_cursor_even_if_that_account_closes(
        self, ledger: Ledger
    ) -> None:
        numbers = sorted([number_of(await open_account(ledger)) for _ in range(4)])
        first = await ledger.list_accounts(ListAccountsQuery(limit=2))
        await ledger.close_account(CloseAccountCommand(number_of(first.items[-1])))
        rest = await ledger.list_accounts(ListAccountsQuery(limit=2, cursor=first.next_cursor))
        assert [number_of(a) for a in rest.items] == numbers[2:]

    async def test_filters(self, ledger: Ledger) -> None:
        name = random_name()
        savings = [
            number_of(await open_account(ledger, name=name, account_type="savings"))
            for _ in range(3)
        ]
        checking = number_of(await open_account(ledger, name=name, account_type="checking"))
        other = number_of(await open_account(ledger, account_type="savings"))
        await ledger.update_account(UpdateAccountCommand(savings[0], status="frozen"))
        await ledger.update_account(UpdateAccountCommand(other, status="frozen"))

        def numbers(accounts: list[Account]) -> set[str]:
            return {number_of(a) for a in accounts}

        assert numbers(await every_account(ledger, limit=1, customer_name=name)) == {
            *savings,
            checking,
        }
        assert numbers(await every_account(ledger, limit=2, customer_name=f"  {name} ")) == {
            *savings,
            checking,
        }
        assert numbers(
            await every_account(ledger, limit=1, customer_name=name, account_type="savings")
        ) == set(savings)
        assert numbers(await every_account(ledger, limit=1, status="frozen")) == {
            savings[0],
            other,
        }
        assert numbers(
            await every_account(ledger, limit=1, account_type="checking", status="active")
        ) == {checking}
        assert await every_account(ledger, limit=5, customer_name="Nobody at all") == []

    @pytest.mark.parametrize(
        ("filters", "field"),
        [({"account_type": "current"}, "account_type"), ({"status": "closed"}, "status")],
    )
    async def test_bad_filters_are_refused(
        self, ledger: Ledger, filters: AccountFilters, field: str
    ) -> None:
        with pytest.raises(InvalidValue) as caught:
            await ledger.list_accounts(ListAccountsQuery(**filters))
        assert caught.value.field == field

    @pytest.mark.parametrize("limit", [0, -1, 501, 10**9, True, False, "10", 2.0])
    async def test_a_limit_outside_1_to_500_is_refused(self, ledger: Ledger, limit: object) -> None:
        with pytest.raises(InvalidValue) as caught:
            # "10" and 2.0 are not ints on purpose: the check at run time is under test.
            await ledger.list_accounts(ListAccountsQuery(limit=limit))  # type: ignore[arg-type]
        assert caught.value.field == "limit"
        assert caught.value.code == "validation_error"

    @pytest.mark.parametrize("limit", [1, 500])
    async def test_the_limits_bounds_are_accepted(self, ledger: Ledger, limit: int) -> None:
        await open_account(ledger)
        assert len((await ledger.list_accounts(ListAccountsQuery(limit=limit))).items) == 1

    @pytest.mark.parametrize(
        "cursor",
        [
            *BAD_CURSORS,
            pytest.param(json_cursor(["12345"]), id="short-number"),
            pytest.param(json_cursor(["123456789\n"]), id="number-with-newline"),
            pytest.param(
                encode_cursor([datetime.now(UTC).isoformat(), "abcdefgh"]), id="transaction-cursor"
            ),
        ],
    )
    async def test_a_cursor_it_did_not_make_is_refused(self, ledger: Ledger, cursor: str) -> None:
        await open_account(ledger)
        with pytest.raises(InvalidValue) as caught:
            await ledger.list_accounts(ListAccountsQuery(cursor=cursor))
        assert caught.value.field == "cursor"


class TestListTransactions:
    async def test_oldest_first_across_pages_without_gap_or_repeat(self, ledger: Ledger) -> None:
        number = number_of(await open_account(ledger, "1"))
        posted = [(await post(ledger, number, f"{i}.01")).transaction for i in range(1, 12)]
        opening = (await every_transaction(ledger, number))[0]
        expected = [opening.transaction_id] + [t.transaction_id for t in posted]
        for limit in (1, 2, 3, 11, 12, 13, 500):
            walked = [
                t.transaction_id for t in await every_transaction(ledger, number, limit=limit)
            ]
            assert walked == expected, f"limit={limit}"

    async def test_transactions_sharing_a_timestamp_page_without_gap_or_repeat(
        self, store: InMemoryStore
    ) -> None:
        still = SteppingClock(step=timedelta(0))
        ledger = Ledger(store.unit_of_work, still)
        number = number_of(await open_account(ledger))
        ids = sorted(
            [
                (await post(ledger, number, "1", transaction_id=random_tid())).transaction
                for _ in range(9)
            ],
            key=lambda t: t.transaction_id,
        )
        for limit in (1, 2, 4, 9, 10):
            walked = await every_transaction(ledger, number, limit=limit)
            assert [t.transaction_id for t in walked] == [t.transaction_id for t in ids]

    async def test_only_this_accounts_transactions_are_listed(self, ledger: Ledger) -> None:
        mine = number_of(await open_account(ledger))
        theirs = number_of(await open_account(ledger))
        await post(ledger, mine, "1")
        await post(ledger, theirs, "2")
        [only] = await every_transaction(ledger, mine)
        assert str(only.account_number) == mine

    async def test_deleted_transactions_are_left_out(self, ledger: Ledger) -> None:
        number = number_of(await open_account(ledger))
        kept = (await post(ledger, number, "1")).transaction
        gone = (await post(ledger, number, "2")).transaction
        await ledger.delete_transaction(DeleteTransactionCommand(str(gone.transaction_id)))
        assert [t.transaction_id for t in await every_transaction(ledger, number, limit=1)] == [
            kept.transaction_id
        ]

    async def test_a_posting_between_pages_shows_up_at_the_end(self, ledger: Ledger) -> None:
        number = number_of(await open_account(ledger))
        first = [(await post(ledger, number, "1")).transaction for _ in range(4)]
        page = await ledger.list_transactions(ListTransactionsQuery(number, limit=2))
        late = (await post(ledger, number, "1")).transaction
        rest = await every_transaction(ledger, number, limit=2, cursor=page.next_cursor)
        assert [t.transaction_id for t in [*page.items, *rest]] == [
            *(t.transaction_id for t in first),
            late.transaction_id,
        ]

    async def test_filters_by_type_and_status(self, ledger: Ledger) -> None:
        number = number_of(await open_account(ledger, "100"))
        made: list[Transaction] = []
        for kind in ("deposit", "withdrawal"):
            for status in ("pending", "success", "failed", "cancelled"):
                made.append((await post(ledger, number, "1", kind, status=status)).transaction)
        opening = (await every_transaction(ledger, number))[0]

        def ids(transactions: list[Transaction]) -> list[str]:
            return [str(t.transaction_id) for t in transactions]

        deposits = await every_transaction(ledger, number, limit=2, transaction_type="deposit")
        assert ids(deposits) == ids([opening, *made[:4]])
        pending_withdrawals = await every_transaction(
            ledger, number, limit=1, transaction_type="withdrawal", status="pending"
        )
        assert ids(pending_withdrawals) == ids([made[4]])
        successes = await every_transaction(ledger, number, limit=1, status="success")
        assert ids(successes) == ids([opening, made[1], made[5]])

    async def test_since_and_until_include_their_bounds(
        self, ledger: Ledger, clock: SteppingClock
    ) -> None:
        number = number_of(await open_account(ledger))
        made = []
        for _ in range(6):
            clock.advance(timedelta(minutes=1))
            made.append((await post(ledger, number, "1")).transaction)
        stamps = [t.timestamp for t in made]

        async def window(**bounds: Unpack[TransactionFilters]) -> list[object]:
            return [
                t.transaction_id for t in await every_transaction(ledger, number, limit=2, **bounds)
            ]

        ids = [t.transaction_id for t in made]
        assert await window(since=stamps[1], until=stamps[3]) == ids[1:4]
        assert await window(since=stamps[5]) == ids[5:]
        assert await window(since=stamps[2], until=stamps[2]) == [ids[2]]
        assert await window(since=stamps[2] + timedelta(microseconds=1), until=stamps[3]) == [
            ids[3]
        ]
        assert await window(since=stamps[4], until=stamps[1]) == []
        assert await window(since=stamps[5] + timedelta(microseconds=1)) == []

    async def test_bounds_in_another_offset_mean_the_same_instant(
        self, ledger: Ledger, clock: SteppingClock
    ) -> None:
        number = number_of(await open_account(ledger))
        made = [(await post(ledger, number, "1")).transaction for _ in range(3)]
        plus_five = timezone(timedelta(hours=5, minutes=30))
        since = made[1].timestamp.astimezone(plus_five)
        walked = await every_transaction(ledger, number, since=since, until=since)
        assert [t.transaction_id for t in walked] == [made[1].transaction_id]

    @pytest.mark.parametrize("bound", ["since", "until"])
    async def test_a_naive_bound_is_refused(self, ledger: Ledger, bound: str) -> None:
        number = number_of(await open_account(ledger))
        naive = datetime(2024, 1, 1)
        bounds: TransactionFilters = {"since": naive} if bound == "since" else {"until": naive}
        with pytest.raises(InvalidValue) as caught:
            await ledger.list_transactions(ListTransactionsQuery(number, **bounds))
        assert caught.value.field == bound

    @pytest.mark.parametrize(
        ("filters", "field"),
        [
            ({"transaction_type": "refund"}, "transaction_type"),
            ({"status": "done"}, "status"),
            ({"limit": 0}, "limit"),
            ({"limit": 501}, "limit"),
            ({"limit": True}, "limit"),
        ],
    )
    async def test_bad_filters_are_refused(
        self, ledger: Ledger, filters: TransactionListing, field: str
    ) -> None:
        number = number_of(await open_account(ledger))
        with pytest.raises(InvalidValue) as caught:
            await ledger.list_transactions(ListTransactionsQuery(number, **filters))
        assert caught.value.field == field

    @pytest.mark.parametrize(
        "cursor",
        [
            *BAD_CURSORS,
            pytest.param(json_cursor(["0000000001"]), id="account-cursor"),
            pytest.param(json_cursor(["yesterday", "abcdefgh"]), id="bad-timestamp"),
            pytest.param(json_cursor(["2024-01-01T00:00:00", "abcdefgh"]), id="naive-timestamp"),
            pytest.param(json_cursor(["2024-01-01T00:00:00+00:00", "short"]), id="bad-id"),
        ],
    )
    async def test_a_cursor_it_did_not_make_is_refused(self, ledger: Ledger, cursor: str) -> None:
        number = number_of(await open_account(ledger, "1"))
        with pytest.raises(InvalidValue) as caught:
            await ledger.list_transactions(ListTransactionsQuery(number, cursor=cursor))
        assert caught.value.field == "cursor"

    async def test_an_unknown_or_closed_account_is_not_found(self, ledger: Ledger) -> None:
        number = number_of(await open_account(ledger))
        await post(ledger, number, "1", status="failed")  # v2: a pending one keeps it open
        await ledger.close_account(CloseAccountCommand(number))
        with pytest.raises(AccountNotFound):
            await ledger.list_transactions(ListTransactionsQuery(number))
