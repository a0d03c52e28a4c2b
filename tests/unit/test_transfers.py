"""Transfers in the domain, on the in-memory store: both legs or neither, under both accounts'
locks; retries; reversal; legs that never change alone; who sees a transfer."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from bank_adapters.memory import InMemoryStore
from bank_domain import (
    AccountFrozen,
    AccountNotFound,
    Actor,
    AmendTransactionCommand,
    Change,
    CloseAccountCommand,
    DeleteTransactionCommand,
    DuplicateTransferId,
    EventType,
    InsufficientFunds,
    InvalidValue,
    Ledger,
    MakeTransferCommand,
    TransactionHistoryRequest,
    TransactionStatus,
    TransactionType,
    Transfer,
    TransferLeg,
    TransferNotFound,
    TransferStatus,
    UpdateAccountCommand,
)
from bank_domain.actors import MASTER
from bank_domain.identifiers import AccountNumber

from .support import balance_of, number_of, open_account, post, random_tid
from .test_audit_trail import every_event


async def two_accounts(ledger: Ledger, first: str = "100.00", second: str = "0") -> tuple[str, str]:
    return (
        number_of(await open_account(ledger, first)),
        number_of(await open_account(ledger, second)),
    )


def transfer(
    from_account: str,
    to_account: str,
    amount: str = "30.00",
    *,
    transfer_id: str | None = None,
    description: str | None = None,
    actor: Actor = MASTER,
) -> MakeTransferCommand:
    return MakeTransferCommand(from_account, to_account, amount, transfer_id, description, actor)


def same(found: Transfer, expected: Transfer) -> bool:
    """Field for field, legs included (a transaction compares by identity)."""
    return dataclasses.asdict(found) == dataclasses.asdict(expected)


async def snapshot(ledger: Ledger, store: InMemoryStore, *numbers: str) -> object:
    """Everything a refused transfer must leave as it was."""
    return (
        [await balance_of(ledger, n) for n in numbers],
        len(store.transactions),
        len(store.events),
        {n: len(store.journal[AccountNumber(n)]) for n in numbers},
    )


async def test_a_transfer_moves_the_amount_with_two_legs(ledger: Ledger) -> None:
    source, target = await two_accounts(ledger)

    made = await ledger.make_transfer(transfer(source, target, "30.25", description="Rent"))

    assert made.created
    moved = made.transfer
    assert (moved.status, moved.amount.amount, moved.description) == (
        TransferStatus.SUCCESS,
        Decimal("30.25"),
        "Rent",
    )
    assert (str(moved.from_account), str(moved.to_account)) == (source, target)
    assert await balance_of(ledger, source) == Decimal("69.75")
    assert await balance_of(ledger, target) == Decimal("30.25")
    debit = await ledger.get_transaction(str(moved.debit.transaction_id))
    credit = await ledger.get_transaction(str(moved.credit.transaction_id))
    assert (debit.transaction_type, credit.transaction_type) == (
        TransactionType.WITHDRAWAL,
        TransactionType.DEPOSIT,
    )
    assert debit.transfer_id == credit.transfer_id == moved.transfer_id
    assert debit.status is credit.status is TransactionStatus.SUCCESS
    assert (debit.balance_after, credit.balance_after) == (
        moved.debit.balance_after,
        moved.credit.balance_after,
    )
    assert debit.balance_after is not None
    assert debit.balance_after.amount == Decimal("69.75")
    assert debit.timestamp == credit.timestamp == moved.timestamp
    assert same(await ledger.get_transfer(str(moved.transfer_id)), moved)


async def test_a_transfer_records_an_event_and_an_entry_per_leg(
    ledger: Ledger, store: InMemoryStore
) -> None:
    source, target = await two_accounts(ledger)
    moved = (await ledger.make_transfer(transfer(source, target))).transfer

    events = (await every_event(ledger))[-2:]
    assert [(e.type, str(e.account_number), e.transaction_id) for e in events] == [
        (EventType.TRANSFER_POSTED, source, moved.debit.transaction_id),
        (EventType.TRANSFER_POSTED, target, moved.credit.transaction_id),
    ]
    for leg in moved.legs:
        history = await ledger.transaction_history(
            TransactionHistoryRequest(str(leg.transaction_id))
        )
        assert [version.change for version in history.items] == [Change.CREATED]
    assert [(e.transaction_id, e.amount.amount) for e in store.journal[moved.from_account]][-1] == (
        moved.debit.transaction_id,
        Decimal("-30.00"),
    )
    assert [(e.transaction_id, e.amount.amount) for e in store.journal[moved.to_account]] == [
        (moved.credit.transaction_id, Decimal("30.00"))
    ]
    for number in (source, target):
        assert (await ledger.verify_account(number)).sound


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        ("same account", InvalidValue),
        ("unknown from", AccountNotFound),
        ("unknown to", AccountNotFound),
        ("closed to", AccountNotFound),
        ("frozen from", AccountFrozen),
        ("frozen to", AccountFrozen),
        ("too much", InsufficientFunds),
    ],
)
async def test_a_refused_transfer_changes_nothing(
    ledger: Ledger, store: InMemoryStore, change: str, refusal: type[Exception]
) -> None:
    source, target = await two_accounts(ledger)
    spare = number_of(await open_account(ledger))
    from_account, to_account, amount = source, target, "30.00"
    if change == "same account":
        to_account = source
    elif change == "unknown from":
        from_account = "0000000001" if source != "0000000001" else "0000000002"
    elif change == "unknown to":
        to_account = "0000000001" if source != "0000000001" else "0000000002"
    elif change == "closed to":
        await ledger.close_account(CloseAccountCommand(spare))
        to_account = spare
    elif change.startswith("frozen"):
        frozen = source if change == "frozen from" else target
        await ledger.update_account(UpdateAccountCommand(frozen, status="frozen"))
    else:
        amount = "100.01"
    before = await snapshot(ledger, store, source, target)

    with pytest.raises(refusal) as refused:
        await ledger.make_transfer(transfer(from_account, to_account, amount))

    assert await snapshot(ledger, store, source, target) == before
    if change == "same account":
        assert isinstance(refused.value, InvalidValue)
        assert refused.value.field == "to_account"


async def test_malformed_fields_are_named(ledger: Ledger) -> None:
    source, target = await two_accounts(ledger)
    for command, field in [
        (transfer("12", target), "from_account"),
        (transfer(source, "x" * 10), "to_account"),
        (transfer(source, target, "0"), "amount"),
        (transfer(source, target, "1.001"), "amount"),
        (transfer(source, target, transfer_id="short"), "transfer_id"),
        (transfer(source, target, description="\x1b[31m"), "description"),
    ]:
        with pytest.raises(InvalidValue) as refused:
            await ledger.make_transfer(command)
        assert refused.value.field == field


async def test_a_retry_returns_the_stored_transfer_and_moves_nothing(ledger: Ledger) -> None:
    source, target = await two_accounts(ledger)
    tid = random_tid("tr")
    first = await ledger.make_transfer(transfer(source, target, transfer_id=tid))

    again = await ledger.make_transfer(transfer(source, target, transfer_id=tid))

    assert first.created
    assert not again.created
    assert same(again.transfer, first.transfer)
    assert await balance_of(ledger, source) == Decimal("70.00")
    for other in (
        transfer(source, target, "31.00", transfer_id=tid),
        transfer(target, source, transfer_id=tid),
        transfer(source, target, transfer_id=tid, description="other"),
    ):
        with pytest.raises(DuplicateTransferId):
            await ledger.make_transfer(other)
    assert await balance_of(ledger, source) == Decimal("70.00")


async def test_a_transfer_id_is_its_own_namespace(ledger: Ledger) -> None:
    source, target = await two_accounts(ledger)
    tid = random_tid("shared")
    await post(ledger, source, "1.00", transaction_id=tid)
    made = await ledger.make_transfer(transfer(source, target, transfer_id=tid))
    assert made.created
    assert str(made.transfer.debit.transaction_id) != tid


async def test_reversal_gives_the_money_back_and_cancels_both_legs(
    ledger: Ledger, store: InMemoryStore
) -> None:
    source, target = await two_accounts(ledger)
    moved = (await ledger.make_transfer(transfer(source, target))).transfer
    tid = str(moved.transfer_id)

    reversed_ = await ledger.reverse_transfer(tid)

    assert reversed_.status is TransferStatus.REVERSED
    assert await balance_of(ledger, source) == Decimal("100.00")
    assert await balance_of(ledger, target) == Decimal("0.00")
    for leg in reversed_.legs:
        stored = await ledger.get_transaction(str(leg.transaction_id))
        assert (stored.status, stored.version, stored.balance_after) == (
            TransactionStatus.CANCELLED,
            2,
            None,
        )
        history = await ledger.transaction_history(
            TransactionHistoryRequest(str(leg.transaction_id))
        )
        assert [v.change for v in history.items] == [Change.CREATED, Change.REVERSED]
    events = (await every_event(ledger))[-2:]
    assert [(e.type, str(e.account_number)) for e in events] == [
        (EventType.TRANSFER_REVERSED, source),
        (EventType.TRANSFER_REVERSED, target),
    ]
    for number in (source, target):
        check = await ledger.verify_account(number)
        assert check.sound
    assert [e.amount.amount for e in store.journal[AccountNumber(target)]] == [
        Decimal("30.00"),
        Decimal("-30.00"),
    ]
    assert (await ledger.get_transfer(tid)).status is TransferStatus.REVERSED

    before = await snapshot(ledger, store, source, target)
    assert same(await ledger.reverse_transfer(tid), reversed_)
    assert await snapshot(ledger, store, source, target) == before


async def test_reversal_is_refused_when_to_account_spent_the_money(
    ledger: Ledger, store: InMemoryStore
) -> None:
    source, target = await two_accounts(ledger)
    moved = (await ledger.make_transfer(transfer(source, target))).transfer
    await post(ledger, target, "10.00", "withdrawal")
    before = await snapshot(ledger, store, source, target)

    with pytest.raises(InsufficientFunds):
        await ledger.reverse_transfer(str(moved.transfer_id))

    assert await snapshot(ledger, store, source, target) == before
    assert (await ledger.get_transfer(str(moved.transfer_id))).status is TransferStatus.SUCCESS


async def test_reversal_of_an_unknown_transfer_is_not_found(ledger: Ledger) -> None:
    for tid in (random_tid("none"), "no", "bad id!"):
        with pytest.raises(TransferNotFound):
            await ledger.reverse_transfer(tid)
        with pytest.raises(TransferNotFound):
            await ledger.get_transfer(tid)


async def test_a_leg_is_never_changed_or_deleted_alone(
    ledger: Ledger, store: InMemoryStore
) -> None:
    source, target = await two_accounts(ledger)
    moved = (await ledger.make_transfer(transfer(source, target))).transfer
    before = await snapshot(ledger, store, source, target)

    for leg in moved.legs:
        tid = str(leg.transaction_id)
        for command in (
            AmendTransactionCommand(tid, status="cancelled"),
            AmendTransactionCommand(tid, description="x"),
            AmendTransactionCommand(tid),
        ):
            with pytest.raises(TransferLeg):
                await ledger.amend_transaction(command)
        with pytest.raises(TransferLeg):
            await ledger.delete_transaction(DeleteTransactionCommand(tid))

    assert await snapshot(ledger, store, source, target) == before


async def test_a_key_sees_a_transfer_only_when_it_sees_both_accounts(ledger: Ledger) -> None:
    source, target = await two_accounts(ledger)
    both = Actor(
        "key-both", account_numbers=frozenset({AccountNumber(source), AccountNumber(target)})
    )
    one = Actor("key-one", account_numbers=frozenset({AccountNumber(source)}))

    made = await ledger.make_transfer(transfer(source, target, actor=both))
    tid = str(made.transfer.transfer_id)

    assert same(await ledger.get_transfer(tid, actor=both), made.transfer)
    with pytest.raises(TransferNotFound):
        await ledger.get_transfer(tid, actor=one)
    with pytest.raises(TransferNotFound):
        await ledger.reverse_transfer(tid, actor=one)
    with pytest.raises(AccountNotFound):
        await ledger.make_transfer(transfer(source, target, actor=one))
    with pytest.raises(AccountNotFound):
        await ledger.make_transfer(transfer(target, source, actor=one))
    assert await balance_of(ledger, source) == Decimal("70.00")
    assert (await ledger.reverse_transfer(tid, actor=both)).status is TransferStatus.REVERSED
