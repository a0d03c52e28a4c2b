"""``bank-api verify`` as an operator runs it: a subprocess on a SQLite file and on a PostgreSQL
database. Sound journals exit 0 with the summary alone; a broken one is named, and exits 1; a
database that cannot be checked exits 2 in one line, and is neither made nor migrated.

Last, journals tampered with in the database behind the ledger's back, as someone with the
database's keys could (the journal's triggers put out of the way first): `GET
/v1/accounts/{n}/verify` on the real server, and the command, name each broken account and
what broke."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
from sqlalchemy import text

from bank_adapters.sql import SqlStore, current_revision, downgrade, upgrade_to_head
from bank_domain import (
    CloseAccountCommand,
    Ledger,
    OpenAccountCommand,
    PostTransactionCommand,
)
from tests.integration.api.helpers import exact, open_account, post
from tests.support.keys import AUTH
from tests.support.postgres import postgres_server_url, throwaway_database
from tests.support.server import assert_clean_log, running_server

ALL_SOUND: Final = 0
SOME_BROKEN: Final = 1
NOT_CHECKED: Final = 2


def bank_api(url: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bank_web.cli", "--database-url", url, *arguments],
        env={**os.environ, "BANK_LOG_LEVEL": "warning"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of its own at the newest schema, for each test."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'bank.db'}"
        asyncio.run(upgrade_to_head(url))
        yield url
        return
    with throwaway_database(postgres_server_url(), "bank_cli_verify") as url:
        asyncio.run(upgrade_to_head(url))
        yield url


def make_accounts(url: str) -> tuple[str, str]:
    """An open account (100.00, -30.00: 70.00) and a closed one (20.00, -20.00)."""

    async def run() -> tuple[str, str]:
        store = SqlStore.from_url(url)
        try:
            ledger = Ledger(store.unit_of_work)
            numbers = []
            for deposit in ("100.00", "20.00"):
                account = await ledger.open_account(
                    OpenAccountCommand("Ada", "checking", initial_deposit=deposit)
                )
                numbers.append(account.number.value)
            open_one, closed = numbers
            await ledger.post_transaction(PostTransactionCommand(open_one, "30.00", "withdrawal"))
            await ledger.post_transaction(PostTransactionCommand(closed, "20.00", "withdrawal"))
            await ledger.close_account(CloseAccountCommand(closed))
            return open_one, closed
        finally:
            await store.dispose()

    return asyncio.run(run())


def change_balance(url: str, number: str, cents: int) -> None:
    """What a hand-typed UPDATE would do: the row's balance moved, no entry made."""

    async def run() -> None:
        store = SqlStore.from_url(url)
        try:
            async with store.engine.begin() as connection:
                await connection.execute(
                    text(
                        "UPDATE accounts SET balance_cents = balance_cents + :cents "
                        "WHERE account_number = :number"
                    ),
                    {"cents": cents, "number": number},
                )
        finally:
            await store.dispose()

    asyncio.run(run())


def test_sound_journals_exit_0_with_the_summary_alone(database_url: str) -> None:
    make_accounts(database_url)
    verified = bank_api(database_url, "verify")
    assert verified.returncode == ALL_SOUND, verified.stderr
    assert verified.stdout == "2 accounts verified, 0 broken\n"
    assert verified.stderr == ""


def test_a_balance_moved_by_hand_is_named_and_exits_1(database_url: str) -> None:
    open_one, closed = make_accounts(database_url)
    change_balance(database_url, open_one, 100_000)
    change_balance(database_url, closed, 1)
    verified = bank_api(database_url, "verify")
    assert verified.returncode == SOME_BROKEN, verified.stderr
    lines = {
        open_one: f"account {open_one}: balance 1070.00 but its 2 entries sum to 70.00",
        closed: f"account {closed}: balance 0.01 but its 2 entries sum to 0.00",
    }
    assert verified.stdout.splitlines() == [
        *(lines[number] for number in sorted(lines)),
        "2 accounts verified, 2 broken",
    ]


def test_a_database_behind_the_newest_schema_is_not_migrated(database_url: str) -> None:
    asyncio.run(downgrade(database_url, "-1"))
    before = asyncio.run(current_revision(database_url))
    verified = bank_api(database_url, "verify")
    assert verified.returncode == NOT_CHECKED
    assert verified.stdout == ""
    [line] = verified.stderr.splitlines()
    assert f"is at revision {before}" in line
    assert "bank-api migrate" in line
    assert asyncio.run(current_revision(database_url)) == before


def test_a_sqlite_file_that_is_not_there_is_not_made(tmp_path: Path) -> None:
    path = tmp_path / "typo.db"
    verified = bank_api(f"sqlite:///{path}", "verify")
    assert verified.returncode == NOT_CHECKED
    [line] = verified.stderr.splitlines()
    assert str(path) in line
    assert not path.exists()


def test_a_file_that_is_no_database_or_never_migrated_exits_2(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_text("not a database")
    empty = tmp_path / "empty.db"
    with sqlite3.connect(empty) as connection:
        connection.execute("CREATE TABLE something (a)")
    for path, said in ((garbage, "not a database"), (empty, "never migrated")):
        verified = bank_api(f"sqlite:///{path}", "verify")
        assert verified.returncode == NOT_CHECKED
        [line] = verified.stderr.splitlines()
        assert said in line
        assert "Traceback" not in verified.stderr


def test_a_postgresql_server_that_does_not_answer_exits_2() -> None:
    verified = bank_api("postgresql://bank:secret@127.0.0.1:9/bank", "verify")
    assert verified.returncode == NOT_CHECKED
    [line] = verified.stderr.splitlines()
    assert "127.0.0.1:9" in line
    assert "secret" not in line


# --- Tampered journals, named ------------------------------------------------------------------

_SECOND_ENTRY: Final = "WHERE account_number = :n AND entry_id = 2"
TAMPERING: Final = {
    "balance": "UPDATE accounts SET balance_cents = balance_cents + 100000 "
    "WHERE account_number = :n",
    "amount": f"UPDATE journal_entries SET amount_cents = -1000 {_SECOND_ENTRY}",
    "hash": f"UPDATE journal_entries SET hash = '{'f' * 64}' {_SECOND_ENTRY}",
    "removed": f"DELETE FROM journal_entries {_SECOND_ENTRY}",
}
FOUND: Final[dict[str, dict[str, Any]]] = {
    "balance": {
        "balance": Decimal("1070.00"),
        "entries_sum": Decimal("70.00"),
        "balance_matches": False,
        "chain_intact": True,
        "first_bad_entry": None,
    },
    "amount": {
        "balance": Decimal("70.00"),
        "entries_sum": Decimal("90.00"),
        "balance_matches": False,
        "chain_intact": False,
        "first_bad_entry": {"entry_id": 2, "reason": "broken_link"},
    },
    "hash": {
        "balance": Decimal("70.00"),
        "entries_sum": Decimal("70.00"),
        "balance_matches": True,
        "chain_intact": False,
        "first_bad_entry": {"entry_id": 2, "reason": "hash_mismatch"},
    },
    "removed": {
        "balance": Decimal("70.00"),
        "entries_sum": Decimal("100.00"),
        "balance_matches": False,
        "chain_intact": False,
        "first_bad_entry": {"entry_id": 2, "reason": "entry_missing"},
    },
}
TOLD: Final = {
    "balance": "balance 1070.00 but its 2 entries sum to 70.00",
    "amount": "balance 70.00 but its 2 entries sum to 90.00; first bad entry 2: broken_link",
    "hash": "first bad entry 2: hash_mismatch",
    "removed": "balance 70.00 but its 1 entries sum to 100.00; first bad entry 2: entry_missing",
}


@dataclass(frozen=True, slots=True)
class Served:
    database_url: str
    client: httpx.Client


@pytest.fixture
def served(database_url: str, tmp_path: Path) -> Iterator[Served]:
    log = tmp_path / "server.log"
    with (
        running_server(database_url, log) as base_url,
        httpx.Client(base_url=base_url, headers=AUTH, timeout=30) as client,
    ):
        yield Served(database_url, client)
    assert_clean_log(log)


def tamper(database_url: str, statement: str, number: str) -> None:
    """Runs ``statement`` with the journal's triggers out of the way (each test's database is
    its own, so they stay so)."""

    async def run() -> None:
        store = SqlStore.from_url(database_url)
        try:
            async with store.engine.begin() as connection:
                if store.engine.dialect.name == "postgresql":
                    await connection.execute(
                        text("ALTER TABLE journal_entries DISABLE TRIGGER USER")
                    )
                else:
                    for trigger in ("journal_entries_no_update", "journal_entries_no_delete"):
                        await connection.execute(text(f"DROP TRIGGER IF EXISTS {trigger}"))
                await connection.execute(text(statement), {"n": number})
        finally:
            await store.dispose()

    asyncio.run(run())


def test_each_tampered_journal_is_named_by_the_api_and_the_command(served: Served) -> None:
    client = served.client
    accounts = {}
    for kind in [*TAMPERING, "untouched"]:
        number = open_account(client, "100.00")["account_number"]
        assert post(client, number, "30.00", "withdrawal").status_code == 201
        accounts[kind] = number
    for kind, statement in TAMPERING.items():
        tamper(served.database_url, statement, accounts[kind])

    for kind, expected in FOUND.items():
        verified = client.get(f"/v1/accounts/{accounts[kind]}/verify")
        assert verified.status_code == 200, verified.text
        body = exact(verified)
        assert {field: body[field] for field in expected} == expected, kind
    sound = exact(client.get(f"/v1/accounts/{accounts['untouched']}/verify"))
    assert (sound["chain_intact"], sound["balance_matches"]) == (True, True)

    command = bank_api(served.database_url, "verify")
    assert command.returncode == SOME_BROKEN, command.stderr
    lines = command.stdout.splitlines()
    assert lines[-1] == "5 accounts verified, 4 broken"
    for kind, told in TOLD.items():
        [line] = [line for line in lines if line.startswith(f"account {accounts[kind]}: ")]
        assert told in line, (kind, line)
    assert not any(accounts["untouched"] in line for line in lines)
