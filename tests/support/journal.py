"""The journal's hash chain recomputed as an outside auditor would: from the API's answers
alone, with nothing of the service's code (contract section 11).

Each entry's text is ``prev|entry_id|account_number|transaction_id|amount|balance_after|
posted_at``: the amounts read from the JSON as exact decimals and written with two decimals,
``posted_at`` exactly as the API returned it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, Final

GENESIS: Final = "0" * 64


def two_decimals(amount: Decimal) -> str:
    """How an auditor writes an amount read from the JSON: ``-5.00``, ``0.30``."""
    return f"{amount:.2f}"


def entry_text(previous_hash: str, entry: Mapping[str, Any]) -> str:
    return "|".join(
        (
            previous_hash,
            str(entry["entry_id"]),
            entry["account_number"],
            entry["transaction_id"],
            two_decimals(entry["amount"]),
            two_decimals(entry["balance_after"]),
            entry["posted_at"],
        )
    )


def recomputed_hashes(entries: Iterable[Mapping[str, Any]]) -> list[str]:
    """The hash each entry must have, oldest first, given the ones before it as answered."""
    hashes = []
    previous = GENESIS
    for entry in entries:
        hashes.append(hashlib.sha256(entry_text(previous, entry).encode("utf-8")).hexdigest())
        previous = entry["hash"]
    return hashes


def assert_chain_recomputes(entries: list[dict[str, Any]], balance: Decimal) -> None:
    """Every hash recomputes, entry ids run 1, 2, 3... with no gap, each balance_after is the
    running sum of the amounts, and the last one is ``balance``. ``entries`` are an account's
    entries as the API returned them, every page, numbers read as Decimals."""
    previous = GENESIS
    for entry, recomputed in zip(entries, recomputed_hashes(entries), strict=True):
        assert entry["hash"] == recomputed, (
            f"entry {entry['entry_id']} of {entry['account_number']}: its hash is not the "
            f"SHA-256 of {entry_text(previous, entry)!r}"
        )
        previous = entry["hash"]
    ids = [entry["entry_id"] for entry in entries]
    assert ids == list(range(1, len(entries) + 1)), f"entry ids with a gap: {ids}"
    running = Decimal("0.00")
    for entry in entries:
        running += entry["amount"]
        assert entry["balance_after"] == running, f"balance_after is no running sum: {entry}"
    assert running == balance, f"the entries sum to {running}, the balance is {balance}"
