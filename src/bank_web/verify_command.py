"""``bank-api verify``: recompute every account's journal, closed accounts' included, from what
the database stores (contract section 11), as the master key.

One line per broken account, naming it and what is wrong (its balance against the sum of its
entries; the first entry that does not follow, and why), then ``N accounts verified, M broken``.
The exit status tells a script the outcome, as ``diff`` and ``cmp`` do: 0 every journal is
sound, 1 some journal is broken, 2 the check could not be made (the database does not open,
is not at the newest schema, or stopped answering midway; then no summary is printed).

It only reads: a database behind the newest schema is refused (``bank-api migrate`` first),
never migrated, and a SQLite file that does not exist is not made.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from typing import Final, TextIO

from bank_adapters.stores import MEMORY_URL, open_store, require_newest_schema
from bank_domain.errors import LedgerError
from bank_domain.journal import ChainBreak, JournalCheck
from bank_domain.ledger import Ledger
from bank_web.command_parser import CommandParser

logger = logging.getLogger("bank_web")

ALL_SOUND: Final = 0
SOME_BROKEN: Final = 1
NOT_CHECKED: Final = 2

_WHAT_BROKE: Final = {
    ChainBreak.ENTRY_MISSING: "the ids jump, or end before the account's last",
    ChainBreak.HASH_MISMATCH: "its hash does not recompute",
    ChainBreak.BALANCE_NOT_RUNNING_SUM: "its balance_after is not the running sum",
    ChainBreak.BROKEN_LINK: "neither its hash nor its balance_after follows the entry before",
    ChainBreak.HEAD_MISMATCH: "the last hash is not the one the account kept",
}


def add_verify_command(commands: argparse._SubParsersAction[CommandParser]) -> None:
    commands.add_parser(
        "verify",
        help="recompute every account's journal (closed ones too); exit 0 when all are sound, "
        "1 when any is broken, 2 when the database cannot be checked",
    )


def run_verify_command(url: str) -> int:
    """Verifies every journal of the database at ``url``; the exit status."""
    if url.strip() == MEMORY_URL:
        print(
            "bank-api: memory:// holds nothing outside the server that kept it; name a database.",
            file=sys.stderr,
        )
        return NOT_CHECKED
    try:
        require_newest_schema(url)
        return asyncio.run(_verify_database(url))
    except LedgerError as error:
        print(f"bank-api: {error.detail}", file=sys.stderr)
        return NOT_CHECKED
    except Exception:
        # Left to Python, a defect would exit 1, which says "a journal is broken": it says
        # nothing of the journals, so it is told with its trace, and exits as unchecked.
        logger.exception("bank-api verify stopped on an unexpected error; nothing was checked.")
        return NOT_CHECKED


async def _verify_database(url: str) -> int:
    store = open_store(url)
    try:
        return await verify_every_account(Ledger(store.unit_of_work), sys.stdout)
    finally:
        await store.dispose()


async def verify_every_account(ledger: Ledger, out: TextIO) -> int:
    """Writes a line for each broken account as it is found, then the summary; ALL_SOUND or
    SOME_BROKEN. A LedgerError (the store stopped answering) goes up, with no summary."""
    verified = broken = 0
    async for check in ledger.verify_every_journal():
        verified += 1
        if not check.sound:
            broken += 1
            print(describe_break(check), file=out, flush=True)
    print(f"{verified} accounts verified, {broken} broken", file=out, flush=True)
    return SOME_BROKEN if broken else ALL_SOUND


def describe_break(check: JournalCheck) -> str:
    """A broken account in one line: ``account 1234567890: balance 1000.00 but its 2 entries
    sum to 300.00; first bad entry 2: hash_mismatch (its hash does not recompute)``."""
    wrong = []
    if not check.balance_matches:
        wrong.append(
            f"balance {check.balance} but its {check.entry_count} entries sum to "
            f"{check.entries_sum}"
        )
    if check.first_bad is not None:
        why = check.first_bad.why
        wrong.append(
            f"first bad entry {check.first_bad.entry_id}: {why.value} ({_WHAT_BROKE[why]})"
        )
    return f"account {check.account_number}: {'; '.join(wrong)}"
