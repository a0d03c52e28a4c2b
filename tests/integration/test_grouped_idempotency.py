"""Postings with idempotency keys on PostgreSQL's grouped path: the claim is looked up in
batches, the key is taken in the group's transaction with the accounts' locks, and the answer
written with the group. A key that another process holds, or answered meanwhile, turns its
member away alone, before it stages anything; the rest of its group goes on."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from bank_adapters.sql import SqlStore
from bank_adapters.sql.grouped.committer import GroupCommitter
from bank_adapters.sql.grouped.member import GroupMemberUnitOfWork
from bank_domain import (
    DuplicateTransactionId,
    InsufficientFunds,
    Ledger,
    OpenAccountCommand,
    PostedTransaction,
    PostTransactionCommand,
)
from bank_domain.errors import IdempotencyKeyInUse, LedgerError
from bank_domain.idempotency import (
    IdempotencyClaim,
    IdempotencyKey,
    IdempotentReplay,
    KeptAnswer,
    KeptRequest,
)

pytestmark = pytest.mark.postgres

BODY = bytes(range(256))
HEADERS = (("content-type", "application/json"), ("location", "/v1/transactions/x"))


def _answer(posted: PostedTransaction) -> KeptAnswer:
    body = BODY + str(posted.transaction.transaction_id).encode()
    return KeptAnswer(201 if posted.created else 200, body, HEADERS)


def _refusal(error: LedgerError) -> KeptAnswer | None:
    return KeptAnswer(409, error.code.encode())


def _key() -> IdempotencyKey:
    return IdempotencyKey("master", f"grouped-{uuid.uuid4().hex}")


def _keyed(
    number: str, amount: str, key: IdempotencyKey, kind: str = "deposit", fingerprint: str = "f"
) -> PostTransactionCommand:
    claim: IdempotencyClaim[PostedTransaction] = IdempotencyClaim(
        key, fingerprint, _answer, _refusal
    )
    return PostTransactionCommand(number, amount, kind, idempotency=claim)


def grouped_ledger(store: SqlStore) -> Ledger:
    return Ledger(store.unit_of_work, postings=store.posting_unit_of_work)


async def _open(ledger: Ledger, deposit: str = "0") -> str:
    opened = await ledger.open_account(
        OpenAccountCommand("Ada", "checking", initial_deposit=deposit)
    )
    return opened.number.value


async def _kept(store: SqlStore, key: IdempotencyKey) -> KeptRequest | None:
    async with store.unit_of_work() as uow:
        return await uow.idempotency.claim(key)


async def _balance(ledger: Ledger, number: str) -> Decimal:
    return (await ledger.get_account(number)).balance.amount


def _committer(store: SqlStore) -> GroupCommitter:
    member = store.posting_unit_of_work()
    assert isinstance(member, GroupMemberUnitOfWork)
    return member._committer


async def test_a_keyed_posting_and_its_answer_are_written_by_its_group(
    postgres_store: SqlStore,
) -> None:
    """The answer comes back exactly (every byte of its body, its headers); a repeat replays
    it, moving no money; a refusal under the account's lock is kept with its group too."""
    ledger = grouped_ledger(postgres_store)
    number = await _open(ledger)
    # Every visible ASCII character, JSON's and SQL's own among them.
    key = IdempotencyKey("master", "".join(map(chr, range(0x21, 0x7F))) + uuid.uuid4().hex)
    refused_key = _key()
    unkeyed = [PostTransactionCommand(number, "1.00", "deposit") for _ in range(10)]
    posted, refused, *others = await asyncio.gather(
        ledger.post_transaction(_keyed(number, "5.00", key)),
        ledger.post_transaction(_keyed(number, "1000.00", refused_key, "withdrawal")),
        *(ledger.post_transaction(command) for command in unkeyed),
        return_exceptions=True,
    )
    assert isinstance(posted, PostedTransaction), posted
    assert isinstance(refused, InsufficientFunds), refused
    assert all(isinstance(other, PostedTransaction) for other in others), others

    kept = await _kept(postgres_store, key)
    assert kept is not None
    assert kept.answer == _answer(posted)
    with pytest.raises(IdempotentReplay) as replay:
        await ledger.post_transaction(_keyed(number, "5.00", key))
    assert replay.value.answer == _answer(posted)
    kept_refusal = await _kept(postgres_store, refused_key)
    assert kept_refusal is not None
    assert kept_refusal.answer == KeptAnswer(409, b"insufficient_funds")
    assert await _balance(ledger, number) == Decimal("15.00")


async def test_a_key_another_process_holds_turns_its_member_away_alone(
    postgres_store: SqlStore, postgres_store_url: str
) -> None:
    """Another process's unit of work holds the key (its advisory lock): the member with it is
    refused at once (409 in use) and nothing of it is stored, while the postings in its group
    are all written; once the holder has kept its answer, the posting replays it."""
    ledger = grouped_ledger(postgres_store)
    number = await _open(ledger)
    key = _key()
    other = SqlStore.from_url(postgres_store_url)
    try:
        async with other.unit_of_work() as holder:
            assert await holder.idempotency.claim(key) is None
            async with asyncio.timeout(10):
                results = await asyncio.gather(
                    ledger.post_transaction(_keyed(number, "7.00", key)),
                    *(
                        ledger.post_transaction(PostTransactionCommand(number, "1.00", "deposit"))
                        for _ in range(10)
                    ),
                    return_exceptions=True,
                )
            assert isinstance(results[0], IdempotencyKeyInUse), results[0]
            assert all(isinstance(r, PostedTransaction) for r in results[1:]), results
            held = KeptRequest(key, "f", KeptAnswer(201, b"the holder's"), datetime.now(UTC))
            await holder.idempotency.add(held)
            await holder.commit()
    finally:
        await other.dispose()
    assert await _balance(ledger, number) == Decimal("10.00")
    with pytest.raises(IdempotentReplay) as replay:
        await ledger.post_transaction(_keyed(number, "7.00", key))
    assert replay.value.answer.body == b"the holder's"


async def test_a_key_answered_by_another_process_since_the_claim_is_replayed(
    postgres_store: SqlStore, postgres_store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between a member's claim (which found nothing) and its group's lock, another process
    posts with the key and commits: the group finds that answer once it holds the key, turns
    the member away before it stages anything, and the posting starts over and replays the
    other's answer. The group's write does not meet the other's answer, so the rest of the
    group is written."""
    ledger = grouped_ledger(postgres_store)
    number = await _open(ledger)
    key = _key()
    other = SqlStore.from_url(postgres_store_url)
    other_posted: list[PostedTransaction] = []
    committer = _committer(postgres_store)
    get_kept: Callable[[IdempotencyKey], Awaitable[KeptRequest | None]] = committer.get_kept

    async def look_up_then_let_the_other_post(claimed: IdempotencyKey) -> KeptRequest | None:
        found = await get_kept(claimed)
        if claimed == key and not other_posted:
            other_posted.append(
                await grouped_ledger(other).post_transaction(_keyed(number, "3.00", key))
            )
        return found

    monkeypatch.setattr(committer, "get_kept", look_up_then_let_the_other_post)
    try:
        results = await asyncio.gather(
            ledger.post_transaction(_keyed(number, "3.00", key)),
            *(
                ledger.post_transaction(PostTransactionCommand(number, "1.00", "deposit"))
                for _ in range(10)
            ),
            return_exceptions=True,
        )
    finally:
        await other.dispose()
    assert len(other_posted) == 1
    assert isinstance(results[0], IdempotentReplay), results[0]
    assert results[0].answer == _answer(other_posted[0])
    assert all(isinstance(r, PostedTransaction) for r in results[1:]), results
    assert await _balance(ledger, number) == Decimal("13.00")


async def test_one_key_posted_at_once_through_two_processes_is_applied_once(
    postgres_store: SqlStore, postgres_store_url: str
) -> None:
    """Two processes (two stores: their own groups and connections) each post one key several
    times at once, among postings without keys, round after round: exactly one of them is
    applied, every other is replayed, refused as in use or (another request: its account
    differs) as reused, never a 5xx, and no group fails. Every other round each process posts
    to an account of its own, so that no account's row lock puts the two in turn: only the
    key's lock does."""
    rounds, each = 16, 4
    other = SqlStore.from_url(postgres_store_url)
    ledgers = [grouped_ledger(postgres_store), grouped_ledger(other)]
    numbers = [await _open(ledgers[0]), await _open(ledgers[0])]
    outcomes: Counter[str] = Counter()
    applied: Counter[str] = Counter()
    try:
        for round_ in range(rounds):
            key = _key()
            targets = [numbers[0], numbers[round_ % 2]]
            sent = [
                ledger.post_transaction(_keyed(target, "1.00", key, fingerprint=target))
                for _ in range(each)
                for ledger, target in zip(ledgers, targets, strict=True)
            ]
            unkeyed = [
                ledger.post_transaction(PostTransactionCommand(target, "0.01", "deposit"))
                for _ in range(each)
                for ledger, target in zip(ledgers, targets, strict=True)
            ]
            results = await asyncio.gather(*sent, *unkeyed, return_exceptions=True)
            keyed, plain = results[: len(sent)], results[len(sent) :]
            kinds = Counter(type(result).__name__ for result in keyed)
            outcomes.update(kinds)
            assert kinds["PostedTransaction"] == 1, kinds
            assert set(kinds) <= {
                "PostedTransaction",
                "IdempotentReplay",
                "IdempotencyKeyInUse",
                "IdempotencyKeyReused",
            }, keyed
            assert all(isinstance(result, PostedTransaction) for result in plain), plain
            applied.update(
                r.transaction.account_number.value
                for r in keyed
                if isinstance(r, PostedTransaction)
            )
    finally:
        await other.dispose()
    for number in numbers:
        unkeyed_cents = sum(
            each * (number == target)
            for r in range(rounds)
            for target in [numbers[0], numbers[r % 2]]
        )
        expected = applied[number] + Decimal("0.01") * unkeyed_cents
        assert await _balance(ledgers[0], number) == expected
    print(dict(outcomes))


async def test_the_claim_comes_first_and_keeps_only_its_own_answer(
    postgres_store: SqlStore,
) -> None:
    """The member holds a keyed posting to the port's order: the claim first and once, the
    answer after the lock, one answer and only for the key it claimed."""
    ledger = grouped_ledger(postgres_store)
    number = await _open(ledger)
    key = _key()
    posted = await ledger.post_transaction(PostTransactionCommand(number, "1.00", "deposit"))
    kept = KeptRequest(key, "f", KeptAnswer(201, b""), posted.transaction.timestamp)

    async with postgres_store.posting_unit_of_work() as uow:
        await uow.transactions.get(posted.transaction.transaction_id)
        with pytest.raises(RuntimeError, match="claims its idempotency key first"):
            await uow.idempotency.claim(key)
    async with postgres_store.posting_unit_of_work() as uow:
        assert await uow.idempotency.claim(key) is None
        with pytest.raises(RuntimeError, match="first, and once"):
            await uow.idempotency.claim(key)
        with pytest.raises(RuntimeError, match="after locking"):
            await uow.idempotency.add(kept)
    async with postgres_store.posting_unit_of_work() as uow:
        assert await uow.idempotency.claim(key) is None
        await uow.accounts.get_for_update(posted.transaction.account_number)
        with pytest.raises(RuntimeError, match="one answer"):
            await uow.idempotency.add(KeptRequest(_key(), "f", kept.answer, kept.created_at))
        await uow.idempotency.add(kept)
        with pytest.raises(RuntimeError, match="one answer"):
            await uow.idempotency.add(kept)
        await uow.commit()
    assert await _kept(postgres_store, key) == kept


async def test_a_transaction_id_posted_before_is_answered_and_kept_by_the_group(
    postgres_store: SqlStore,
) -> None:
    """A keyed posting whose transaction_id is stored already: the same fields are the stored
    transaction (200, kept), other fields a 409 ``duplicate_transaction_id`` (kept too); both
    under the account's lock, in the group, and replayed after."""
    ledger = grouped_ledger(postgres_store)
    number = await _open(ledger)
    stored = await ledger.post_transaction(
        PostTransactionCommand(number, "4.00", "deposit", transaction_id="grouped-id-1")
    )
    same, other = _key(), _key()

    def with_id(amount: str, key: IdempotencyKey) -> PostTransactionCommand:
        return dataclasses.replace(_keyed(number, amount, key), transaction_id="grouped-id-1")

    repeated = await ledger.post_transaction(with_id("4.00", same))
    assert not repeated.created
    assert repeated.transaction.transaction_id == stored.transaction.transaction_id
    with pytest.raises(DuplicateTransactionId):
        await ledger.post_transaction(with_id("5.00", other))
    for key, answer in [
        (same, _answer(repeated)),
        (other, KeptAnswer(409, b"duplicate_transaction_id")),
    ]:
        kept = await _kept(postgres_store, key)
        assert kept is not None
        assert kept.answer == answer
    with pytest.raises(IdempotentReplay):
        await ledger.post_transaction(with_id("5.00", other))
    assert await _balance(ledger, number) == Decimal("4.00")
