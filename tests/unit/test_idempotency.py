"""Idempotency claims in the domain, on the memory store: the answer is kept with its change or
not at all, a key is held while its request runs, and old answers are removed."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from typing import Any

import pytest

from bank_adapters.memory import InMemoryStore, InMemoryUnitOfWork
from bank_domain import (
    AccountNotFound,
    AccountNumber,
    Actor,
    Ledger,
    PostedTransaction,
    PostTransactionCommand,
    StorageUnavailable,
)
from bank_domain.errors import IdempotencyKeyInUse, IdempotencyKeyReused, LedgerError
from bank_domain.idempotency import (
    IdempotencyClaim,
    IdempotencyKey,
    IdempotentReplay,
    KeptAnswer,
    KeptRequest,
    KeyAnsweredMeanwhile,
)
from bank_domain.use_cases.idempotency import ForgetExpiredIdempotencyKeys

from .support import CURSOR_SECRET, SteppingClock, balance_of, number_of, open_account

KEY = IdempotencyKey("master", "key-1")


def _answer(posted: PostedTransaction) -> KeptAnswer:
    return KeptAnswer(201 if posted.created else 200, str(posted.transaction.amount).encode())


def _refusal(error: LedgerError) -> KeptAnswer | None:
    return KeptAnswer(409, error.code.encode())


def _claim(
    key: IdempotencyKey = KEY, fingerprint: str = "f1"
) -> IdempotencyClaim[PostedTransaction]:
    return IdempotencyClaim(key, fingerprint, _answer, _refusal)


def _deposit(number: str, claim: IdempotencyClaim[PostedTransaction]) -> PostTransactionCommand:
    return PostTransactionCommand(number, "5.00", "deposit", idempotency=claim)


async def test_a_claimed_posting_keeps_its_answer_and_replays_it(
    ledger: Ledger, store: InMemoryStore
) -> None:
    number = number_of(await open_account(ledger))
    await ledger.post_transaction(_deposit(number, _claim()))
    kept = store.kept_requests[KEY]
    assert (kept.fingerprint, kept.answer) == ("f1", KeptAnswer(201, b"5.00"))
    with pytest.raises(IdempotentReplay) as replay:
        await ledger.post_transaction(_deposit(number, _claim()))
    assert replay.value.answer == KeptAnswer(201, b"5.00")
    with pytest.raises(IdempotencyKeyReused):
        await ledger.post_transaction(_deposit(number, _claim(fingerprint="f2")))
    assert await balance_of(ledger, number) == 5


class _FailingCommit(InMemoryUnitOfWork):
    """Its commit fails after everything, the kept answer included, was staged."""

    staged_answers: list[int] = []

    async def commit(self) -> None:
        _FailingCommit.staged_answers.append(len(self.idempotency.staged))
        raise StorageUnavailable("The commit failed.")


async def test_the_answer_and_the_change_are_kept_together_or_not_at_all(
    store: InMemoryStore, clock: SteppingClock
) -> None:
    number = number_of(await open_account(Ledger(store.unit_of_work, clock)))
    failing = Ledger(lambda read_only=False: _FailingCommit(store, read_only=read_only), clock)
    with pytest.raises(StorageUnavailable):
        await failing.post_transaction(_deposit(number, _claim()))
    assert _FailingCommit.staged_answers == [1]
    assert store.kept_requests == {}
    assert store.claimed_keys == set()
    ledger = Ledger(store.unit_of_work, clock)
    assert await balance_of(ledger, number) == 0
    # The retry with the key is the first request that counts.
    posted = await ledger.post_transaction(_deposit(number, _claim()))
    assert posted.created
    assert await balance_of(ledger, number) == 5


async def test_a_key_is_held_while_its_request_runs_and_freed_after_any_end(
    ledger: Ledger, store: InMemoryStore
) -> None:
    number = number_of(await open_account(ledger))
    async with store.unit_of_work() as holder:
        await holder.accounts.get_for_update(next(iter(store.accounts)))
        first = asyncio.create_task(ledger.post_transaction(_deposit(number, _claim())))
        for _ in range(20):
            await asyncio.sleep(0)
        with pytest.raises(IdempotencyKeyInUse):
            await ledger.post_transaction(_deposit(number, _claim()))
        # Another process's request (another Ledger on the store) meets the store's hold.
        other_process = Ledger(store.unit_of_work)
        with pytest.raises(IdempotencyKeyInUse):
            await other_process.post_transaction(_deposit(number, _claim()))
    assert (await first).created
    assert store.claimed_keys == set()
    with pytest.raises(IdempotentReplay):
        await ledger.post_transaction(_deposit(number, _claim()))


async def test_a_refusal_is_kept_in_its_own_unit_of_work(
    ledger: Ledger, store: InMemoryStore
) -> None:
    with pytest.raises(LedgerError) as refused:
        await ledger.post_transaction(_deposit("0000000000", _claim()))
    assert refused.value.code == "account_not_found"
    assert store.kept_requests[KEY].answer == KeptAnswer(409, b"account_not_found")
    with pytest.raises(IdempotentReplay):
        await ledger.post_transaction(_deposit("0000000000", _claim()))


async def test_a_refusal_while_another_holds_the_key_is_in_use(
    ledger: Ledger, store: InMemoryStore
) -> None:
    """A refusal made before the use case's unit of work (an account the actor may not see)
    while another unit of work holds the key is a 409 in use, and nothing is kept."""
    teller = Actor("teller", account_numbers=frozenset({AccountNumber("1111111111")}))
    command = dataclasses.replace(_deposit("2222222222", _claim()), actor=teller)
    with pytest.raises(AccountNotFound):
        await Ledger(store.unit_of_work).post_transaction(
            dataclasses.replace(command, idempotency=None)
        )
    async with store.unit_of_work() as other:
        await other.idempotency.claim(KEY)
        with pytest.raises(IdempotencyKeyInUse):
            await ledger.post_transaction(command)
    assert store.kept_requests == {}
    async with store.unit_of_work() as first, store.unit_of_work() as second:
        await first.idempotency.claim(KEY)
        with pytest.raises(IdempotencyKeyInUse):
            await second.idempotency.claim(KEY)
    assert store.claimed_keys == set()


def _kept(key: str, age: timedelta, clock: SteppingClock) -> KeptRequest:
    return KeptRequest(IdempotencyKey("master", key), "f", KeptAnswer(201, b""), clock.now - age)


async def test_answers_older_than_the_retention_are_removed_in_batches(
    store: InMemoryStore, clock: SteppingClock
) -> None:
    for index in range(5):
        kept = _kept(f"old-{index}", timedelta(hours=25), clock)
        store.kept_requests[kept.key] = kept
    young = _kept("young", timedelta(hours=23), clock)
    store.kept_requests[young.key] = young
    forget = ForgetExpiredIdempotencyKeys(store.unit_of_work, clock, batch=2)
    assert await forget(timedelta(hours=24)) == 5
    assert list(store.kept_requests) == [young.key]
    assert await forget(timedelta(hours=24)) == 0


async def test_a_retention_below_a_day_is_refused(ledger: Ledger) -> None:
    with pytest.raises(ValueError, match="at least"):
        await ledger.forget_expired_idempotency_keys(timedelta(hours=23, minutes=59))


async def test_after_removal_the_key_answers_anew(store: InMemoryStore) -> None:
    clock = SteppingClock(step=timedelta(0))
    ledger = Ledger(store.unit_of_work, clock, cursor_secret=CURSOR_SECRET)
    number = number_of(await open_account(ledger))
    await ledger.post_transaction(_deposit(number, _claim()))
    clock.advance(timedelta(hours=24))
    assert await ledger.forget_expired_idempotency_keys(timedelta(hours=24)) == 0
    clock.advance(timedelta(seconds=1))
    assert await ledger.forget_expired_idempotency_keys(timedelta(hours=24)) == 1
    posted = await ledger.post_transaction(_deposit(number, _claim(fingerprint="new")))
    assert posted.created
    assert await balance_of(ledger, number) == 10


def test_a_key_is_one_to_255_visible_ascii_characters() -> None:
    for good in ["a", "~" * 255, "!"]:
        assert IdempotencyKey("master", good).value == good
    bad: list[Any] = ["", " ", "a b", "\x7f", "é", "k" * 256, "a\n"]
    for value in bad:
        with pytest.raises(LedgerError):
            IdempotencyKey("master", value)


async def test_a_key_answered_since_the_claim_makes_the_posting_start_over_and_replay(
    store: InMemoryStore, clock: SteppingClock
) -> None:
    ledger = Ledger(store.unit_of_work, clock)
    number = number_of(await open_account(ledger))
    theirs = KeptRequest(KEY, "f1", KeptAnswer(201, b"theirs"), clock.now)
    made: list[str] = []

    def postings() -> InMemoryUnitOfWork:
        uow = store.unit_of_work()
        lock = uow.accounts.get_for_update

        async def lock_then_find_it_answered(locked: AccountNumber) -> Any:
            if not made:
                store.kept_requests[KEY] = theirs
                made.append("raised")
                raise KeyAnsweredMeanwhile()
            return await lock(locked)

        uow.accounts.get_for_update = lock_then_find_it_answered  # type: ignore[method-assign,assignment]
        return uow

    keyed = Ledger(store.unit_of_work, clock, postings=postings)
    with pytest.raises(IdempotentReplay) as replay:
        await keyed.post_transaction(_deposit(number, _claim()))
    assert replay.value.answer == KeptAnswer(201, b"theirs")
    assert made == ["raised"]
    assert await balance_of(ledger, number) == 0
    assert store.claimed_keys == set()


async def test_a_refusal_under_the_lock_is_kept_in_the_postings_own_unit_of_work(
    store: InMemoryStore, clock: SteppingClock
) -> None:
    """The posting's unit of work holds the key (on PostgreSQL, its group does until it ends):
    the refusal's answer is kept there, and no other unit of work is made to keep it."""
    number = number_of(await open_account(Ledger(store.unit_of_work, clock)))
    others: list[bool] = []

    def whole(*, read_only: bool = False) -> InMemoryUnitOfWork:
        others.append(read_only)
        return store.unit_of_work(read_only=read_only)

    keyed = Ledger(whole, clock, postings=store.posting_unit_of_work)
    others.clear()
    withdrawal = PostTransactionCommand(number, "5.00", "withdrawal", idempotency=_claim())
    with pytest.raises(LedgerError) as refused:
        await keyed.post_transaction(withdrawal)
    assert refused.value.code == "insufficient_funds"
    assert others == []
    assert store.kept_requests[KEY].answer == KeptAnswer(409, b"insufficient_funds")
    assert store.claimed_keys == set()
