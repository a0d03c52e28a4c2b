"""A reader of the event feed, following it page after page through the cursors the ledger
hands out, as a client of ``GET /v1/events`` would."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Final

from bank_domain import Event, Ledger, ListEventsQuery

FEED_WAIT_SECONDS: Final = 30.0
"""How long a reader waits for events it knows were committed: on PostgreSQL a transaction
running anywhere on the server (another test run's, say) holds later events back until it ends
(bank_adapters/sql/events.py), so a test must not expect them on its first read."""


class FeedFollower:
    def __init__(self, ledger: Ledger, page_size: int = 50) -> None:
        self._ledger = ledger
        self._page_size = page_size
        self.cursor: str | None = None
        self.seen: list[Event] = []
        """Every event read so far, in the order read."""

    async def read_page(self) -> Sequence[Event]:
        """The next page from the cursor kept, which moves on to the page's end."""
        page = await self._ledger.list_events(
            ListEventsQuery(limit=self._page_size, cursor=self.cursor)
        )
        assert page.next_cursor is not None, "the feed always hands out a cursor to follow"
        self.cursor = page.next_cursor
        self.seen.extend(page.items)
        return page.items

    async def read_until(self, count: int, wait_seconds: float = FEED_WAIT_SECONDS) -> list[Event]:
        """Follows the feed until ``count`` events in all have been read or the wait is over,
        then returns every event read."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_seconds
        while len(self.seen) < count and loop.time() < deadline:
            if not await self.read_page():
                await asyncio.sleep(0.02)
        return self.seen
