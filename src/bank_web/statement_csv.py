"""A statement's entries as CSV (contract section 11, ``Accept: text/csv``), written as they
are read: the server holds one chunk of lines at a time, however many the statement has.

Every field is written as the journal's hash covers it (``posted_at`` as ``posted_at_text``,
the amounts with two decimals and a ``-`` before a negative one), as the JSON entries are. No
field ever needs quoting: timestamps, whole numbers, amounts, and transaction ids made of
``A-Z a-z 0-9 _ -`` hold no comma, quote or line break. Lines end with ``\\n``, which every
CSV reader takes (RFC 4180's ``\\r\\n`` would leave a ``\\r`` on each line for a reader that
splits on ``\\n``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Final

from bank_domain.journal import JournalEntry, amount_text, posted_at_text

MEDIA_TYPE: Final = "text/csv"
HEADER: Final = "posted_at,entry_id,transaction_id,amount,balance_after\n"
CHUNK_BYTES: Final = 64 * 1024
"""Lines are sent in chunks of about this size: one write per line would cost a million
writes for a million lines, and a chunk is all the server holds of them at once."""


def csv_line(entry: JournalEntry) -> str:
    return (
        f"{posted_at_text(entry.posted_at)},{entry.entry_id},{entry.transaction_id.value},"
        f"{amount_text(entry.amount)},{amount_text(entry.balance_after)}\n"
    )


class StatementCutOff(Exception):
    """Reading a statement's entries failed after its answer had started. No problem answer
    can follow the lines already sent, and no handler answers this error: it reaches
    bank_web.problems.UnexpectedErrors, which logs it (with its cause) and sends nothing more,
    and the server then cuts the connection, so the client sees an answer that did not end."""

    def __init__(self, lines_sent: int) -> None:
        super().__init__(
            f"The statement's CSV broke off after {lines_sent} lines; the connection is cut."
        )
        self.lines_sent = lines_sent


async def csv_chunks(entries: AsyncIterator[JournalEntry]) -> AsyncIterator[bytes]:
    """The header line, then one line per entry, in chunks of about CHUNK_BYTES. An error
    while reading the entries is a StatementCutOff: the answer has started by then."""
    chunk = bytearray(HEADER.encode("ascii"))
    lines = 0
    try:
        async for entry in entries:
            chunk += csv_line(entry).encode("ascii")
            lines += 1
            if len(chunk) >= CHUNK_BYTES:
                yield bytes(chunk)
                chunk.clear()
    except Exception as error:
        raise StatementCutOff(lines) from error
    yield bytes(chunk)
