"""The database roles a review expects (deploy/roles.sql, bank_adapters/sql/privileges.py): a
migration role that owns the schema and runs the migrations, and a runtime role that serves the
whole API but can change no schema, no journal entry and no event, and truncate nothing.

Roles are the whole server's: these get unique names, and are dropped with their database."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

import asyncpg
import httpx
import pytest

from bank_adapters.sql import SqlStore
from bank_adapters.sql.privileges import RUNTIME_PRIVILEGES
from bank_adapters.sql.schema import metadata
from bank_domain import Ledger
from tests.integration.api.helpers import assert_problem, open_account, post
from tests.support import refs
from tests.support.keys import AUTH, bearer
from tests.support.postgres import postgres_server_url, throwaway_database
from tests.support.server import ServerProcess

ROLES_SQL: Final = Path(__file__).parents[2] / "deploy" / "roles.sql"
TIMEOUT_SECONDS: Final = 60


@dataclass(frozen=True)
class Roles:
    database_url: str
    """As the superuser of BANK_TEST_POSTGRES_URL."""
    migrator: str
    runtime: str

    def url_as(self, role: str) -> str:
        scheme, rest = self.database_url.split("://", 1)
        return f"{scheme}://{role}@{rest.split('@', 1)[1]}"


def _psql() -> str:
    found = shutil.which("psql") or "/usr/lib/postgresql/15/bin/psql"
    assert Path(found).exists(), "psql (postgresql-client) runs deploy/roles.sql"
    return found


def _execute(url: str, statement: str) -> None:
    async def run() -> None:
        connection = await asyncpg.connect(url, timeout=10)
        try:
            await connection.execute(statement, timeout=10)
        finally:
            await connection.close()

    asyncio.run(run())


@pytest.fixture(scope="module")
def roles() -> Iterator[Roles]:
    server = postgres_server_url()
    suffix = uuid.uuid4().hex[:10]
    made = Roles("", f"bank_owner_{suffix}", f"bank_app_{suffix}")
    try:
        with throwaway_database(server, "bank_roles") as url:
            made = Roles(url, made.migrator, made.runtime)
            for _ in range(2):  # once to make them, once more to show it changes nothing
                applied = subprocess.run(
                    [_psql(), "-X", "-v", "ON_ERROR_STOP=1", "-v", f"migrator={made.migrator}",
                     "-v", f"runtime={made.runtime}", "-d", url, "-f", str(ROLES_SQL)],
                    capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False,
                )  # fmt: skip
                assert applied.returncode == 0, applied.stderr
            migrated = subprocess.run(
                [sys.executable, "-m", "bank_web.cli", "--database-url",
                 made.url_as(made.migrator), "migrate", "--runtime-role", made.runtime],
                capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False,
                env={**os.environ, "BANK_DATABASE_WAIT_SECONDS": "0"},
            )  # fmt: skip
            assert migrated.returncode == 0, migrated.stderr
            yield made
    finally:
        for role in (made.runtime, made.migrator):
            _execute(server, f'DROP ROLE IF EXISTS "{role}"')


def test_every_table_of_the_schema_has_its_runtime_privileges_decided() -> None:
    assert set(RUNTIME_PRIVILEGES) == set(metadata.tables) | {"alembic_version"}


def test_the_migrations_ran_as_the_migration_role_which_owns_every_table(roles: Roles) -> None:
    async def owners() -> set[str]:
        connection = await asyncpg.connect(roles.database_url, timeout=10)
        try:
            rows = await connection.fetch(
                "SELECT tableowner FROM pg_tables WHERE schemaname = 'public'"
            )
            schema_owner = await connection.fetchval(
                "SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'public'"
            )
        finally:
            await connection.close()
        return {row["tableowner"] for row in rows} | {schema_owner}

    assert asyncio.run(owners()) == {roles.migrator}


def test_the_runtime_role_serves_the_whole_flow(roles: Roles, tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    environment = {"BANK_EXPIRY_SWEEP_SECONDS": "0.2"}
    with (
        ServerProcess(roles.url_as(roles.runtime), log, environment=environment) as server,
        httpx.Client(base_url=server.base_url, headers=AUTH, timeout=30) as client,
    ):
        payer = open_account(client, initial_deposit="500.00")["account_number"]
        payee = open_account(client)["account_number"]
        assert (
            client.patch(f"/v1/accounts/{payer}", json={"overdraft_limit": 50}).status_code == 200
        )
        assert post(client, payer, "20.00").status_code == 201  # the grouped path
        # A hold, captured in part; another left to expire (the sweeper records it).
        hold = refs.transaction_id()
        assert (
            post(
                client, payer, "80.00", "withdrawal", transaction_id=hold, status="pending"
            ).status_code
            == 201
        )
        captured = client.patch(
            f"/v1/transactions/{hold}", json={"amount": 60, "status": "success"}
        )
        assert captured.status_code == 200, captured.text
        expiring = refs.transaction_id()
        soon = (
            __import__("datetime").datetime.now(__import__("datetime").UTC) + timedelta(seconds=1)
        ).isoformat()
        assert (
            post(
                client,
                payer,
                "5.00",
                "withdrawal",
                transaction_id=expiring,
                status="pending",
                expires_at=soon,
            ).status_code
            == 201
        )
        # A deletion, a recalculation, a transfer and its reversal, a batch.
        doomed = refs.transaction_id()
        assert post(client, payer, "1.00", transaction_id=doomed).status_code == 201
        assert client.delete(f"/v1/transactions/{doomed}").status_code == 204
        assert client.post(f"/v1/accounts/{payer}/balance/recalculate").status_code == 200
        transfer = client.post(
            "/v1/transfers", json={"from_account": payer, "to_account": payee, "amount": 30}
        )
        assert transfer.status_code == 201, transfer.text
        transfer_id = transfer.json()["transfer_id"]
        assert client.post(f"/v1/transfers/{transfer_id}/reversal").status_code == 200
        batch = client.post(
            "/v1/transactions/batch",
            json={
                "transactions": [
                    {"account_number": payee, "amount": 10, "transaction_type": "deposit"},
                    {"account_number": payee, "amount": 4, "transaction_type": "withdrawal"},
                ]
            },
        )
        assert batch.status_code == 201, batch.text
        # An Idempotency-Key, replayed.
        keyed = {"Idempotency-Key": f"roles-{uuid.uuid4().hex}"}
        body = {"account_number": payee, "amount": 3, "transaction_type": "deposit"}
        first = client.post("/v1/transactions", json=body, headers=keyed)
        again = client.post("/v1/transactions", json=body, headers=keyed)
        assert first.status_code == 201, first.text
        assert again.status_code == 201, again.text
        assert again.headers["idempotent-replayed"] == "true"
        # A key made, used, revoked, refused; the feed and the journal read.
        made = client.post("/v1/api-keys", json={"name": "reader", "scopes": ["accounts:read"]})
        assert made.status_code == 201, made.text
        assert (
            client.get(f"/v1/accounts/{payer}", headers=bearer(made.json()["secret"])).status_code
            == 200
        )
        assert client.delete(f"/v1/api-keys/{made.json()['key_id']}").status_code == 204
        assert_problem(
            client.get(f"/v1/accounts/{payer}", headers=bearer(made.json()["secret"])),
            401,
            "unauthenticated",
        )
        assert client.get("/v1/events", params={"account_number": payer}).status_code == 200
        assert client.get(f"/v1/accounts/{payer}/verify").json()["chain_intact"] is True
        # Closing an account (its balance taken out first).
        closing = open_account(client, initial_deposit="2.00")["account_number"]
        assert post(client, closing, "2.00", "withdrawal").status_code == 201
        assert client.delete(f"/v1/accounts/{closing}").status_code == 204

        def expired() -> bool:
            history = client.get(f"/v1/transactions/{expiring}/history").json()["items"]
            return bool(history[-1]["change"] == "expired")

        for _ in range(100):
            if expired():
                break
            time.sleep(0.1)
        assert expired(), "the sweeper recorded the expiry as the runtime role"
    log_text = log.read_text()
    assert "permission denied" not in log_text, log_text[-4000:]

    async def forget_every_kept_answer() -> int:
        store = SqlStore.from_url(roles.url_as(roles.runtime))
        try:
            # Two days on, every kept answer is past the 24 hours' retention.
            later = Ledger(store.unit_of_work, lambda: datetime.now(UTC) + timedelta(days=2))
            return await later.forget_expired_idempotency_keys(timedelta(hours=24))
        finally:
            await store.dispose()

    assert asyncio.run(forget_every_kept_answer()) >= 1  # the periodic cleanup's DELETE


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE journal_entries SET amount_cents = amount_cents",
        "DELETE FROM journal_entries",
        "TRUNCATE journal_entries",
        "UPDATE events SET actor_id = actor_id",
        "DELETE FROM events",
        "DELETE FROM accounts",
        "DELETE FROM transactions",
        "DELETE FROM api_keys",
        "UPDATE idempotency_keys SET scope = scope",
        "TRUNCATE accounts, transactions",
        "INSERT INTO alembic_version VALUES ('forged')",
        "CREATE TABLE smuggled (id integer)",
        "CREATE TEMPORARY TABLE smuggled (id integer)",
        "ALTER TABLE accounts ADD COLUMN smuggled integer",
        "ALTER TABLE journal_entries DISABLE TRIGGER journal_entries_append_only",
        "DROP TABLE journal_entries",
        "CREATE INDEX smuggled ON accounts (customer_name)",
        "CREATE FUNCTION smuggled() RETURNS integer LANGUAGE sql AS 'SELECT 1'",
    ],
)
def test_the_runtime_role_may_not(roles: Roles, statement: str) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        _execute(roles.url_as(roles.runtime), statement)


def test_granting_to_a_role_that_does_not_exist_is_one_line_and_changes_nothing(
    roles: Roles,
) -> None:
    refused = subprocess.run(
        [sys.executable, "-m", "bank_web.cli", "--database-url", roles.url_as(roles.migrator),
         "migrate", "--runtime-role", f"{roles.runtime}_missing"],
        capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False,
        env={**os.environ, "BANK_DATABASE_WAIT_SECONDS": "0"},
    )  # fmt: skip
    assert refused.returncode == 1
    assert "Traceback" not in refused.stderr
    # (Alembic's own INFO lines come before it.)
    said = refused.stderr.strip().splitlines()[-1]
    assert said.startswith("bank-api: Cannot migrate the database at postgresql"), said
    assert said.endswith(f': role "{roles.runtime}_missing" does not exist.'), said
