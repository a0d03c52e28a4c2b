"""The journal's routes (contract section 11) in-process on the in-memory store, with a clock
the test sets: the answers' shapes to the character, paging, the bounds of every span, the CSV
statement and the choice between CSV and JSON, every refusal, and the chain recomputed from
the answers alone."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Final

import pytest
from dependency_injector import providers
from fastapi.testclient import TestClient

from bank_adapters.memory import InMemoryStore
from bank_domain import AccountNumber, Ledger, Money
from bank_web.app import create_app
from bank_web.settings import Settings
from tests.support.journal import GENESIS, assert_chain_recomputes, entry_text
from tests.support.keys import AUTH, bearer

from .support import CURSOR_SECRET, SteppingClock

T1: Final = datetime(2024, 3, 1, 9, 0, 0, 250, tzinfo=UTC)
"""The first posting: a fraction of a second, written with six digits."""
T2: Final = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)
"""No fraction: written without one."""
T3: Final = datetime(2024, 3, 1, 10, 0, 0, 120000, tzinfo=UTC)
T4: Final = datetime(2024, 3, 2, 0, 0, tzinfo=UTC)
T5: Final = datetime(2024, 3, 2, 12, 0, 0, 1, tzinfo=UTC)
WHOLE_SPAN: Final = {"from": "2000-01-01T00:00:00Z", "to": "2999-12-31T23:59:59Z"}
CSV_HEADER: Final = "posted_at,entry_id,transaction_id,amount,balance_after"
ROUTES: Final = ("entries", "balance", "statement", "verify")


def exact(answer: Any) -> Any:
    return json.loads(answer.content, parse_float=Decimal)


def utc_text(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@dataclass
class Journal:
    client: TestClient
    store: InMemoryStore
    clock: SteppingClock
    number: str
    """An account with five entries, posted at T1..T5: +100.50, -30.25, +0.30, -70.55, +5.00."""

    def at(self, moment: datetime) -> None:
        self.clock.now = moment

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(f"/v1/accounts/{self.number}/{path}", **kwargs)

    def post(self, amount: str, kind: str = "deposit", **fields: Any) -> dict[str, Any]:
        body = {"account_number": self.number, "amount": amount, "transaction_type": kind}
        answer = self.client.post("/v1/transactions", json={**body, **fields})
        assert answer.status_code == 201, answer.text
        posted: dict[str, Any] = answer.json()
        return posted


@pytest.fixture
def journal() -> Iterator[Journal]:
    store = InMemoryStore()
    clock = SteppingClock(start=T1, step=timedelta(0))
    app = create_app(Settings(database_url="memory://"))
    ledger = Ledger(store.unit_of_work, clock, cursor_secret=CURSOR_SECRET)
    app.state.container.ledger.override(providers.Object(ledger))
    with TestClient(app, headers=AUTH) as client:
        opened = client.post(
            "/v1/accounts",
            json={"customer_name": "Ada", "account_type": "checking", "initial_deposit": "100.50"},
        )
        assert opened.status_code == 201, opened.text
        made = Journal(client, store, clock, opened.json()["account_number"])
        made.at(T2)
        made.post("30.25", "withdrawal", transaction_id="rent-2024-03")
        made.at(T3)
        made.post("0.30")
        made.at(T4)
        made.post("70.55", "withdrawal")
        made.at(T5)
        made.post("5.00")
        yield made


def every_entry(journal: Journal, **params: Any) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    cursor = ""
    while True:
        answer = journal.get("entries", params={**params, "cursor": cursor})
        assert answer.status_code == 200, answer.text
        page = exact(answer)
        entries += page["items"]
        if page["next_cursor"] is None:
            return entries
        cursor = page["next_cursor"]


# --- Entries ----------------------------------------------------------------------------------


def test_an_entry_is_written_as_it_was_hashed(journal: Journal) -> None:
    answer = journal.get("entries")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    first, second = exact(answer)["items"][:2]
    assert set(first) == {
        "entry_id",
        "account_number",
        "transaction_id",
        "amount",
        "balance_after",
        "posted_at",
        "hash",
    }
    assert (first["entry_id"], first["account_number"]) == (1, journal.number)
    assert (first["posted_at"], second["posted_at"]) == (
        "2024-03-01T09:00:00.000250Z",
        "2024-03-01T09:30:00Z",
    )
    assert second["transaction_id"] == "rent-2024-03"
    # The JSON's own digits: two decimals, a sign on a debit, as in the hashed text.
    assert '"amount":100.50,"balance_after":100.50,' in answer.text
    assert '"amount":-30.25,"balance_after":70.25,' in answer.text
    assert '"amount":0.30,"balance_after":70.55,' in answer.text
    assert second["hash"] == _sha256(entry_text(first["hash"], second))
    assert first["hash"] == _sha256(entry_text(GENESIS, first))
    assert first["hash"] == journal.store.journal[AccountNumber(journal.number)][0].hash


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_the_chain_recomputes_from_the_answers_alone(journal: Journal) -> None:
    entries = every_entry(journal)
    assert [entry["amount"] for entry in entries] == [
        Decimal("100.50"),
        Decimal("-30.25"),
        Decimal("0.30"),
        Decimal("-70.55"),
        Decimal("5.00"),
    ]
    balance = exact(journal.client.get(f"/v1/accounts/{journal.number}"))["balance"]
    assert_chain_recomputes(entries, balance)


def test_a_zero_balance_after_is_written_unsigned(journal: Journal) -> None:
    """The domain keeps -0.00 apart from 0.00, and hashes both as 0.00: so does the answer."""
    entries = journal.store.journal[AccountNumber(journal.number)]
    entries[0] = dataclasses.replace(entries[0], balance_after=-Money.zero())
    answer = journal.get("entries", params={"limit": 1})
    assert '"balance_after":0.00,' in answer.text


def test_pages_follow_each_other_without_gap_or_repeat(journal: Journal) -> None:
    first = journal.get("entries", params={"limit": 2}).json()
    assert [item["entry_id"] for item in first["items"]] == [1, 2]
    second = journal.get("entries", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [item["entry_id"] for item in second["items"]] == [3, 4]
    third = journal.get("entries", params={"limit": 2, "cursor": second["next_cursor"]}).json()
    assert [item["entry_id"] for item in third["items"]] == [5]
    assert third["next_cursor"] is None
    exactly = journal.get("entries", params={"limit": 5}).json()
    assert len(exactly["items"]) == 5
    assert exactly["next_cursor"] is None
    assert [e["entry_id"] for e in every_entry(journal, limit=1)] == [1, 2, 3, 4, 5]


def test_new_entries_come_after_the_last_page(journal: Journal) -> None:
    page = journal.get("entries", params={"limit": 5}).json()
    assert page["next_cursor"] is None
    journal.at(T5 + timedelta(seconds=1))
    journal.post("1.00")
    assert [e["entry_id"] for e in every_entry(journal, limit=2)] == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize(
    ("since", "until", "expected"),
    [
        pytest.param(T2, T4, [2, 3, 4], id="both-bounds-included"),
        pytest.param(T2 + timedelta(microseconds=1), None, [3, 4, 5], id="since-just-after"),
        pytest.param(None, T4 - timedelta(microseconds=1), [1, 2, 3], id="until-just-before"),
        pytest.param(T1, T1, [1], id="one-moment"),
        pytest.param(T5 + timedelta(days=1), None, [], id="after-the-last"),
        pytest.param(T4, T2, [], id="since-after-until"),
    ],
)
def test_since_and_until_include_their_bounds(
    journal: Journal, since: datetime | None, until: datetime | None, expected: list[int]
) -> None:
    params = {}
    if since is not None:
        params["since"] = utc_text(since)
    if until is not None:
        params["until"] = utc_text(until)
    assert [e["entry_id"] for e in every_entry(journal, limit=1, **params)] == expected


def test_a_bound_in_another_zone_is_the_same_moment(journal: Journal) -> None:
    two_hours_east = T2.astimezone(timezone(timedelta(hours=2))).isoformat()
    assert two_hours_east == "2024-03-01T11:30:00+02:00"
    entries = every_entry(journal, since=two_hours_east, until=two_hours_east)
    assert [entry["entry_id"] for entry in entries] == [2]


# --- Balance at a moment -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "balance"),
    [
        pytest.param(T1 - timedelta(microseconds=1), "0.00", id="before-the-first"),
        pytest.param(T1, "100.50", id="at-the-first"),
        pytest.param(T1 + timedelta(minutes=1), "100.50", id="between"),
        pytest.param(T2, "70.25", id="at-the-second"),
        pytest.param(T5, "5.00", id="at-the-last"),
        pytest.param(T5 + timedelta(days=400), "5.00", id="long-after"),
    ],
)
def test_the_balance_at_a_moment(journal: Journal, moment: datetime, balance: str) -> None:
    answer = journal.get("balance", params={"at": utc_text(moment)})
    assert answer.status_code == 200, answer.text
    assert exact(answer) == {
        "account_number": journal.number,
        "at": utc_text(moment),
        "balance": Decimal(balance),
    }
    assert f'"balance":{balance}' in answer.text


def test_the_balance_without_a_moment_is_now(journal: Journal) -> None:
    now = T5 + timedelta(hours=1, microseconds=7)
    journal.at(now)
    assert exact(journal.get("balance")) == {
        "account_number": journal.number,
        "at": "2024-03-02T13:00:00.000008Z",
        "balance": Decimal("5.00"),
    }


def test_a_moment_in_another_zone_is_answered_in_utc(journal: Journal) -> None:
    answer = journal.get("balance", params={"at": "2024-03-01T11:30:00+02:00"})
    assert exact(answer)["at"] == "2024-03-01T09:30:00Z"
    assert exact(answer)["balance"] == Decimal("70.25")


# --- Statements ------------------------------------------------------------------------------


def test_a_statement_sums_its_span(journal: Journal) -> None:
    answer = journal.get("statement", params={"from": utc_text(T2), "to": utc_text(T4)})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["vary"] == "Accept"
    statement = exact(answer)
    assert statement == {
        "account_number": journal.number,
        "from": "2024-03-01T09:30:00Z",
        "to": "2024-03-02T00:00:00Z",
        "opening_balance": Decimal("100.50"),
        "closing_balance": Decimal("0.00"),
        "credits": Decimal("0.30"),
        "debits": Decimal("100.80"),
        "entry_count": 3,
    }
    assert '"debits":100.80' in answer.text


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (T1, T5),
        (T1 - timedelta(days=1), T1 - timedelta(microseconds=1)),
        (T3, T3),
        (T3 + timedelta(microseconds=1), T4 - timedelta(microseconds=1)),
        (T2 - timedelta(microseconds=1), T5 + timedelta(days=1)),
    ],
)
def test_closing_is_opening_plus_credits_minus_debits(
    journal: Journal, start: datetime, end: datetime
) -> None:
    statement = exact(
        journal.get("statement", params={"from": utc_text(start), "to": utc_text(end)})
    )
    closing = statement["opening_balance"] + statement["credits"] - statement["debits"]
    assert statement["closing_balance"] == closing
    before = exact(
        journal.get("balance", params={"at": utc_text(start - timedelta(microseconds=1))})
    )
    at_end = exact(journal.get("balance", params={"at": utc_text(end)}))
    assert statement["opening_balance"] == before["balance"]
    assert statement["closing_balance"] == at_end["balance"]
    in_span = every_entry(journal, since=utc_text(start), until=utc_text(end))
    assert statement["entry_count"] == len(in_span)


def test_a_statement_as_csv_is_its_entries_written_as_hashed(journal: Journal) -> None:
    answer = journal.get(
        "statement",
        params={"from": utc_text(T1), "to": utc_text(T3)},
        headers={"accept": "text/csv"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.headers["vary"] == "Accept"
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["x-request-id"]
    ids = [entry["transaction_id"] for entry in every_entry(journal, until=utc_text(T3))]
    assert answer.text == (
        f"{CSV_HEADER}\n"
        f"2024-03-01T09:00:00.000250Z,1,{ids[0]},100.50,100.50\n"
        "2024-03-01T09:30:00Z,2,rent-2024-03,-30.25,70.25\n"
        f"2024-03-01T10:00:00.120000Z,3,{ids[2]},0.30,70.55\n"
    )


def test_an_empty_csv_statement_is_its_header_line(journal: Journal) -> None:
    answer = journal.get(
        "statement",
        params={"from": utc_text(T5 + timedelta(days=1)), "to": utc_text(T5 + timedelta(days=2))},
        headers={"accept": "text/csv"},
    )
    assert answer.status_code == 200
    assert answer.text == f"{CSV_HEADER}\n"


@pytest.mark.parametrize(
    ("accept", "form"),
    [
        ([], "json"),
        (["text/csv"], "csv"),
        (["TEXT/CSV; charset=utf-8"], "csv"),
        (["text/*"], "csv"),
        (["application/json"], "json"),
        (["*/*"], "json"),
        (["text/csv, application/json"], "json"),
        (["application/json;q=0.5, text/csv"], "csv"),
        (["text/csv;q=0.9, application/json;q=0.8"], "csv"),
        (["text/csv;q=0.5, application/json"], "json"),
        (["text/csv;q=0"], "json"),
        (["text/csv;q=0, */*"], "json"),
        (["*/*;q=0.1, text/csv"], "csv"),
        (["text/html"], "json"),
        (["text/csv;q=2"], "json"),
        (["text/csv;q=0.5.0"], "json"),
        (["nonsense"], "json"),
        (["application/json;q=0.1", "text/csv"], "csv"),
    ],
)
def test_csv_is_chosen_only_when_preferred(journal: Journal, accept: list[str], form: str) -> None:
    headers = [("accept", value) for value in accept]
    answer = journal.client.get(
        f"/v1/accounts/{journal.number}/statement", params=WHOLE_SPAN, headers=headers
    )
    assert answer.status_code == 200, answer.text
    if form == "csv":
        assert answer.headers["content-type"] == "text/csv; charset=utf-8"
        assert answer.text.startswith(f"{CSV_HEADER}\n")
    else:
        assert answer.headers["content-type"] == "application/json"
        assert exact(answer)["entry_count"] == 5


# --- Verification ------------------------------------------------------------------------------


def test_a_sound_journal_verifies(journal: Journal) -> None:
    answer = journal.get("verify")
    assert answer.status_code == 200
    assert exact(answer) == {
        "account_number": journal.number,
        "entry_count": 5,
        "balance": Decimal("5.00"),
        "entries_sum": Decimal("5.00"),
        "balance_matches": True,
        "chain_intact": True,
        "first_bad_entry": None,
    }


def test_a_changed_balance_does_not_match(journal: Journal) -> None:
    journal.store.accounts[AccountNumber(journal.number)].balance = Money(Decimal("1000.00"))
    verified = exact(journal.get("verify"))
    assert (verified["balance"], verified["entries_sum"]) == (Decimal("1000.00"), Decimal("5.00"))
    assert (verified["balance_matches"], verified["chain_intact"]) == (False, True)
    assert verified["first_bad_entry"] is None


@pytest.mark.parametrize(
    ("tamper", "first_bad"),
    [
        ("hash", {"entry_id": 3, "reason": "hash_mismatch"}),
        ("amount", {"entry_id": 3, "reason": "broken_link"}),
        ("removed", {"entry_id": 3, "reason": "entry_missing"}),
    ],
)
def test_a_tampered_entry_is_named(
    journal: Journal, tamper: str, first_bad: dict[str, Any]
) -> None:
    entries = journal.store.journal[AccountNumber(journal.number)]
    if tamper == "hash":
        entries[2] = dataclasses.replace(entries[2], hash="f" * 64)
    elif tamper == "amount":
        entries[2] = dataclasses.replace(entries[2], amount=Money(Decimal("9.30")))
    else:
        del entries[2]
    verified = exact(journal.get("verify"))
    assert verified["chain_intact"] is False
    assert verified["first_bad_entry"] == first_bad


# --- Refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "params"),
    [
        pytest.param("statement", {}, id="statement-without-from-and-to"),
        pytest.param("statement", {"from": WHOLE_SPAN["from"]}, id="statement-without-to"),
        pytest.param("statement", {"to": WHOLE_SPAN["to"]}, id="statement-without-from"),
        pytest.param("statement", {"from": utc_text(T2), "to": utc_text(T1)}, id="from-after-to"),
        pytest.param("statement", {**WHOLE_SPAN, "from": "2024-03-01T09:00:00"}, id="from-naive"),
        pytest.param("statement", {**WHOLE_SPAN, "to": "2024-03-01"}, id="to-a-date"),
        pytest.param("statement", {**WHOLE_SPAN, "to": "1709283600"}, id="to-unix-time"),
        pytest.param("balance", {"at": "2024-03-01T09:00:00"}, id="at-naive"),
        pytest.param("balance", {"at": "yesterday"}, id="at-a-word"),
        pytest.param("balance", {"at": "0001-01-01T00:00:00+01:00"}, id="at-before-utc-begins"),
        pytest.param("entries", {"since": "2024-03-01T09:00:00"}, id="since-naive"),
        pytest.param("entries", {"until": "2024-13-01T00:00:00Z"}, id="until-no-date"),
        pytest.param("entries", {"limit": "0"}, id="limit-zero"),
        pytest.param("entries", {"limit": "501"}, id="limit-above-500"),
        pytest.param("entries", {"cursor": "forged"}, id="forged-cursor"),
    ],
)
@pytest.mark.parametrize("accept", ["application/json", "text/csv"])
def test_bad_input_is_a_422(
    journal: Journal, path: str, params: dict[str, str], accept: str
) -> None:
    answer = journal.get(path, params=params, headers={"accept": accept})
    _assert_problem(answer, 422, "validation_error")


@pytest.mark.parametrize(
    "query",
    [
        "from=2000-01-01T00:00:00Z&from=2001-01-01T00:00:00Z&to=2999-01-01T00:00:00Z",
        "from=2000-01-01T00:00:00Z&to=2999-01-01T00:00:00Z&to=2999-01-01T00:00:00Z",
    ],
)
def test_a_repeated_parameter_is_a_422(journal: Journal, query: str) -> None:
    answer = journal.get(f"statement?{query}", headers={"accept": "text/csv"})
    problem = _assert_problem(answer, 422, "validation_error")
    assert "more than once" in problem["detail"]
    for path in (
        "entries?limit=1&limit=2",
        "balance?at=2000-01-01T00:00:00Z&at=2000-01-01T00:00:00Z",
    ):
        _assert_problem(journal.get(path), 422, "validation_error")


def test_a_cursor_of_another_list_is_a_422(journal: Journal) -> None:
    other = journal.client.get(f"/v1/accounts/{journal.number}/transactions", params={"limit": 1})
    cursor = other.json()["next_cursor"]
    assert cursor
    _assert_problem(journal.get("entries", params={"cursor": cursor}), 422, "validation_error")


def _every_route(journal: Journal, number: str, headers: dict[str, str]) -> list[Any]:
    answers = [
        journal.client.get(f"/v1/accounts/{number}/{path}", params=WHOLE_SPAN, headers=headers)
        for path in ROUTES
    ]
    csv = {**headers, "accept": "text/csv"}
    answers.append(
        journal.client.get(f"/v1/accounts/{number}/statement", params=WHOLE_SPAN, headers=csv)
    )
    return answers


@pytest.mark.parametrize("number", ["9999999999", "12345", "abcdefghij"])
def test_an_unknown_account_is_a_404(journal: Journal, number: str) -> None:
    for answer in _every_route(journal, number, AUTH):
        _assert_problem(answer, 404, "account_not_found")


def test_a_closed_account_is_a_404(journal: Journal) -> None:
    opened = journal.client.post(
        "/v1/accounts", json={"customer_name": "B", "account_type": "savings"}
    )
    number = opened.json()["account_number"]
    assert journal.client.delete(f"/v1/accounts/{number}").status_code == 204
    for answer in _every_route(journal, number, AUTH):
        _assert_problem(answer, 404, "account_not_found")


def _key(journal: Journal, **fields: Any) -> dict[str, str]:
    made = journal.client.post("/v1/api-keys", json={"name": "journal reader", **fields})
    assert made.status_code == 201, made.text
    return bearer(made.json()["secret"])


def test_a_key_of_another_account_finds_nothing(journal: Journal) -> None:
    opened = journal.client.post(
        "/v1/accounts", json={"customer_name": "C", "account_type": "savings"}
    )
    own = opened.json()["account_number"]
    key = _key(journal, scopes=["accounts:read"], account_numbers=[own])
    for answer in _every_route(journal, journal.number, key):
        _assert_problem(answer, 404, "account_not_found")
    for answer in _every_route(journal, own, key):
        assert answer.status_code == 200, answer.text


def test_a_key_without_accounts_read_is_a_403(journal: Journal) -> None:
    key = _key(journal, scopes=["transactions:read", "audit:read"])
    for answer in _every_route(journal, journal.number, key):
        problem = _assert_problem(answer, 403, "forbidden")
        assert "accounts:read" in problem["detail"]


def test_no_key_is_a_401_before_any_other_check(journal: Journal) -> None:
    bare = TestClient(journal.client.app)
    for path in ("entries?limit=0", "balance?at=nonsense", "statement", "verify"):
        answer = bare.get(f"/v1/accounts/9999999999/{path}")
        _assert_problem(answer, 401, "unauthenticated")


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("POST", "balance", "GET"),
        ("DELETE", "balance", "GET"),
        ("GET", "balance/recalculate", "POST"),
        ("PUT", "statement", "GET"),
        ("POST", "entries", "GET"),
        ("PATCH", "verify", "GET"),
    ],
)
def test_a_wrong_method_names_the_paths_methods(
    journal: Journal, method: str, path: str, allow: str
) -> None:
    answer = journal.client.request(method, f"/v1/accounts/{journal.number}/{path}")
    _assert_problem(answer, 405, "method_not_allowed")
    assert answer.headers["allow"] == allow


def test_every_answer_carries_the_request_id_and_no_store(journal: Journal) -> None:
    for index, answer in enumerate(
        _every_route(journal, journal.number, {**AUTH, "x-request-id": "journal-1"})
        + _every_route(journal, "9999999999", {**AUTH, "x-request-id": "journal-1"})
    ):
        assert answer.headers["x-request-id"] == "journal-1", index
        assert answer.headers["cache-control"] == "no-store", index
        assert answer.headers["x-content-type-options"] == "nosniff", index


def _assert_problem(answer: Any, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, (answer.status_code, answer.text)
    assert answer.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = answer.json()
    assert problem["code"] == code, problem
    assert problem["request_id"] == answer.headers["x-request-id"]
    return problem
