"""API keys in the domain: their rules (contract section 9), their secret, and recognising a
key by its secret without a store read per request."""

from __future__ import annotations

import asyncio
import hashlib
import re
import unicodedata
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

import pytest

from bank_adapters.memory import InMemoryStore, InMemoryUnitOfWork
from bank_domain import (
    MASTER,
    ApiKey,
    ApiKeyNotFound,
    CreateApiKeyCommand,
    InvalidValue,
    Ledger,
    ListApiKeysQuery,
    Scope,
    StorageUnavailable,
)
from bank_domain.api_keys import SECRET_LENGTH, hash_of_secret, is_well_formed_secret, new_secret
from bank_domain.identifiers import AccountNumber
from bank_domain.use_cases.api_keys import KEY_CACHE_SECONDS, Authenticate, actor_of

from .support import CURSOR_SECRET, T0, SteppingClock, encode_cursor, random_account_number

SECRET_SHAPE = re.compile(r"bk_[A-Za-z0-9_-]{43}")


class CountingStore:
    """A memory store that counts the units of work opened on it."""

    def __init__(self, store: InMemoryStore) -> None:
        self.store = store
        self.opened = 0

    def __call__(self, *, read_only: bool = False) -> InMemoryUnitOfWork:
        self.opened += 1
        return self.store.unit_of_work(read_only=read_only)


class SlowUnitOfWork(InMemoryUnitOfWork):
    """Takes a moment to open, as a database's unit of work does."""

    async def __aenter__(self) -> SlowUnitOfWork:
        await asyncio.sleep(0.01)
        return self


class SlowCountingStore(CountingStore):
    def __call__(self, *, read_only: bool = False) -> InMemoryUnitOfWork:
        self.opened += 1
        return SlowUnitOfWork(self.store, read_only=read_only)


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def still_clock() -> SteppingClock:
    return SteppingClock(step=timedelta(0))


@pytest.fixture
def keys_ledger(store: InMemoryStore, still_clock: SteppingClock) -> Ledger:
    return Ledger(store.unit_of_work, still_clock, cursor_secret=CURSOR_SECRET)


def command(
    name: str = "reporting",
    scopes: Sequence[str] = ("accounts:read",),
    account_numbers: Sequence[str] | None = None,
    *,
    expires_at: datetime | None = None,
) -> CreateApiKeyCommand:
    return CreateApiKeyCommand(name, scopes, account_numbers, expires_at)


class TestTheSecret:
    def test_is_bk_and_256_random_bits(self) -> None:
        secrets = {new_secret() for _ in range(100)}
        assert len(secrets) == 100
        for secret in secrets:
            assert SECRET_SHAPE.fullmatch(secret)
            assert len(secret) == SECRET_LENGTH == 46
            assert is_well_formed_secret(secret)

    @pytest.mark.parametrize(
        "candidate",
        ["", "bk_", "xk_" + "a" * 43, "bk_" + "a" * 42, "bk_" + "a" * 44, "bk_" + "a" * 42 + "!"],
    )
    def test_anything_else_is_not_one(self, candidate: str) -> None:
        assert not is_well_formed_secret(candidate)

    def test_the_store_keeps_its_sha_256_only(self) -> None:
        secret = new_secret()
        assert hash_of_secret(secret) == hashlib.sha256(secret.encode()).hexdigest()


class TestCreateApiKey:
    async def test_answers_the_key_and_its_secret_once_and_stores_only_the_hash(
        self, keys_ledger: Ledger, store: InMemoryStore, still_clock: SteppingClock
    ) -> None:
        number = random_account_number()
        created = await keys_ledger.create_api_key(
            command(
                "  Nightly report  ",
                ["accounts:read", "transactions:read"],
                [number],
                expires_at=T0 + timedelta(days=1),
            )
        )
        key = created.key
        assert SECRET_SHAPE.fullmatch(created.secret)
        assert re.fullmatch(r"key_[0-9a-f]{32}", key.key_id)
        assert key.name == "Nightly report"
        assert key.scopes == (Scope.ACCOUNTS_READ, Scope.TRANSACTIONS_READ)
        assert key.account_numbers == (AccountNumber(number),)
        assert key.created_at == T0
        assert key.expires_at == T0 + timedelta(days=1)
        assert key.revoked_at is None
        stored = store.api_keys[key.key_id]
        assert stored.secret_hash == hash_of_secret(created.secret)
        assert created.secret not in repr(vars(store)) + repr(stored)
        assert created.secret not in repr(created)
        assert stored.secret_hash not in repr(stored)

    async def test_each_key_gets_its_own_id_and_secret(self, keys_ledger: Ledger) -> None:
        first = await keys_ledger.create_api_key(command())
        second = await keys_ledger.create_api_key(command())
        assert first.key.key_id != second.key.key_id
        assert first.secret != second.secret

    async def test_every_scope_is_a_word_of_the_contract(self, keys_ledger: Ledger) -> None:
        words = [
            "accounts:read",
            "accounts:write",
            "transactions:read",
            "transactions:write",
            "audit:read",
            "keys:admin",
        ]
        created = await keys_ledger.create_api_key(command(scopes=words))
        assert [scope.value for scope in created.key.scopes] == words

    @pytest.mark.parametrize(
        ("name", "allowed"),
        [
            ("a", True),
            ("x" * 100, True),
            ("", False),
            ("   ", False),
            ("x" * 101, False),
            ("zero\u200bwidth", False),
            ("line\nbreak", False),
            ("esc\x1b[31m", False),
            (None, False),
        ],
    )
    async def test_a_name_is_1_to_100_characters_of_visible_text(
        self, keys_ledger: Ledger, name: object, allowed: bool
    ) -> None:
        if allowed:
            await keys_ledger.create_api_key(command(name))  # type: ignore[arg-type]
            return
        with pytest.raises(InvalidValue) as raised:
            await keys_ledger.create_api_key(command(name))  # type: ignore[arg-type]
        assert raised.value.field == "name"

    async def test_a_name_is_kept_in_nfc(self, keys_ledger: Ledger) -> None:
        created = await keys_ledger.create_api_key(command("Zoe\u0301"))
        assert created.key.name == unicodedata.normalize("NFC", "Zoé") == "Zo\u00e9"

    @pytest.mark.parametrize(
        "scopes",
        [
            [],
            ["accounts:read", "accounts:read"],
            ["accounts:admin"],
            ["ACCOUNTS:READ"],
            "accounts:read",
            None,
            [1],
        ],
    )
    async def test_scopes_are_a_non_empty_list_of_scopes_each_once(
        self, keys_ledger: Ledger, scopes: object
    ) -> None:
        with pytest.raises(InvalidValue) as raised:
            await keys_ledger.create_api_key(command(scopes=scopes))  # type: ignore[arg-type]
        assert raised.value.field == "scopes"

    @pytest.mark.parametrize(
        "numbers",
        [[], ["123"], ["12345678901"], "1234567890", [f"{n:010d}" for n in range(1001)]],
    )
    async def test_account_numbers_are_null_or_1_to_1000_numbers(
        self, keys_ledger: Ledger, numbers: object
    ) -> None:
        with pytest.raises(InvalidValue) as raised:
            await keys_ledger.create_api_key(command(account_numbers=numbers))  # type: ignore[arg-type]
        assert raised.value.field == "account_numbers"

    async def test_a_thousand_account_numbers_are_allowed(self, keys_ledger: Ledger) -> None:
        numbers = [f"{n:010d}" for n in range(1000)]
        created = await keys_ledger.create_api_key(command(account_numbers=numbers))
        assert created.key.account_numbers is not None
        assert len(created.key.account_numbers) == 1000

    async def test_account_numbers_with_keys_admin_are_refused(self, keys_ledger: Ledger) -> None:
        with pytest.raises(InvalidValue) as raised:
            await keys_ledger.create_api_key(
                command(scopes=["keys:admin"], account_numbers=[random_account_number()])
            )
        assert raised.value.field == "account_numbers"
        await keys_ledger.create_api_key(command(scopes=["keys:admin"]))

    @pytest.mark.parametrize(
        "expires_at",
        [T0, T0 - timedelta(microseconds=1), T0.replace(tzinfo=None) + timedelta(days=1)],
    )
    async def test_expires_at_is_a_future_time_with_an_offset(
        self, keys_ledger: Ledger, expires_at: object
    ) -> None:
        with pytest.raises(InvalidValue) as raised:
            await keys_ledger.create_api_key(command(expires_at=expires_at))  # type: ignore[arg-type]
        assert raised.value.field == "expires_at"

    async def test_expires_at_is_kept_in_utc(self, keys_ledger: Ledger) -> None:
        india = timezone(timedelta(hours=5, minutes=30))
        created = await keys_ledger.create_api_key(
            command(expires_at=(T0 + timedelta(hours=1)).astimezone(india))
        )
        assert created.key.expires_at == T0 + timedelta(hours=1)
        assert created.key.expires_at.utcoffset() == timedelta(0)


class TestListGetRevoke:
    async def test_lists_every_key_oldest_first_a_page_at_a_time(
        self, keys_ledger: Ledger, still_clock: SteppingClock
    ) -> None:
        made = []
        for _ in range(5):
            made.append((await keys_ledger.create_api_key(command())).key)
            still_clock.advance(timedelta(seconds=1))
        await keys_ledger.revoke_api_key(made[1].key_id)
        seen: list[ApiKey] = []
        cursor = None
        while True:
            page = await keys_ledger.list_api_keys(ListApiKeysQuery(limit=2, cursor=cursor))
            seen.extend(page.items)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert [k.key_id for k in seen] == [k.key_id for k in made]
        assert seen[1].revoked_at is not None

    async def test_a_cursor_it_did_not_make_is_refused(self, keys_ledger: Ledger) -> None:
        for cursor in ["nope", encode_cursor(["not a time", "key_0"]), encode_cursor(["x"])]:
            with pytest.raises(InvalidValue):
                await keys_ledger.list_api_keys(ListApiKeysQuery(cursor=cursor))

    async def test_get_answers_the_key_and_unknown_ids_are_not_found(
        self, keys_ledger: Ledger
    ) -> None:
        created = await keys_ledger.create_api_key(command())
        assert (await keys_ledger.get_api_key(created.key.key_id)).name == "reporting"
        with pytest.raises(ApiKeyNotFound):
            await keys_ledger.get_api_key("key_" + "0" * 32)

    async def test_a_malformed_id_is_not_found_and_not_repeated(self, keys_ledger: Ledger) -> None:
        secret = new_secret()
        with pytest.raises(ApiKeyNotFound) as raised:
            await keys_ledger.get_api_key(secret)
        assert secret not in str(raised.value)
        assert raised.value.code == "api_key_not_found"

    async def test_revoking_twice_changes_nothing_the_second_time(
        self, keys_ledger: Ledger, still_clock: SteppingClock
    ) -> None:
        created = await keys_ledger.create_api_key(command())
        first = await keys_ledger.revoke_api_key(created.key.key_id)
        still_clock.advance(timedelta(minutes=5))
        again = await keys_ledger.revoke_api_key(created.key.key_id)
        assert first.revoked_at == again.revoked_at == T0
        with pytest.raises(ApiKeyNotFound):
            await keys_ledger.revoke_api_key("key_" + "1" * 32)


class TestAuthenticate:
    async def make_key(
        self,
        store: InMemoryStore,
        clock: SteppingClock,
        *,
        scopes: Sequence[str] = ("accounts:read",),
        account_numbers: Sequence[str] | None = None,
        expires_at: datetime | None = None,
    ) -> tuple[ApiKey, str]:
        created = await Ledger(store.unit_of_work, clock).create_api_key(
            command(scopes=scopes, account_numbers=account_numbers, expires_at=expires_at)
        )
        return created.key, created.secret

    async def test_a_valid_secret_is_its_keys_actor(
        self, store: InMemoryStore, still_clock: SteppingClock
    ) -> None:
        number = random_account_number()
        key, secret = await self.make_key(
            store, still_clock, scopes=["accounts:read"], account_numbers=[number]
        )
        actor = await Authenticate(store.unit_of_work, still_clock)(secret)
        assert actor is not None
        assert actor.actor_id == key.key_id
        assert actor.scopes == frozenset({Scope.ACCOUNTS_READ})
        assert actor.account_numbers == frozenset({AccountNumber(number)})
        assert actor.request_id is None
        assert actor == actor_of(key)

    async def test_a_key_for_every_account_is_unrestricted(
        self, store: InMemoryStore, still_clock: SteppingClock
    ) -> None:
        _, secret = await self.make_key(store, still_clock)
        actor = await Authenticate(store.unit_of_work, still_clock)(secret)
        assert actor is not None
        assert not actor.is_restricted

    async def test_a_malformed_secret_is_refused_without_a_store_read(
        self, store: InMemoryStore, still_clock: SteppingClock
    ) -> None:
        counting = CountingStore(store)
        authenticate = Authenticate(counting, still_clock)
        for candidate in ["", "Bearer x", "bk_short", "xx_" + "a" * 43, "bk_" + "a" * 100]:
            assert await authenticate(candidate) is None
        assert counting.opened == 0

    async def test_an_unknown_secret_is_refused_and_not_remembered(
        self, store: InMemoryStore, still_clock: SteppingClock
    ) -> None:
        counting = CountingStore(store)
        authenticate = Authenticate(counting, still_clock)
        secret = new_secret()
        assert await authenticate(secret) is None
        assert await authenticate(secret) is None
        assert counting.opened == 2
        # A key made meanwhile (say, by another process) works at once.
        async with store.unit_of_work() as uow:
            await uow.api_keys.add(ApiKey.new("k", ["audit:read"], None, None, T0, secret))
            await uow.commit()
        assert await authenticate(secret) is not None

    async def test_a_known_key_is_read_once_per_cache_period(
        self, store: InMemoryStore, still_clock: SteppingClock
    ) -> None:
        _, secret = await self.make_key(store, still_clock)
        counting = CountingStore(store)
        monotonic = FakeMonotonic()
        authenticate = Authenticate(counting, still_clock, monotonic=monotonic)
        for _ in range(10):
            assert await authenticate(secret) is not None
        assert counting.opened == 1
        monotonic.now += KEY_CACHE_SECONDS - 0.01
        assert await authenticate(secret) is not None
        assert counting.opened == 1
        monotonic.now += 0.01
        assert await authenticate(secret) is not None
        assert counting.opened == 2

    async def test_concurrent_calls_share_one_read(
        self, store: InMemoryStore, still_clock: SteppingClock
    ) -> None:
        _, secret = await self.make_key(store, still_clock)
        counting = SlowCountingStore(store)
        authenticate = Authenticate(counting, still_clock)
        unknown = new_secret()
        actors = await asyncio.gather(*(authenticate(secret) for _ in range(20)))
        strangers = await asyncio.gather(*(authenticate(unknown) for _ in range(20)))
        assert all(actor is not None for actor in actors)
        assert strangers == [None] * 20
        assert counting.opened == 2
        assert authenticate._reading == {}

    async def test_a_store_outage_reaches_every_caller_and_is_not_kept(
        self, store: InMemoryStore, still_clock: SteppingClock
    ) -> None:
        _, secret = await self.make_key(store, still_clock)
        down = True

        def flaky(*, read_only: bool = False) -> InMemoryUnitOfWork:
            if down:
                raise StorageUnavailable("down")
            return store.unit_of_work(read_only=read_only)

        authenticate = Authenticate(flaky, still_clock)
        outcomes = await asyncio.gather(
            *(authenticate(secret) for _ in range(3)), return_exceptions=True
        )
        assert all(isinstance(outcome, StorageUnavailable) for outcome in outcomes)
        down = False
        assert await authenticate(secret) is not None

    async def test_a_revocation_elsewhere_holds_within_the_cache_period(
        self, store: InMemoryStore, still_clock: SteppingClock
    ) -> None:
        key, secret = await self.make_key(store, still_clock)
        monotonic = FakeMonotonic()
        this_process = Authenticate(store.unit_of_work, still_clock, monotonic=monotonic)
        assert await this_process(secret) is not None
        await Ledger(store.unit_of_work, still_clock).revoke_api_key(key.key_id)
        monotonic.now += KEY_CACHE_SECONDS
        assert await this_process(secret) is None
        assert KEY_CACHE_SECONDS <= 2.0 < 5.0

    async def test_a_revocation_in_this_process_holds_at_once(
        self, store: InMemoryStore, still_clock: SteppingClock
    ) -> None:
        ledger = Ledger(store.unit_of_work, still_clock)
        created = await ledger.create_api_key(command())
        assert await ledger.authenticate(created.secret) is not None
        await ledger.revoke_api_key(created.key.key_id)
        assert await ledger.authenticate(created.secret) is None

    async def test_expiry_is_checked_on_every_call_from_the_cached_key(
        self, store: InMemoryStore, still_clock: SteppingClock
    ) -> None:
        _, secret = await self.make_key(store, still_clock, expires_at=T0 + timedelta(minutes=1))
        counting = CountingStore(store)
        authenticate = Authenticate(counting, still_clock, monotonic=FakeMonotonic())
        assert await authenticate(secret) is not None
        still_clock.advance(timedelta(minutes=1) - timedelta(microseconds=1))
        assert await authenticate(secret) is not None
        still_clock.advance(timedelta(microseconds=1))
        assert await authenticate(secret) is None
        assert counting.opened == 1

    async def test_a_revoked_key_is_refused(
        self, store: InMemoryStore, still_clock: SteppingClock
    ) -> None:
        key, secret = await self.make_key(store, still_clock)
        await Ledger(store.unit_of_work, still_clock).revoke_api_key(key.key_id)
        assert await Authenticate(store.unit_of_work, still_clock)(secret) is None

    async def test_the_cache_stays_within_its_size(
        self, store: InMemoryStore, still_clock: SteppingClock
    ) -> None:
        secrets = [(await self.make_key(store, still_clock))[1] for _ in range(5)]
        authenticate = Authenticate(store.unit_of_work, still_clock, max_cached=2)
        for secret in secrets * 2:
            assert await authenticate(secret) is not None
        assert len(authenticate._known) <= 2
        assert all(secret not in repr(authenticate._known) for secret in secrets)


def test_the_master_actor_holds_every_scope_over_every_account() -> None:
    assert MASTER.actor_id == "master"
    assert MASTER.scopes == frozenset(Scope)
    assert not MASTER.is_restricted
    assert MASTER.sees(AccountNumber(random_account_number()))
    assert MASTER.with_request_id("req-1").request_id == "req-1"
