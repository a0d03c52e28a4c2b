"""``bank-api verify`` on the in-memory store: every account's journal, closed ones included,
one line per broken account naming it and what broke, a summary line, and the exit status.
(On SQLite and PostgreSQL, as an operator runs it: tests/integration/test_cli_verify.py.)"""

from __future__ import annotations

import dataclasses
import io
from decimal import Decimal

import pytest

from bank_adapters.memory import InMemoryStore
from bank_domain import AccountNumber, CloseAccountCommand, Ledger, Money
from bank_web import verify_command
from bank_web.cli import main
from bank_web.verify_command import (
    ALL_SOUND,
    NOT_CHECKED,
    SOME_BROKEN,
    verify_every_account,
)

from .support import number_of, open_account, post


async def verify(ledger: Ledger) -> tuple[int, list[str]]:
    out = io.StringIO()
    status = await verify_every_account(ledger, out)
    return status, out.getvalue().splitlines()


async def three_accounts(ledger: Ledger) -> tuple[str, str, str]:
    """Two open accounts, of 95.00 and 45.00 in two entries each, and a closed one whose three
    entries (+20.00, -5.00, -15.00) stay."""
    numbers = []
    for deposit in ("100.00", "50.00", "20.00"):
        number = number_of(await open_account(ledger, deposit))
        await post(ledger, number, "5.00", "withdrawal")
        numbers.append(number)
    first, second, closed = numbers
    await post(ledger, closed, "15.00", "withdrawal")
    await ledger.close_account(CloseAccountCommand(closed))
    return first, second, closed


async def test_sound_journals_exit_0_with_the_summary_alone(ledger: Ledger) -> None:
    await three_accounts(ledger)
    await open_account(ledger)  # no entry at all
    assert await verify(ledger) == (ALL_SOUND, ["4 accounts verified, 0 broken"])


async def test_no_account_is_sound(ledger: Ledger) -> None:
    assert await verify(ledger) == (ALL_SOUND, ["0 accounts verified, 0 broken"])


async def test_each_broken_account_is_named_with_what_broke(
    ledger: Ledger, store: InMemoryStore
) -> None:
    first, second, closed = await three_accounts(ledger)
    store.accounts[AccountNumber(first)].balance = Money(Decimal("1000.00"))
    entries = store.journal[AccountNumber(second)]
    entries[1] = dataclasses.replace(entries[1], hash="0" * 64)
    del store.journal[AccountNumber(closed)][1]

    status, lines = await verify(ledger)

    assert status == SOME_BROKEN
    by_account = {
        first: f"account {first}: balance 1000.00 but its 2 entries sum to 95.00",
        second: f"account {second}: first bad entry 2: hash_mismatch (its hash does not recompute)",
        closed: f"account {closed}: balance 0.00 but its 2 entries sum to 5.00; first bad "
        "entry 2: entry_missing (the ids jump, or end before the account's last)",
    }
    # In account-number order, as they are checked.
    assert lines == [*(by_account[n] for n in sorted(by_account)), "3 accounts verified, 3 broken"]


async def test_a_changed_amount_is_named(ledger: Ledger, store: InMemoryStore) -> None:
    number = number_of(await open_account(ledger, "100.00"))
    await post(ledger, number, "30.00", "withdrawal")
    entries = store.journal[AccountNumber(number)]
    entries[0] = dataclasses.replace(entries[0], amount=Money(Decimal("90.00")))

    status, lines = await verify(ledger)

    assert status == SOME_BROKEN
    assert lines[0] == (
        f"account {number}: balance 70.00 but its 2 entries sum to 60.00; first bad entry 1: "
        "broken_link (neither its hash nor its balance_after follows the entry before)"
    )
    assert lines[-1] == "1 accounts verified, 1 broken"


def test_memory_is_refused_with_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--database-url", "memory://", "verify"]) == NOT_CHECKED
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "memory://" in captured.err


class _BrokenStore:
    """A store with a bug: it fails as no store error would."""

    def unit_of_work(self, *, read_only: bool = False) -> object:
        raise RuntimeError("a bug in the store")

    async def dispose(self) -> None:
        pass


def test_a_defect_exits_2_not_1(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Exit 1 says a journal is broken; a defect says nothing of the journals."""
    monkeypatch.setattr(verify_command, "require_newest_schema", lambda url: None)
    monkeypatch.setattr(verify_command, "open_store", lambda url: _BrokenStore())
    assert verify_command.run_verify_command("sqlite:///bank.db") == NOT_CHECKED
    [logged] = caplog.records
    assert "nothing was checked" in logged.getMessage()
    assert logged.exc_info is not None
