"""``bank-api verify`` as an operator runs it: a subprocess on a SQLite file and on a PostgreSQL
database. Sound journals exit 0 with the summary alone; a broken one is named, and exits 1; a
database that cannot be checked exits 2 in one line, and is neither made nor migrated."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest
from sqlalchemy import text

from bank_adapters.sql import SqlStore, current_revision, downgrade, upgrade_to_head
from bank_domain import (
    CloseAccountCommand,
    Ledger,
    OpenAccountCommand,
    PostTransactionCommand,
)
from tests.support.postgres import postgres_server_url, throwaway_database

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
