"""The journal over HTTP on every store (contract section 11): one entry per movement of a
balance and none for anything else, entries paged and bounded, balances at a moment,
statements as JSON and as CSV, verification, and who may read them. Every account's chain is
recomputed from the API's answers alone, as an outside auditor would (tests.support.journal):
each test's accounts as it ends, and every account of the server in the last test.

The server is shared by the whole session, so each test opens its own accounts; moments come
from the entries the server answered (its clock, not the test's)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Final

import httpx
import pytest

from tests.integration.api.helpers import JSON, assert_problem, balance, exact, open_account, post
from tests.support import refs
from tests.support.journal import assert_chain_recomputes, two_decimals
from tests.support.keys import bearer

Entry = dict[str, Any]

CSV_HEADER: Final = "posted_at,entry_id,transaction_id,amount,balance_after"
POSTED_AT: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{6})?Z"
)
HASH: Final = re.compile(r"[0-9a-f]{64}")
WHOLE_SPAN: Final = {"from": "2000-01-01T00:00:00Z", "to": "2999-12-31T23:59:59Z"}
MICROSECOND: Final = timedelta(microseconds=1)


def entries_of(
    client: httpx.Client, number: str, *, limit: int = 500, **bounds: str
) -> list[Entry]:
    """Every entry of an account, page after page, checking that pages neither repeat nor
    skip."""
    entries: list[Entry] = []
    cursor = ""
    seen: set[str] = set()
    while True:
        answer = client.get(
            f"/v1/accounts/{number}/entries", params={"limit": limit, "cursor": cursor, **bounds}
        )
        assert answer.status_code == 200, answer.text
        page = exact(answer)
        assert len(page["items"]) <= limit
        entries += page["items"]
        if page["next_cursor"] is None:
            return entries
        assert page["items"], "a page with a next_cursor is never empty"
        assert page["next_cursor"] not in seen
        seen.add(page["next_cursor"])
        cursor = page["next_cursor"]


def assert_sound(client: httpx.Client, number: str) -> list[Entry]:
    """The account's chain recomputes from its entries as answered, ends at its balance, and
    its own verification agrees."""
    entries = entries_of(client, number, limit=3)
    assert_chain_recomputes(entries, balance(client, number))
    verified = exact(client.get(f"/v1/accounts/{number}/verify"))
    assert verified == {
        "account_number": number,
        "entry_count": len(entries),
        "balance": balance(client, number),
        "entries_sum": sum((e["amount"] for e in entries), Decimal("0.00")),
        "balance_matches": True,
        "chain_intact": True,
        "first_bad_entry": None,
    }
    return entries


def moment(entry: Entry) -> datetime:
    return datetime.fromisoformat(entry["posted_at"].replace("Z", "+00:00"))


def text(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def posted(answer: httpx.Response) -> dict[str, Any]:
    assert answer.status_code == 201, answer.text
    transaction: dict[str, Any] = exact(answer)
    return transaction


def patch(client: httpx.Client, transaction_id: str, **fields: Any) -> None:
    answer = client.patch(f"/v1/transactions/{transaction_id}", json=fields)
    assert answer.status_code == 200, answer.text


@pytest.fixture
def account(client: httpx.Client) -> str:
    """An account with five entries: +100.50, -30.25, +0.30, -70.55, +5.00 (balance 5.00)."""
    number: str = open_account(client, "100.50")["account_number"]
    posted(post(client, number, "30.25", "withdrawal", transaction_id=refs.transaction_id()))
    posted(post(client, number, "0.30"))
    posted(post(client, number, "70.55", "withdrawal"))
    posted(post(client, number, "5.00"))
    return number


# --- What makes an entry ----------------------------------------------------------------------


def test_every_move_of_a_balance_makes_one_entry_and_nothing_else_does(
    client: httpx.Client,
) -> None:
    number: str = open_account(client, "100.00")["account_number"]
    deposit = posted(post(client, number, "50.00"))["transaction_id"]
    withdrawal = posted(post(client, number, "30.00", "withdrawal"))["transaction_id"]
    pending = posted(post(client, number, "7.00", status="pending"))["transaction_id"]
    posted(post(client, number, "9.00", status="failed"))
    refused = post(client, number, "1000.00", "withdrawal")
    assert_problem(refused, 409, "insufficient_funds")
    patch(client, deposit, description="moves nothing")
    patch(client, deposit, amount="45.00")
    patch(client, withdrawal, transaction_type="deposit")
    patch(client, pending, status="success")
    patch(client, deposit, status="cancelled")
    assert client.delete(f"/v1/transactions/{withdrawal}").status_code == 204
    recalculated = client.post(f"/v1/accounts/{number}/balance/recalculate")
    assert recalculated.status_code == 200, recalculated.text
    assert exact(recalculated)["corrected"] is False

    entries = assert_sound(client, number)
    assert [(e["amount"], e["balance_after"]) for e in entries] == [
        (Decimal("100.00"), Decimal("100.00")),
        (Decimal("50.00"), Decimal("150.00")),
        (Decimal("-30.00"), Decimal("120.00")),
        (Decimal("-5.00"), Decimal("115.00")),
        (Decimal("60.00"), Decimal("175.00")),
        (Decimal("7.00"), Decimal("182.00")),
        (Decimal("-45.00"), Decimal("137.00")),
        (Decimal("-30.00"), Decimal("107.00")),
    ]
    assert [e["transaction_id"] for e in entries[1:]] == [
        deposit,
        withdrawal,
        deposit,
        withdrawal,
        pending,
        deposit,
        withdrawal,
    ]
    assert balance(client, number) == Decimal("107.00")
    moments = [moment(e) for e in entries]
    assert moments == sorted(moments)


def test_an_account_opened_empty_has_no_entry(client: httpx.Client) -> None:
    number = open_account(client)["account_number"]
    assert assert_sound(client, number) == []


# --- Entries as written -----------------------------------------------------------------------


def test_an_entry_is_written_as_it_was_hashed(client: httpx.Client, account: str) -> None:
    answer = client.get(f"/v1/accounts/{account}/entries")
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    entries = exact(answer)["items"]
    for entry in entries:
        assert set(entry) == {
            "entry_id",
            "account_number",
            "transaction_id",
            "amount",
            "balance_after",
            "posted_at",
            "hash",
        }
        assert entry["account_number"] == account
        assert POSTED_AT.fullmatch(entry["posted_at"]), entry
        assert HASH.fullmatch(entry["hash"]), entry
        # The JSON's own digits are the hashed text: two decimals, a sign on a debit.
        written = f'"amount":{two_decimals(entry["amount"])},'
        written += f'"balance_after":{two_decimals(entry["balance_after"])},'
        assert written in answer.text
    assert '"amount":-30.25,"balance_after":70.25,' in answer.text
    assert '"amount":0.30,"balance_after":70.55,' in answer.text
    assert_sound(client, account)


def test_pages_follow_each_other(client: httpx.Client, account: str) -> None:
    first = exact(client.get(f"/v1/accounts/{account}/entries", params={"limit": 2}))
    assert [e["entry_id"] for e in first["items"]] == [1, 2]
    assert [e["entry_id"] for e in entries_of(client, account, limit=2)] == [1, 2, 3, 4, 5]
    assert [e["entry_id"] for e in entries_of(client, account, limit=5)] == [1, 2, 3, 4, 5]
    posted(post(client, account, "1.00"))
    rest = client.get(
        f"/v1/accounts/{account}/entries", params={"limit": 2, "cursor": first["next_cursor"]}
    )
    assert [e["entry_id"] for e in exact(rest)["items"]] == [3, 4]
    assert [e["entry_id"] for e in entries_of(client, account, limit=4)] == [1, 2, 3, 4, 5, 6]


def test_since_and_until_include_their_bounds(client: httpx.Client, account: str) -> None:
    entries = entries_of(client, account)
    second, fourth = moment(entries[1]), moment(entries[3])

    def ids(**bounds: str) -> list[int]:
        return [e["entry_id"] for e in entries_of(client, account, limit=2, **bounds)]

    assert ids(since=entries[1]["posted_at"], until=entries[3]["posted_at"]) == [
        e["entry_id"] for e in entries if second <= moment(e) <= fourth
    ]
    assert 2 in ids(since=entries[1]["posted_at"])
    assert 4 in ids(until=entries[3]["posted_at"])
    assert 2 not in ids(since=text(second + MICROSECOND))
    assert 4 not in ids(until=text(fourth - MICROSECOND))
    east = second.astimezone(timezone(timedelta(hours=5, minutes=30)))
    assert 2 in ids(since=east.isoformat(), until=east.isoformat())


# --- Balance at a moment ------------------------------------------------------------------------


def test_the_balance_at_a_moment(client: httpx.Client, account: str) -> None:
    entries = entries_of(client, account)

    def balance_at(at: datetime) -> Decimal:
        answer = client.get(f"/v1/accounts/{account}/balance", params={"at": text(at)})
        assert answer.status_code == 200, answer.text
        body = exact(answer)
        assert set(body) == {"account_number", "at", "balance"}
        assert (body["account_number"], body["at"]) == (account, text(at))
        value: Decimal = body["balance"]
        return value

    assert balance_at(moment(entries[0]) - MICROSECOND) == Decimal("0.00")
    for index, entry in enumerate(entries):
        later = entries[index + 1 :]
        if later and moment(later[0]) == moment(entry):
            continue  # two entries of one microsecond: the balance after both
        assert balance_at(moment(entry)) == entry["balance_after"]
        if later and moment(later[0]) - moment(entry) > MICROSECOND:
            between = moment(entry) + (moment(later[0]) - moment(entry)) / 2
            assert balance_at(between) == entry["balance_after"]
    assert balance_at(moment(entries[-1]) + timedelta(days=365)) == Decimal("5.00")

    now = exact(client.get(f"/v1/accounts/{account}/balance"))
    assert now["balance"] == Decimal("5.00")
    assert POSTED_AT.fullmatch(now["at"])
    assert now["at"] >= entries[-1]["posted_at"]


# --- Statements ---------------------------------------------------------------------------------


def test_a_statement_holds_its_identity(client: httpx.Client, account: str) -> None:
    entries = entries_of(client, account)
    spans = [
        (entries[0]["posted_at"], entries[-1]["posted_at"]),
        (entries[1]["posted_at"], entries[3]["posted_at"]),
        (text(moment(entries[1]) + MICROSECOND), text(moment(entries[3]) - MICROSECOND)),
        (entries[2]["posted_at"], entries[2]["posted_at"]),
        (WHOLE_SPAN["from"], WHOLE_SPAN["to"]),
    ]
    for start, end in spans:
        answer = client.get(f"/v1/accounts/{account}/statement", params={"from": start, "to": end})
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("application/json")
        statement = exact(answer)
        inside = [e for e in entries if moment_of(start) <= moment(e) <= moment_of(end)]
        before = [e for e in entries if moment(e) < moment_of(start)]
        assert statement == {
            "account_number": account,
            "from": text(moment_of(start)),
            "to": text(moment_of(end)),
            "opening_balance": before[-1]["balance_after"] if before else Decimal("0.00"),
            "closing_balance": statement["opening_balance"]
            + statement["credits"]
            - statement["debits"],
            "credits": sum((e["amount"] for e in inside if e["amount"] > 0), Decimal("0.00")),
            "debits": -sum((e["amount"] for e in inside if e["amount"] < 0), Decimal("0.00")),
            "entry_count": len(inside),
        }
        closing = client.get(f"/v1/accounts/{account}/balance", params={"at": end})
        assert statement["closing_balance"] == exact(closing)["balance"]


def moment_of(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_a_csv_statement_is_its_entries_as_answered(client: httpx.Client, account: str) -> None:
    entries = entries_of(client, account)
    answer = client.get(
        f"/v1/accounts/{account}/statement",
        params={"from": entries[1]["posted_at"], "to": WHOLE_SPAN["to"]},
        headers={"accept": "text/csv"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.headers["cache-control"] == "no-store"
    lines = [
        f"{e['posted_at']},{e['entry_id']},{e['transaction_id']},"
        f"{two_decimals(e['amount'])},{two_decimals(e['balance_after'])}"
        for e in entries[1:]
    ]
    assert answer.text == "\n".join([CSV_HEADER, *lines]) + "\n"
    assert ",-30.25,70.25\n" in answer.text


def test_a_bad_span_is_a_422_in_either_form(client: httpx.Client, account: str) -> None:
    path = f"/v1/accounts/{account}/statement"
    for accept in ("application/json", "text/csv"):
        headers = {"accept": accept}
        for params in (
            {},
            {"from": WHOLE_SPAN["from"]},
            {"to": WHOLE_SPAN["to"]},
            {"from": WHOLE_SPAN["to"], "to": WHOLE_SPAN["from"]},
            {**WHOLE_SPAN, "from": "2024-01-01T00:00:00"},
        ):
            assert_problem(
                client.get(path, params=params, headers=headers), 422, "validation_error"
            )
        start = "from=2000-01-01T00:00:00Z"
        twice = f"{path}?{start}&{start}&to=2999-01-01T00:00:00Z"
        assert_problem(client.get(twice, headers=headers), 422, "validation_error")
    naive = client.get(f"/v1/accounts/{account}/balance", params={"at": "2024-01-01T00:00:00"})
    assert_problem(naive, 422, "validation_error")


# --- Who may read them ------------------------------------------------------------------------


def _every_route(
    client: httpx.Client, number: str, headers: dict[str, str]
) -> list[httpx.Response]:
    answers = [
        client.get(f"/v1/accounts/{number}/{path}", params=WHOLE_SPAN, headers=headers)
        for path in ("entries", "balance", "statement", "verify")
    ]
    csv = {**headers, "accept": "text/csv"}
    answers.append(client.get(f"/v1/accounts/{number}/statement", params=WHOLE_SPAN, headers=csv))
    return answers


def test_a_closed_or_unknown_account_is_a_404(client: httpx.Client) -> None:
    number = open_account(client, "10.00")["account_number"]
    posted(post(client, number, "10.00", "withdrawal"))
    assert client.delete(f"/v1/accounts/{number}").status_code == 204
    for unknown in (number, refs.account_number(), "12345"):
        for answer in _every_route(client, unknown, {}):
            assert_problem(answer, 404, "account_not_found")


def _key(client: httpx.Client, **fields: Any) -> dict[str, str]:
    made = client.post("/v1/api-keys", json={"name": "journal test", **fields}, headers=JSON)
    assert made.status_code == 201, made.text
    return bearer(made.json()["secret"])


def test_a_key_sees_only_its_accounts_journals(client: httpx.Client, account: str) -> None:
    own = open_account(client, "1.00")["account_number"]
    key = _key(client, scopes=["accounts:read"], account_numbers=[own])
    for answer in _every_route(client, account, key):
        assert_problem(answer, 404, "account_not_found")
    for answer in _every_route(client, own, key):
        assert answer.status_code == 200, answer.text
    reader = _key(client, scopes=["transactions:read"])
    for answer in _every_route(client, own, reader):
        assert_problem(answer, 403, "forbidden")


# --- Every account of the server ----------------------------------------------------------------


def test_every_accounts_chain_recomputes_from_the_answers_alone(client: httpx.Client) -> None:
    """Last in this file: every open account on this server by then, those of the API test
    files that ran before included, as the outside suite checks after every test."""
    own = open_account(client, "12.34")["account_number"]
    posted(post(client, own, "0.34", "withdrawal"))
    numbers: list[str] = []
    cursor = ""
    while True:
        page = exact(client.get("/v1/accounts", params={"limit": 500, "cursor": cursor}))
        numbers += [item["account_number"] for item in page["items"]]
        if page["next_cursor"] is None:
            break
        cursor = page["next_cursor"]
    assert own in numbers
    for number in numbers:
        assert_chain_recomputes(entries_of(client, number), balance(client, number))
