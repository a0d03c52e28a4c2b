"""The audit trail over HTTP on every store: each change makes its event (the right type, actor,
request id, and the resource as the route answered it), refusals and retries make none, the
feed can be followed page by page, restricted keys see only their accounts' events, and a
transaction's history is every version of it.

The server is shared by the whole session, so a test reads only its own events: those of the
accounts it opened, or those after the end of the feed as it found it (the tests run one at a
time)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.integration.api.helpers import assert_problem, exact, open_account, post
from tests.support import refs
from tests.support.keys import bearer
from tests.support.postgres import wait_for_older_writers

Event = dict[str, Any]


def _request_id() -> dict[str, str]:
    return {"x-request-id": f"audit-{uuid.uuid4().hex}"}


def _key(client: httpx.Client, scopes: list[str], **fields: Any) -> dict[str, Any]:
    made = client.post("/v1/api-keys", json={"name": "audit test", "scopes": scopes, **fields})
    assert made.status_code == 201, made.text
    key: dict[str, Any] = made.json()
    return key


def _follow(
    client: httpx.Client,
    cursor: str = "",
    *,
    limit: int = 500,
    headers: dict[str, str] | None = None,
    **filters: str,
) -> tuple[list[Event], str]:
    """The events after ``cursor``, page by page until an empty one, and the cursor it gave;
    once the writes made before it are past the PostgreSQL feed's horizon."""
    wait_for_older_writers()
    events: list[Event] = []
    while True:
        answer = client.get(
            "/v1/events", params={"limit": limit, "cursor": cursor, **filters}, headers=headers
        )
        assert answer.status_code == 200, answer.text
        page = exact(answer)
        assert len(page["items"]) <= limit
        assert isinstance(page["next_cursor"], str)
        events += page["items"]
        cursor = page["next_cursor"]
        if not page["items"]:
            return events, cursor


def _feed_end(client: httpx.Client) -> str:
    """A cursor after every event committed so far."""
    return _follow(client)[1]


def _events_of(client: httpx.Client, account_number: str) -> list[Event]:
    return _follow(client, account_number=account_number)[0]


def _assert_told(event: Event, event_type: str, actor: str, request: dict[str, str]) -> None:
    assert event["type"] == event_type, event
    assert event["actor"] == actor, event
    assert event["request_id"] == request["x-request-id"], event
    assert isinstance(event["event_id"], str)


# --- Each change makes its event --------------------------------------------------------------


def test_an_account_opened_with_a_deposit_tells_the_opening_then_the_deposit(
    client: httpx.Client,
) -> None:
    request = _request_id()
    account = open_account(client, initial_deposit="25.50", headers=request)
    number = account["account_number"]
    deposit = exact(client.get(f"/v1/accounts/{number}/transactions"))["items"][0]

    opened, posted = _events_of(client, number)

    _assert_told(opened, "account.opened", "master", request)
    _assert_told(posted, "transaction.posted", "master", request)
    assert opened["data"] == account
    assert posted["data"] == deposit
    assert opened["account_number"] == posted["account_number"] == number
    assert opened["occurred_at"] == account["created_at"]
    assert posted["occurred_at"] == deposit["timestamp"]
    assert opened["event_id"] != posted["event_id"]


def test_an_account_changed_and_closed_tells_each_change(client: httpx.Client) -> None:
    number = open_account(client)["account_number"]
    patch, close = _request_id(), _request_id()
    patched = client.patch(
        f"/v1/accounts/{number}", json={"customer_name": "Ada King"}, headers=patch
    )
    assert patched.status_code == 200, patched.text
    # The same name again changes nothing, so it tells nothing.
    again = client.patch(f"/v1/accounts/{number}", json={"customer_name": "Ada King"})
    assert again.json() == patched.json()
    assert client.delete(f"/v1/accounts/{number}", headers=close).status_code == 204

    # Filtering on a closed account still finds its events (see README).
    events = _events_of(client, number)

    assert [event["type"] for event in events] == [
        "account.opened",
        "account.updated",
        "account.closed",
    ]
    _, updated, closed = events
    _assert_told(updated, "account.updated", "master", patch)
    assert updated["data"] == exact(patched)
    assert updated["occurred_at"] == updated["data"]["updated_at"]
    # The account as it was when it closed: the closing is its last version.
    _assert_told(closed, "account.closed", "master", close)
    last_shown = exact(patched)
    assert closed["data"] == {
        **last_shown,
        "version": last_shown["version"] + 1,
        "updated_at": closed["occurred_at"],
    }
    assert_problem(client.get(f"/v1/accounts/{number}"), 404, "account_not_found")


def test_every_change_to_a_transaction_tells_the_transaction_as_answered(
    client: httpx.Client,
) -> None:
    number = open_account(client, initial_deposit="100.00")["account_number"]
    transaction_id = refs.transaction_id()
    url = f"/v1/transactions/{transaction_id}"
    requests = [_request_id() for _ in range(4)]
    # Answered by the posting fast path on a real server: it records the request's id too.
    posted = post(
        client, number, "40.00", "withdrawal", transaction_id=transaction_id, headers=requests[0]
    )
    assert posted.status_code == 201, posted.text
    patched = client.patch(url, json={"description": "rent"}, headers=requests[1])
    assert patched.status_code == 200, patched.text
    put = client.put(
        url, json={"amount": "30.00", "transaction_type": "withdrawal"}, headers=requests[2]
    )
    assert put.status_code == 200, put.text
    assert client.delete(url, headers=requests[3]).status_code == 204

    events = _events_of(client, number)[2:]

    kinds = ["transaction.posted", "transaction.amended", "transaction.amended"]
    for event, kind, request, answer in zip(
        events, kinds, requests, (posted, patched, put), strict=False
    ):
        _assert_told(event, kind, "master", request)
        assert event["data"] == exact(answer)
        assert event["occurred_at"] == event["data"]["updated_at"]
    deleted = events[3]
    _assert_told(deleted, "transaction.deleted", "master", requests[3])
    last_shown = exact(put)
    assert deleted["data"] == {
        **last_shown,
        "version": last_shown["version"] + 1,
        "updated_at": deleted["occurred_at"],
        "balance_after": None,
    }
    assert len(events) == 4


def test_a_change_made_with_a_key_names_the_key(client: httpx.Client) -> None:
    key = _key(client, ["accounts:write", "transactions:write"])
    headers = {**bearer(key["secret"]), **_request_id()}
    number = open_account(client, headers=headers)["account_number"]
    assert post(client, number, "5.00", headers=headers).status_code == 201
    assert post(client, number, "1.00").status_code == 201

    events = _events_of(client, number)

    assert [(event["type"], event["actor"]) for event in events] == [
        ("account.opened", key["key_id"]),
        ("transaction.posted", key["key_id"]),
        ("transaction.posted", "master"),
    ]


def test_a_request_id_the_server_made_is_the_one_recorded(client: httpx.Client) -> None:
    number = open_account(client)["account_number"]
    # Not a valid request id (a space): the server makes one and answers with it.
    posted = post(client, number, "1.00", headers={"x-request-id": "not valid"})
    assert posted.status_code == 201, posted.text
    made = posted.headers["x-request-id"]
    assert made != "not valid"
    assert _events_of(client, number)[-1]["request_id"] == made


def test_keys_made_and_revoked_are_told_without_their_secret(client: httpx.Client) -> None:
    start = _feed_end(client)
    make, revoke = _request_id(), _request_id()
    made = client.post(
        "/v1/api-keys", json={"name": "audited", "scopes": ["audit:read"]}, headers=make
    )
    assert made.status_code == 201, made.text
    key = made.json()
    location = f"/v1/api-keys/{key['key_id']}"
    assert client.delete(location, headers=revoke).status_code == 204
    # Revoking it again changes nothing, so it tells nothing.
    assert client.delete(location).status_code == 204

    (created, revoked), _ = _follow(client, start)

    _assert_told(created, "api_key.created", "master", make)
    assert created["data"] == {name: value for name, value in key.items() if name != "secret"}
    assert created["account_number"] is None
    _assert_told(revoked, "api_key.revoked", "master", revoke)
    assert revoked["data"] == client.get(location).json()
    assert revoked["data"]["revoked_at"] == revoked["occurred_at"]
    page = client.get("/v1/events", params={"cursor": start, "limit": 500})
    assert key["secret"] not in page.text
    assert all("secret" not in event["data"] for event in page.json()["items"])


# --- What makes no event ----------------------------------------------------------------------


def test_a_retried_posting_tells_nothing_more(client: httpx.Client) -> None:
    number = open_account(client)["account_number"]
    transaction_id = refs.transaction_id()
    first = post(client, number, "7.00", transaction_id=transaction_id)
    again = post(client, number, "7.00", transaction_id=transaction_id)
    assert (first.status_code, again.status_code) == (201, 200)

    events = _events_of(client, number)

    assert [event["type"] for event in events] == ["account.opened", "transaction.posted"]


def test_a_refused_change_tells_nothing(client: httpx.Client) -> None:
    number = open_account(client, initial_deposit="10.00")["account_number"]
    transaction_id = post(client, number, "5.00").json()["transaction_id"]
    transaction_url = f"/v1/transactions/{transaction_id}"
    stale = {"if-match": '"99"'}
    before = _events_of(client, number)

    refusals = [
        (post(client, number, "1000.00", "withdrawal"), 409, "insufficient_funds"),
        (
            post(client, number, "6.00", transaction_id=transaction_id),
            409,
            "duplicate_transaction_id",
        ),
        (post(client, number, "1.005"), 422, "validation_error"),
        (client.delete(f"/v1/accounts/{number}"), 409, "account_not_empty"),
        (
            client.patch(f"/v1/accounts/{number}", json={"status": "frozen"}, headers=stale),
            412,
            "version_mismatch",
        ),
        (
            client.patch(f"/v1/accounts/{number}", json={"customer_name": ""}),
            422,
            "validation_error",
        ),
        (
            client.patch(transaction_url, json={"status": "pending"}),
            409,
            "invalid_status_change",
        ),
        (client.patch(transaction_url, json={"amount": 1}, headers=stale), 412, "version_mismatch"),
        (client.delete(transaction_url, headers=stale), 412, "version_mismatch"),
    ]

    for answer, status, code in refusals:
        assert_problem(answer, status, code)
    assert _events_of(client, number) == before
    assert [event["type"] for event in before] == [
        "account.opened",
        "transaction.posted",
        "transaction.posted",
    ]


# --- Following the feed -----------------------------------------------------------------------


def test_the_feed_followed_page_by_page_tells_every_event_once(client: httpx.Client) -> None:
    start = _feed_end(client)
    number = open_account(client, initial_deposit="50.00")["account_number"]
    for amount in ("1.00", "2.00", "3.00"):
        assert post(client, number, amount).status_code == 201
    patched = client.patch(f"/v1/accounts/{number}", json={"account_type": "savings"})
    assert patched.status_code == 200, patched.text

    events, end = _follow(client, start, limit=2)

    assert [event["type"] for event in events] == [
        "account.opened",
        "transaction.posted",
        "transaction.posted",
        "transaction.posted",
        "transaction.posted",
        "account.updated",
    ]
    assert len({event["event_id"] for event in events}) == len(events)
    assert [event["data"]["amount"] for event in events[2:5]] == [1, 2, 3]
    # At the end the cursor returns nothing, and stays a cursor to follow.
    for _ in range(2):
        empty = exact(client.get("/v1/events", params={"cursor": end}))
        assert empty["items"] == []
        assert isinstance(empty["next_cursor"], str)

    later = [exact(post(client, number, amount)) for amount in ("4.00", "5.00")]
    after, _ = _follow(client, end, limit=1)

    assert [event["data"] for event in after] == later


def test_the_feed_is_filtered_by_account_and_by_type(client: httpx.Client) -> None:
    start = _feed_end(client)
    first = open_account(client, initial_deposit="5.00")["account_number"]
    second = open_account(client, initial_deposit="6.00")["account_number"]
    assert post(client, first, "1.00").status_code == 201

    of_first, _ = _follow(client, account_number=first)
    postings_of_first, _ = _follow(client, account_number=first, type="transaction.posted")
    openings, _ = _follow(client, start, type="account.opened")

    assert {event["account_number"] for event in of_first} == {first}
    assert len(of_first) == 3
    assert [event["data"]["amount"] for event in postings_of_first] == [5, 1]
    assert [event["account_number"] for event in openings] == [first, second]


def test_a_filter_on_an_account_no_one_opened_finds_nothing(client: httpx.Client) -> None:
    """The filter is on events: an account never opened has none (see README)."""
    unknown = refs.account_number()
    assert _follow(client, account_number=unknown)[0] == []


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=501",
        "limit=ten",
        "limit=1.5",
        "limit=1&limit=2",
        "type=account.deleted",
        "type=",
        "type=account.opened&type=account.closed",
        "account_number=123",
        "account_number=12345678901",
        "account_number=",
        "account_number=1234567890&account_number=1234567890",
        "cursor=forged",
    ],
)
def test_a_bad_query_of_the_feed_is_a_422(client: httpx.Client, query: str) -> None:
    assert_problem(client.get(f"/v1/events?{query}"), 422, "validation_error")


def test_a_cursor_edited_or_of_another_list_is_a_422(client: httpx.Client) -> None:
    number = open_account(client, initial_deposit="1.00")["account_number"]
    transaction_id = post(client, number, "1.00").json()["transaction_id"]
    client.patch(f"/v1/transactions/{transaction_id}", json={"description": "x"})
    feed = client.get("/v1/events", params={"limit": 1}).json()["next_cursor"]
    history = client.get(f"/v1/transactions/{transaction_id}/history", params={"limit": 1}).json()[
        "next_cursor"
    ]
    assert history is not None
    edited = feed[:-1] + ("A" if feed[-1] != "A" else "B")

    assert_problem(client.get("/v1/events", params={"cursor": edited}), 422, "validation_error")
    assert_problem(client.get("/v1/events", params={"cursor": history}), 422, "validation_error")
    assert_problem(
        client.get(f"/v1/transactions/{transaction_id}/history", params={"cursor": feed}),
        422,
        "validation_error",
    )


def test_a_key_restricted_to_accounts_reads_only_their_events(client: httpx.Client) -> None:
    own = open_account(client)["account_number"]
    other = open_account(client)["account_number"]
    key = _key(client, ["audit:read", "transactions:write"], account_numbers=[own])
    restricted = bearer(key["secret"])
    start = _feed_end(client)
    assert post(client, own, "2.00", headers=restricted).status_code == 201
    assert post(client, other, "3.00").status_code == 201
    _key(client, ["accounts:read"])
    assert client.patch(f"/v1/accounts/{own}", json={"status": "frozen"}).status_code == 200

    seen, _ = _follow(client, start, limit=1, headers=restricted)
    everything, _ = _follow(client, start)

    assert [(event["type"], event["account_number"]) for event in seen] == [
        ("transaction.posted", own),
        ("account.updated", own),
    ]
    assert seen[0]["actor"] == key["key_id"]
    assert [event["type"] for event in everything] == [
        "transaction.posted",
        "transaction.posted",
        "api_key.created",
        "account.updated",
    ]
    assert_problem(
        client.get("/v1/events", params={"account_number": other}, headers=restricted),
        404,
        "account_not_found",
    )
    assert len(_follow(client, account_number=own, headers=restricted)[0]) == 3
    assert _follow(client, start, headers=restricted, type="api_key.created")[0] == []


# --- A transaction's history ------------------------------------------------------------------


def _state(answer: dict[str, Any]) -> dict[str, Any]:
    """What a version of the history holds of a transaction as a route answered it."""
    fields = ("version", "amount", "transaction_type", "description", "status", "balance_after")
    return {
        **{field: answer[field] for field in fields},
        "changed_at": answer["updated_at"],
        "expires_at": None,
    }


def test_a_history_is_every_version_with_who_made_it(client: httpx.Client) -> None:
    number = open_account(client, initial_deposit="100.00")["account_number"]
    key = _key(client, ["transactions:write"])
    by_key = bearer(key["secret"])
    requests = [_request_id() for _ in range(4)]
    posted = post(client, number, "10.00", status="pending", headers=requests[0])
    assert posted.status_code == 201, posted.text
    url = f"/v1/transactions/{posted.json()['transaction_id']}"
    patched = client.patch(url, json={"status": "success"}, headers={**by_key, **requests[1]})
    assert patched.status_code == 200, patched.text
    put = client.put(
        url,
        json={"amount": "12.00", "transaction_type": "deposit", "description": "corrected"},
        headers={**by_key, **requests[2]},
    )
    assert put.status_code == 200, put.text
    assert client.delete(url, headers=requests[3]).status_code == 204
    assert_problem(client.get(url), 404, "transaction_not_found")

    answer = client.get(f"{url}/history")

    assert answer.status_code == 200, answer.text
    history = exact(answer)
    assert history["next_cursor"] is None
    versions = history["items"]
    assert [(v["change"], v["changed_by"], v["request_id"]) for v in versions] == [
        ("created", "master", requests[0]["x-request-id"]),
        ("amended", key["key_id"], requests[1]["x-request-id"]),
        ("amended", key["key_id"], requests[2]["x-request-id"]),
        ("deleted", "master", requests[3]["x-request-id"]),
    ]
    for version, shown in zip(versions, (posted, patched, put), strict=False):
        assert {name: version[name] for name in _state(exact(shown))} == _state(exact(shown))
    assert [v["balance_after"] for v in versions] == [None, 110, 112, None]
    deleted = versions[3]
    assert (deleted["version"], deleted["amount"], deleted["status"]) == (4, 12, "success")
    assert deleted["changed_at"] == _events_of(client, number)[-1]["occurred_at"]
    assert set(deleted) == {
        "version",
        "change",
        "changed_at",
        "changed_by",
        "request_id",
        "amount",
        "transaction_type",
        "description",
        "status",
        "expires_at",
        "balance_after",
    }


def test_a_history_comes_a_page_at_a_time(client: httpx.Client) -> None:
    number = open_account(client)["account_number"]
    url = f"/v1/transactions/{post(client, number, '1.00').json()['transaction_id']}"
    for text in ("a", "b", "c", "d"):
        assert client.patch(url, json={"description": text}).status_code == 200

    pages: list[list[int]] = []
    cursor: str | None = ""
    while cursor is not None:
        page = client.get(f"{url}/history", params={"limit": 2, "cursor": cursor}).json()
        pages.append([version["version"] for version in page["items"]])
        cursor = page["next_cursor"]

    assert pages == [[1, 2], [3, 4], [5]]
    for query in ("limit=0", "limit=501", "limit=1&limit=1", "cursor=forged"):
        assert_problem(client.get(f"{url}/history?{query}"), 422, "validation_error")


def test_a_history_is_not_found_only_for_an_id_never_used_or_not_seen(
    client: httpx.Client,
) -> None:
    own = open_account(client, initial_deposit="5.00")["account_number"]
    other = open_account(client, initial_deposit="5.00")["account_number"]
    own_transaction = post(client, own, "1.00").json()["transaction_id"]
    other_transaction = post(client, other, "1.00").json()["transaction_id"]
    key = bearer(_key(client, ["transactions:read"], account_numbers=[own])["secret"])

    for never_used in (refs.transaction_id(), "short", "not-an-id!"):
        assert_problem(
            client.get(f"/v1/transactions/{never_used}/history"), 404, "transaction_not_found"
        )
    assert_problem(
        client.get(f"/v1/transactions/{other_transaction}/history", headers=key),
        404,
        "transaction_not_found",
    )
    assert client.get(f"/v1/transactions/{own_transaction}/history", headers=key).status_code == 200


def test_a_closed_accounts_transactions_keep_their_history(client: httpx.Client) -> None:
    number = open_account(client)["account_number"]
    deposit = post(client, number, "5.00").json()["transaction_id"]
    assert post(client, number, "5.00", "withdrawal").status_code == 201
    assert client.delete(f"/v1/accounts/{number}").status_code == 204

    history = client.get(f"/v1/transactions/{deposit}/history")

    assert history.status_code == 200, history.text
    assert [version["change"] for version in history.json()["items"]] == ["created"]
    assert _events_of(client, number)[-1]["type"] == "account.closed"
