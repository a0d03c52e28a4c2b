"""``bank-api keys``: make, list and revoke API keys from the command line, as the master key."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime

from bank_adapters.stores import open_store
from bank_domain.api_keys import ApiKey
from bank_domain.errors import InvalidValue, LedgerError
from bank_domain.ledger import Ledger
from bank_domain.use_cases.api_keys import CreateApiKeyCommand, ListApiKeysQuery
from bank_web.command_parser import CommandParser


def add_key_commands(commands: argparse._SubParsersAction[CommandParser]) -> None:
    """``bank-api keys create|list|revoke``."""
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


def run_key_command(arguments: argparse.Namespace, url: str) -> int:
    """Runs ``bank-api keys ...`` on the store of a migrated database, as the master key."""
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
