"""The server's sweeper: records the expiries of pending transactions as they come.

Reads never wait for it: from a transaction's expires_at on, every read shows it cancelled
(``bank_domain.transaction.Transaction.seen_at``), and any change to its account records the
expiry first, under the account's lock. The sweeper only makes the record (the history's
``expired`` version, the ``transaction.expired`` event) soon after the instant, for accounts
nobody touches. Every server process runs one; each account's expiries are recorded under its
lock, so two sweepers, or a sweeper and a capture, never record one expiry twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from bank_domain.errors import StorageUnavailable
from bank_domain.ledger import Ledger

logger = logging.getLogger("bank_web")


async def sweep_expiries(ledger: Ledger, interval_seconds: float) -> None:
    """Sweeps every ``interval_seconds``, the first an interval after start, until
    cancelled. A failed sweep is logged and tried again at the next interval."""
    while True:
        await asyncio.sleep(interval_seconds)
        try:
            await ledger.expire_holds()
        except StorageUnavailable as error:
            logger.warning("The expiry sweep could not reach the store: %s", error.detail)
        except Exception:
            logger.exception("The expiry sweep failed")


@contextlib.asynccontextmanager
async def expiry_sweeper(ledger: Ledger, interval_seconds: float) -> AsyncIterator[None]:
    """Runs the sweeper while the block runs; stops it (between two sweeps or in one, which
    then rolls back) when the block ends."""
    task = asyncio.get_running_loop().create_task(sweep_expiries(ledger, interval_seconds))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
