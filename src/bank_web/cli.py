"""``bank-api``: serve the API, bring the database to the newest schema, or manage API keys."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import sys
from datetime import datetime

import uvicorn

from bank_adapters.stores import MEMORY_URL, migrate, open_store
from bank_domain.api_keys import ApiKey
from bank_domain.errors import InvalidValue, LedgerError, StorageUnavailable
from bank_domain.ledger import Ledger
from bank_domain.use_cases.api_keys import CreateApiKeyCommand, ListApiKeysQuery
from bank_web.settings import Settings

logger = logging.getLogger("bank_web")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bank-api", description=__doc__)
    parser.add_argument(
        "--database-url",
        help="sqlite:///path, postgresql://user@host:port/db or memory:// "
        "(default: $BANK_DATABASE_URL, else sqlite:///./bank.db)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="migrate the database, then serve the API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="server processes")
    commands.add_parser("migrate", help="bring the database to the newest schema, then exit")
    keys = commands.add_parser("keys", help="make, list and revoke API keys (as master)")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    create = key_commands.add_parser(
        "create", help="make a key; its secret is printed once, alone on the last line"
    )
    create.add_argument("--name", required=True)
    create.add_argument("--scopes", required=True, help="e.g. accounts:read,transactions:read")
    create.add_argument("--accounts", help="account numbers, comma-separated (default: every)")
    create.add_argument("--expires-at", help="an RFC 3339 time with an offset (default: never)")
    key_commands.add_parser("list", help="every key, revoked ones included; never a secret")
    revoke = key_commands.add_parser("revoke", help="revoke a key (again: no change)")
    revoke.add_argument("key_id")
    return parser


def main(argv: list[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    if arguments.database_url:
        # Server workers are fresh processes that read their settings from the environment.
        os.environ["BANK_DATABASE_URL"] = arguments.database_url
    settings = Settings()
    logging.basicConfig(level=settings.log_level.upper(), format="%(levelname)s %(message)s")
    url = settings.database_url
    if arguments.command == "keys":
        return _keys(arguments, url)
    if arguments.command == "migrate":
        if not _migrated(url):
            return 1
        print(f"The database at {_safe(url)} has the newest schema.")
        return 0
    if url == MEMORY_URL and arguments.workers > 1:
        print("memory:// lives in one process: serve it with --workers 1.", file=sys.stderr)
        return 2
    if not settings.cursor_secret:
        # One secret for the run, handed to every worker (fresh processes) through the
        # environment, so a cursor one worker made is read by the others.
        os.environ["BANK_CURSOR_SECRET"] = secrets.token_urlsafe(32)
    if not _migrated(url):
        return 1
    uvicorn.run(
        "bank_web.app:create_app_from_environment",
        factory=True,
        host=arguments.host,
        port=arguments.port,
        workers=arguments.workers,
        log_level=settings.log_level,
        access_log=settings.access_log,
        proxy_headers=False,
        server_header=False,
    )
    return 0


def _keys(arguments: argparse.Namespace, url: str) -> int:
    """``bank-api keys ...``: runs on the store of the database URL, as the master key."""
    if url.strip() == MEMORY_URL:
        print(
            "bank-api: memory:// keeps no key after this command; name a database.", file=sys.stderr
        )
        return 2
    if not _migrated(url):
        return 1
    command = None
    if arguments.keys_command == "create":
        try:
            command = _create_command(arguments)
        except ValueError as error:
            print(f"bank-api: {error}", file=sys.stderr)
            return 2
    try:
        asyncio.run(_on_ledger(url, arguments, command))
    except LedgerError as error:
        print(f"bank-api: {error.detail}", file=sys.stderr)
        return 2 if isinstance(error, InvalidValue) else 1
    return 0


def _create_command(arguments: argparse.Namespace) -> CreateApiKeyCommand:
    expires_at = None
    if arguments.expires_at is not None:
        try:
            expires_at = datetime.fromisoformat(arguments.expires_at)
        except ValueError:
            raise ValueError("--expires-at is an RFC 3339 time with an offset.") from None
    accounts = None if arguments.accounts is None else _words(arguments.accounts)
    return CreateApiKeyCommand(arguments.name, _words(arguments.scopes), accounts, expires_at)


def _words(value: str) -> list[str]:
    return [word.strip() for word in value.split(",")]


async def _on_ledger(
    url: str, arguments: argparse.Namespace, command: CreateApiKeyCommand | None
) -> None:
    store = open_store(url)
    try:
        ledger = Ledger(store.unit_of_work)
        if command is not None:
            await _create(ledger, command)
        elif arguments.keys_command == "list":
            await _list(ledger)
        else:
            await _revoke(ledger, arguments.key_id)
    finally:
        await store.dispose()


async def _create(ledger: Ledger, command: CreateApiKeyCommand) -> None:
    created = await ledger.create_api_key(command)
    print(_describe(created.key))
    print("The secret, shown this once (the service keeps only its SHA-256):")
    print(created.secret)


async def _list(ledger: Ledger) -> None:
    print("key_id\tname\tscopes\taccounts\tcreated_at\texpires_at\trevoked_at")
    cursor = None
    while True:
        page = await ledger.list_api_keys(ListApiKeysQuery(limit=500, cursor=cursor))
        for key in page.items:
            print(_describe(key))
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


async def _revoke(ledger: Ledger, key_id: str) -> None:
    key = await ledger.revoke_api_key(key_id)
    print(_describe(key))


def _describe(key: ApiKey) -> str:
    """A key on one line, tab-separated; never its secret (the key holds none)."""
    accounts = "*" if key.account_numbers is None else ",".join(map(str, key.account_numbers))
    return "\t".join(
        [
            key.key_id,
            key.name,
            ",".join(scope.value for scope in key.scopes),
            accounts,
            key.created_at.isoformat(),
            "-" if key.expires_at is None else key.expires_at.isoformat(),
            "-" if key.revoked_at is None else key.revoked_at.isoformat(),
        ]
    )


def _migrated(url: str) -> bool:
    """Migrates; a database that cannot be opened is told in one line, without a traceback."""
    try:
        migrate(url)
    except StorageUnavailable as error:
        print(f"bank-api: {error}", file=sys.stderr)
        return False
    return True


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    scheme, sep, rest = url.partition("://")
    credentials, at, location = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    return f"{scheme}{sep}{credentials.split(':', 1)[0]}:***@{location}"


if __name__ == "__main__":
    sys.exit(main())
