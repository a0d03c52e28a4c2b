"""What must hold of the ledger after any fault: nothing half-written, nothing lost."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

import httpx

from tests.integration.api.helpers import exact, open_account
from tests.integration.faults.load import Posting

PAGE_LIMIT: Final = 500
MAX_PAGES: Final = 100


@dataclass(frozen=True, slots=True)
class HotAccount:
    number: str
    opening: Decimal
    opening_transaction_ids: frozenset[str] = field(default_factory=frozenset)


def open_hot_accounts(client: httpx.Client, count: int, opening: Decimal) -> dict[str, HotAccount]:
    """Opens ``count`` accounts, each with an initial deposit of ``opening``."""
    accounts = {}
    for _ in range(count):
        number = open_account(client, initial_deposit=str(opening))["account_number"]
        initial = {item["transaction_id"] for item in all_transactions(client, number)}
        assert len(initial) == (1 if opening else 0)
        accounts[number] = HotAccount(number, opening, frozenset(initial))
    return accounts


def all_transactions(client: httpx.Client, number: str) -> list[dict[str, Any]]:
    """Every listed transaction of the account, oldest first, across pages."""
    items: list[dict[str, Any]] = []
    params: dict[str, str | int] = {"limit": PAGE_LIMIT}
    for _ in range(MAX_PAGES):
        response = client.get(f"/v1/accounts/{number}/transactions", params=params)
        assert response.status_code == 200, response.text
        page = exact(response)
        items += page["items"]
        if page["next_cursor"] is None:
            return items
        params["cursor"] = page["next_cursor"]
    raise AssertionError(f"more than {MAX_PAGES} pages of transactions for {number}")


def effect_of(item: Mapping[str, Any]) -> Decimal:
    """What a listed transaction adds to its account's balance."""
    if item["status"] != "success":
        return Decimal(0)
    amount: Decimal = item["amount"]
    return amount if item["transaction_type"] == "deposit" else -amount


def stored_postings(client: httpx.Client, postings: Iterable[Posting]) -> dict[str, bool]:
    """GET /v1/transactions/{id} for each posting: True when it is stored (and then exactly
    as posted), False when the API does not know it."""

    def look_up(posting: Posting) -> tuple[str, bool]:
        response = client.get(f"/v1/transactions/{posting.transaction_id}")
        assert response.status_code in (200, 404), (posting.describe(), response.text)
        if response.status_code == 404:
            return posting.transaction_id, False
        stored = exact(response)
        status = "cancelled" if posting.cancelled else "success"
        assert (
            stored["account_number"],
            stored["transaction_type"],
            stored["amount"],
            stored["status"],
        ) == (posting.account_number, posting.transaction_type, posting.amount, status), (
            posting.describe(),
            stored,
        )
        if posting.cancelled:
            assert stored["balance_after"] is None, stored
        else:
            assert stored["balance_after"] is not None
            assert stored["balance_after"] >= 0, stored
        return posting.transaction_id, True

    with ThreadPoolExecutor(8) as pool:
        return dict(pool.map(look_up, list(postings)))


def assert_fates(
    postings: Iterable[Posting],
    is_stored: Mapping[str, bool],
    *,
    stored_when: set[int],
    absent_when: set[int],
) -> None:
    """Postings answered with a status in ``stored_when`` are stored, those in ``absent_when``
    are not; the others (no answer, or an answer that cannot know) may be either."""
    wrong = [
        posting.describe() + (" but stored" if is_stored[posting.transaction_id] else " but absent")
        for posting in postings
        if (posting.status in stored_when and not is_stored[posting.transaction_id])
        or (posting.status in absent_when and is_stored[posting.transaction_id])
    ]
    assert not wrong, f"{len(wrong)} postings whose answer and storage disagree:\n" + "\n".join(
        wrong[:20]
    )


def assert_balances_hold(
    client: httpx.Client,
    accounts: Mapping[str, HotAccount],
    present: Iterable[Posting],
    *,
    chained: bool = True,
) -> None:
    """For every account: the listed transactions are exactly its opening deposit and the
    postings that are present; the balance equals the opening plus their effects, equals the
    sum over the listing, and is not below zero; recalculating it finds no drift. ``chained``
    (for postings never changed afterwards): each listed ``balance_after`` follows from the one
    before, so the postings were applied one at a time, in the order listed."""
    present = list(present)
    for number, account in accounts.items():
        mine = [posting for posting in present if posting.account_number == number]
        listed = all_transactions(client, number)
        listed_ids = [item["transaction_id"] for item in listed]
        assert len(listed_ids) == len(set(listed_ids)), f"{number}: a transaction listed twice"
        expected_ids = {posting.transaction_id for posting in mine}
        expected_ids |= account.opening_transaction_ids
        assert set(listed_ids) == expected_ids, (
            f"{number}: listed but not expected {sorted(set(listed_ids) - expected_ids)[:10]}, "
            f"expected but not listed {sorted(expected_ids - set(listed_ids))[:10]}"
        )

        expected = account.opening + sum((p.effect for p in mine), Decimal(0))
        listed_sum = sum((effect_of(item) for item in listed), Decimal(0))
        response = client.get(f"/v1/accounts/{number}")
        assert response.status_code == 200, response.text
        balance: Decimal = exact(response)["balance"]
        assert balance == expected == listed_sum, (
            f"{number}: balance {balance}, expected {expected}, sum of listing {listed_sum}"
        )
        assert balance >= 0

        assert all(item["balance_after"] is None or item["balance_after"] >= 0 for item in listed)
        running = Decimal(0)
        for item in listed if chained else []:
            running += effect_of(item)
            assert item["balance_after"] == running, (
                f"{number}: {item['transaction_id']} says balance_after "
                f"{item['balance_after']}, but the transactions before it and it sum to {running}"
            )
            assert running >= 0

        recalculated = client.post(f"/v1/accounts/{number}/balance/recalculate")
        assert recalculated.status_code == 200, recalculated.text
        outcome = exact(recalculated)
        assert outcome["corrected"] is False, outcome
        assert outcome["balance"] == outcome["previous_balance"] == expected, outcome
