"""``bank-api keys create|list|revoke`` as an operator runs them: subprocesses on a SQLite file,
acting as the master key. The secret is printed once, alone on the last line; the store keeps
only its SHA-256, and the ledger over the same file recognises it."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bank_adapters.sql import SqlStore
from bank_domain import Actor, Ledger, Scope
from bank_domain.identifiers import AccountNumber

SECRET = re.compile(r"bk_[A-Za-z0-9_-]{43}")


def bank_api(database: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "bank_web.cli",
            "--database-url",
            f"sqlite:///{database}",
            *arguments,
        ],
        env={**os.environ, "BANK_LOG_LEVEL": "warning"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def authenticate(database: Path, secret: str) -> Actor | None:
    async def run() -> Actor | None:
        store = SqlStore.from_url(f"sqlite:///{database}")
        try:
            return await Ledger(store.unit_of_work).authenticate(secret)
        finally:
            await store.dispose()

    return asyncio.run(run())


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "bank.db"


def test_create_prints_the_secret_alone_on_the_last_line_and_keeps_only_its_hash(
    database: Path,
) -> None:
    made = bank_api(
        database,
        "keys",
        "create",
        "--name",
        "Nightly report",
        "--scopes",
        "accounts:read,transactions:read",
        "--accounts",
        "1234567890,0987654321",
        "--expires-at",
        "2099-01-01T00:00:00+02:00",
    )

    assert made.returncode == 0, made.stderr
    lines = made.stdout.strip().splitlines()
    secret = lines[-1]
    assert SECRET.fullmatch(secret)
    assert secret not in made.stderr
    assert secret not in "\n".join(lines[:-1])
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT * FROM api_keys").fetchall()
    assert len(rows) == 1
    assert secret not in repr(rows)
    assert hashlib.sha256(secret.encode()).hexdigest() in rows[0]
    actor = authenticate(database, secret)
    assert actor is not None
    assert actor.scopes == {Scope.ACCOUNTS_READ, Scope.TRANSACTIONS_READ}
    assert actor.account_numbers == frozenset(
        {AccountNumber("1234567890"), AccountNumber("0987654321")}
    )


def test_list_shows_every_key_without_secrets_and_revoke_refuses_it(database: Path) -> None:
    first = bank_api(database, "keys", "create", "--name", "one", "--scopes", "keys:admin")
    second = bank_api(database, "keys", "create", "--name", "two", "--scopes", "audit:read")
    assert first.returncode == second.returncode == 0
    secret = first.stdout.strip().splitlines()[-1]

    listed = bank_api(database, "keys", "list")
    assert listed.returncode == 0, listed.stderr
    assert secret not in listed.stdout
    assert not SECRET.search(listed.stdout)
    rows = [line.split("\t") for line in listed.stdout.strip().splitlines()[1:]]
    assert [row[1] for row in rows] == ["one", "two"]
    key_id = rows[0][0]
    assert rows[0][-1] == "-"

    assert authenticate(database, secret) is not None
    revoked = bank_api(database, "keys", "revoke", key_id)
    assert revoked.returncode == 0, revoked.stderr
    again = bank_api(database, "keys", "revoke", key_id)
    assert again.returncode == 0
    assert again.stdout == revoked.stdout
    assert authenticate(database, secret) is None
    relisted = [line.split("\t") for line in bank_api(database, "keys", "list").stdout.splitlines()]
    assert relisted[1][-1] != "-"
    assert relisted[2][-1] == "-"


@pytest.mark.parametrize(
    "arguments",
    [
        ["--name", "x", "--scopes", "accounts:read,no:such"],
        ["--name", "", "--scopes", "accounts:read"],
        ["--name", "x", "--scopes", "keys:admin", "--accounts", "1234567890"],
        ["--name", "x", "--scopes", "accounts:read", "--expires-at", "2000-01-01T00:00:00Z"],
        ["--name", "x", "--scopes", "accounts:read", "--expires-at", "tomorrow"],
    ],
)
def test_a_key_the_rules_refuse_is_one_line_and_no_key(
    database: Path, arguments: list[str]
) -> None:
    refused = bank_api(database, "keys", "create", *arguments)

    assert refused.returncode == 2
    assert "Traceback" not in refused.stderr
    assert refused.stderr.strip().splitlines()[-1].startswith("bank-api: ")
    assert not SECRET.search(refused.stdout + refused.stderr)
    assert bank_api(database, "keys", "list").stdout.strip().splitlines()[1:] == []


def test_revoking_an_unknown_key_fails_in_one_line(database: Path) -> None:
    refused = bank_api(database, "keys", "revoke", "key_" + "0" * 32)

    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines()[-1] == (
        "bank-api: No API key has the id key_" + "0" * 32 + "."
    )


def test_memory_is_refused_since_it_keeps_nothing() -> None:
    refused = subprocess.run(
        [sys.executable, "-m", "bank_web.cli", "--database-url", "memory://", "keys", "list"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode == 2
    assert "memory://" in refused.stderr
