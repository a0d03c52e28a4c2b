"""Making, listing, reading and revoking API keys, and recognising a key by its secret."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

from bank_domain.access import require_unrestricted
from bank_domain.actors import MASTER, Actor
from bank_domain.api_keys import (
    ApiKey,
    hash_of_secret,
    is_key_id,
    is_well_formed_secret,
    new_secret,
)
from bank_domain.errors import ApiKeyNotFound
from bank_domain.events import Event, EventType
from bank_domain.idempotency import IdempotencyClaim
from bank_domain.pagination import CursorCodec, Page, not_a_cursor, page_size
from bank_domain.ports import ApiKeyQuery, Clock, UnitOfWorkFactory
from bank_domain.use_cases._common import key_id_for_lookup, utc_now, utc_timestamp
from bank_domain.use_cases.idempotency import ClaimingUseCase

KEY_CACHE_SECONDS: Final = 2.0
"""How long a process trusts what it read of a key: a key revoked by another process is
refused here at most this long after (the contract allows 5 seconds)."""
MAX_CACHED_KEYS: Final = 10_000

_KEYS_ACTION: Final = "manage API keys"


@dataclass(frozen=True, slots=True)
class CreateApiKeyCommand:
    name: str
    scopes: Sequence[str]
    account_numbers: Sequence[str] | None = None
    expires_at: datetime | None = None
    actor: Actor = MASTER
    idempotency: IdempotencyClaim[CreatedApiKey] | None = None


@dataclass(frozen=True, slots=True)
class CreatedApiKey:
    """A new key and its secret: the only time the secret is ever told."""

    key: ApiKey
    secret: str = field(repr=False)


class CreateApiKey(ClaimingUseCase):
    """Makes a key with a new secret; the store keeps only the secret's SHA-256 (and an
    idempotency claim's rendering of the answer must leave the secret out)."""

    async def __call__(self, command: CreateApiKeyCommand) -> CreatedApiKey:
        return await self._idempotency.run(command.idempotency, lambda: self._create(command))

    async def _create(self, command: CreateApiKeyCommand) -> CreatedApiKey:
        require_unrestricted(command.actor, _KEYS_ACTION)
        expires_at = utc_timestamp(command.expires_at, "expires_at")
        secret = new_secret()
        now = self._clock()
        key = ApiKey.new(
            command.name,
            command.scopes,
            command.account_numbers,
            expires_at,
            now,
            secret,
        )
        created = CreatedApiKey(key, secret)
        async with self._uow() as uow:
            await self._idempotency.check(uow, command.idempotency)
            await uow.api_keys.add(key)
            await uow.events.add(Event.of(EventType.API_KEY_CREATED, key, command.actor, now))
            await self._idempotency.keep(uow, command.idempotency, created)
            await uow.commit()
        return created


@dataclass(frozen=True, slots=True)
class ListApiKeysQuery:
    limit: int | None = None
    cursor: str | None = None
    actor: Actor = MASTER


class ListApiKeys:
    """Every key, revoked and expired ones included, oldest first, a page at a time."""

    def __init__(self, uow: UnitOfWorkFactory, cursors: CursorCodec | None = None) -> None:
        self._uow = uow
        self._cursors = cursors or CursorCodec()

    async def __call__(self, request: ListApiKeysQuery) -> Page[ApiKey]:
        require_unrestricted(request.actor, _KEYS_ACTION)
        limit = page_size(request.limit)
        after = None if request.cursor is None else self._position(request.cursor)
        async with self._uow(read_only=True) as uow:
            found = await uow.api_keys.list(ApiKeyQuery(limit=limit + 1, after=after))
        items = found[:limit]
        if len(found) <= limit:
            return Page(items, None)
        last = items[-1]
        return Page(items, self._cursors.encode([last.created_at.isoformat(), last.key_id]))

    def _position(self, cursor: str) -> tuple[datetime, str]:
        created_at, key_id = self._cursors.decode(cursor, 2)
        try:
            moment = datetime.fromisoformat(created_at)
        except ValueError:
            raise not_a_cursor() from None
        if moment.tzinfo is None or moment.utcoffset() is None or not is_key_id(key_id):
            raise not_a_cursor()
        return moment.astimezone(UTC), key_id


class GetApiKey:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, key_id: str, *, actor: Actor = MASTER) -> ApiKey:
        require_unrestricted(actor, _KEYS_ACTION)
        key_id = key_id_for_lookup(key_id)
        async with self._uow(read_only=True) as uow:
            key = await uow.api_keys.get(key_id)
        if key is None:
            raise ApiKeyNotFound(key_id)
        return key


class RevokeApiKey:
    """Revokes a key; revoking it again changes nothing. ``on_revoked`` (given the secret's
    hash) lets this process forget the key at once; other processes within KEY_CACHE_SECONDS."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock = utc_now,
        on_revoked: Callable[[str], None] | None = None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._on_revoked = on_revoked

    async def __call__(self, key_id: str, *, actor: Actor = MASTER) -> ApiKey:
        require_unrestricted(actor, _KEYS_ACTION)
        key_id = key_id_for_lookup(key_id)
        async with self._uow() as uow:
            key = await uow.api_keys.get(key_id)
            if key is None:
                raise ApiKeyNotFound(key_id)
            now = self._clock()
            if key.revoke(now):
                await uow.api_keys.save(key)
                await uow.events.add(Event.of(EventType.API_KEY_REVOKED, key, actor, now))
                await uow.commit()
        if self._on_revoked is not None:
            self._on_revoked(key.secret_hash)
        return key


@dataclass(frozen=True, slots=True)
class _Known:
    key: ApiKey
    actor: Actor
    read_at: float


class Authenticate:
    """The actor of a secret, or None: unknown, revoked, expired, or not a secret at all.

    It costs no store read per request: what a read found is kept in this object (one per
    process) for ``cache_seconds`` (KEY_CACHE_SECONDS), so a revocation made by another
    process holds here within that time. Expiry is checked against the clock on every call,
    from the kept copy. A secret the store does not know is not kept, so a key made by another
    process works at once; one that is not shaped like a secret is refused without a read.
    Concurrent calls with one secret that is not kept share one read. The cache is keyed by
    the secret's hash, never by the secret.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock = utc_now,
        *,
        cache_seconds: float = KEY_CACHE_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
        max_cached: int = MAX_CACHED_KEYS,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._cache_seconds = cache_seconds
        self._monotonic = monotonic
        self._max_cached = max_cached
        self._known: dict[str, _Known] = {}
        self._reading: dict[str, asyncio.Future[_Known | None]] = {}

    async def __call__(self, secret: str) -> Actor | None:
        if not is_well_formed_secret(secret):
            return None
        digest = hash_of_secret(secret)
        known = self._known.get(digest)
        if known is None or self._monotonic() - known.read_at >= self._cache_seconds:
            known = await self._shared_read(digest)
            if known is None:
                return None
        return known.actor if known.key.is_usable(self._clock()) else None

    def forget(self, secret_hash: str) -> None:
        """Drops what this process knows of a key (after revoking it here)."""
        self._known.pop(secret_hash, None)

    async def _shared_read(self, digest: str) -> _Known | None:
        reading = self._reading.get(digest)
        if reading is None:
            reading = asyncio.ensure_future(self._read(digest))
            self._reading[digest] = reading
            reading.add_done_callback(lambda done: self._done_reading(digest, done))
        # Shielded: a caller that gives up does not cancel the read the others wait for.
        return await asyncio.shield(reading)

    def _done_reading(self, digest: str, done: asyncio.Future[_Known | None]) -> None:
        if self._reading.get(digest) is done:
            del self._reading[digest]
        if not done.cancelled():
            done.exception()  # retrieved: every waiter has been told already

    async def _read(self, digest: str) -> _Known | None:
        read_at = self._monotonic()
        async with self._uow(read_only=True) as uow:
            key = await uow.api_keys.get_by_secret_hash(digest)
        self._known.pop(digest, None)
        if key is None or not key.matches(digest):
            return None
        known = _Known(key, actor_of(key), read_at)
        if len(self._known) >= self._max_cached:
            self._make_room(read_at)
        self._known[digest] = known
        return known

    def _make_room(self, now: float) -> None:
        for digest, known in list(self._known.items()):
            if now - known.read_at >= self._cache_seconds:
                del self._known[digest]
        while len(self._known) >= self._max_cached:
            del self._known[next(iter(self._known))]


def actor_of(key: ApiKey) -> Actor:
    return Actor(
        key.key_id,
        scopes=frozenset(key.scopes),
        account_numbers=None if key.account_numbers is None else frozenset(key.account_numbers),
    )
