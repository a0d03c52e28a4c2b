"""The answers kept for idempotency keys, in SQL.

``claim`` holds the key for the unit of work's transaction. On PostgreSQL that is a
transaction-level advisory lock, tried without waiting (``pg_try_advisory_xact_lock``): another
process's unit of work that holds the key makes this one refuse at once, 409, and the lock ends
with the transaction whichever way it ends, a crashed server's included. On SQLite every unit of
work that writes holds the database's one write lock from its BEGIN IMMEDIATE, so a second
request with the key waits its turn and then finds the first one's answer. The primary key
(scope, key) is the last line of defence on both: a second answer for a key is refused.

Grouped postings on PostgreSQL (``grouped/``) take the same advisory lock, in their group's
transaction, and write their answers with the group: their rows are made here too.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import delete, insert, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from bank_adapters.sql.errors import storage_errors
from bank_adapters.sql.schema import IDEMPOTENCY_KEYS_KEY, idempotency_keys
from bank_domain.errors import IdempotencyKeyInUse
from bank_domain.idempotency import IdempotencyKey, KeptAnswer, KeptRequest
from bank_domain.ports import IdempotencyRepository

ADVISORY_LOCK_SPACE: Final = 0x1DE5
"""The first of the two 32-bit keys of every idempotency key's advisory lock: the keys of the
two-integer form are a space apart from the one-bigint form (the migrations' lock)."""
_TRY_LOCK: Final = text(
    "SELECT pg_try_advisory_xact_lock(CAST(:space AS integer), CAST(:key AS integer))"
)


def advisory_lock_key(key: IdempotencyKey) -> int:
    """The second 32-bit key of the key's advisory lock: its scope and text, hashed. Two keys
    that share it (rarely) only take turns."""
    digest = hashlib.sha256(f"{key.scope}\n{key.value}".encode("ascii")).digest()
    return int.from_bytes(digest[:4], "big", signed=True)


class SqlIdempotencyRepository(IdempotencyRepository):
    def __init__(self, connection: AsyncConnection, *, read_only: bool = False) -> None:
        self._connection = connection
        self._read_only = read_only

    async def claim(self, key: IdempotencyKey) -> KeptRequest | None:
        with storage_errors():
            if self._connection.dialect.name == "postgresql":
                taken = await self._connection.scalar(
                    _TRY_LOCK, {"space": ADVISORY_LOCK_SPACE, "key": advisory_lock_key(key)}
                )
                if not taken:
                    raise IdempotencyKeyInUse()
            result = await self._connection.execute(
                select(idempotency_keys).where(
                    idempotency_keys.c.scope == key.scope,
                    idempotency_keys.c.idempotency_key == key.value,
                )
            )
        row = result.mappings().one_or_none()
        return None if row is None else kept_from_row(row)

    async def add(self, kept: KeptRequest) -> None:
        self._refuse_if_read_only("idempotency.add")
        with storage_errors({IDEMPOTENCY_KEYS_KEY: IdempotencyKeyInUse()}):
            await self._connection.execute(insert(idempotency_keys).values(_row_of(kept)))

    async def remove_expired(self, before: datetime, limit: int) -> int:
        self._refuse_if_read_only("idempotency.remove_expired")
        oldest = (
            select(idempotency_keys.c.scope, idempotency_keys.c.idempotency_key)
            .where(idempotency_keys.c.created_at < before)
            .order_by(idempotency_keys.c.created_at)
            .limit(limit)
        )
        key = tuple_(idempotency_keys.c.scope, idempotency_keys.c.idempotency_key)
        with storage_errors():
            result = await self._connection.execute(delete(idempotency_keys).where(key.in_(oldest)))
        return int(result.rowcount)

    def _refuse_if_read_only(self, what: str) -> None:
        if self._read_only:
            raise RuntimeError(f"{what} changes the store: not in a read-only unit of work.")


def _row_of(kept: KeptRequest) -> dict[str, Any]:
    return {
        "scope": kept.key.scope,
        "idempotency_key": kept.key.value,
        "fingerprint": kept.fingerprint,
        "status": kept.answer.status,
        "headers": json.dumps([list(pair) for pair in kept.answer.headers]),
        "body": kept.answer.body,
        "created_at": kept.created_at,
    }


def kept_to_json_row(kept: KeptRequest) -> dict[str, Any]:
    """A kept request's row as the grouped write reads it from JSON (driver_statements.py):
    the body in ``bytea``'s hex input form, the time as RFC 3339 (orjson's)."""
    row = _row_of(kept)
    row["body"] = "\\x" + kept.answer.body.hex()
    return row


def kept_from_row(row: Any) -> KeptRequest:
    """A kept request from its row: a SQLAlchemy mapping, or an asyncpg record."""
    headers = tuple((str(name), str(value)) for name, value in json.loads(row["headers"]))
    return KeptRequest(
        key=IdempotencyKey(row["scope"], row["idempotency_key"]),
        fingerprint=row["fingerprint"],
        answer=KeptAnswer(row["status"], bytes(row["body"]), headers),
        created_at=row["created_at"].astimezone(UTC),
    )
