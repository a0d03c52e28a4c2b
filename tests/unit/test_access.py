"""Object-level authorization, use case by use case: an actor restricted to some accounts sees
nothing else, as if it did not exist (``bank_domain.access``)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bank_domain import (
    MASTER,
    Account,
    AccountNotFound,
    Actor,
    AmendTransactionCommand,
    CloseAccountCommand,
    CreateApiKeyCommand,
    DeleteTransactionCommand,
    DuplicateTransactionId,
    Forbidden,
    Ledger,
    ListAccountsQuery,
    ListApiKeysQuery,
    ListTransactionsQuery,
    OpenAccountCommand,
    PostTransactionCommand,
    Transaction,
    TransactionNotFound,
    UpdateAccountCommand,
)
from bank_domain.identifiers import AccountNumber

from .support import (
    balance_of,
    every_transaction,
    number_of,
    open_account,
    post,
    random_account_number,
    random_tid,
)


def restricted_to(*accounts: Account) -> Actor:
    return Actor(
        "key_0123456789abcdef0123456789abcdef",
        account_numbers=frozenset(account.number for account in accounts),
    )


class World:
    """Two accounts with a transaction each; ``actor`` sees only ``mine``."""

    def __init__(
        self, mine: Account, other: Account, my_tx: Transaction, other_tx: Transaction
    ) -> None:
        self.mine, self.other = mine, other
        self.my_tx, self.other_tx = my_tx, other_tx
        self.actor = restricted_to(mine)


@pytest.fixture
async def world(ledger: Ledger) -> World:
    mine = await open_account(ledger, "100.00")
    other = await open_account(ledger, "100.00")
    my_tx = await post(ledger, number_of(mine), "10.00", description="mine")
    other_tx = await post(ledger, number_of(other), "20.00", description="secret rent")
    return World(mine, other, my_tx.transaction, other_tx.transaction)


def as_if_absent_account(raised: pytest.ExceptionInfo[AccountNotFound], number: str) -> None:
    assert str(raised.value) == str(AccountNotFound(number))


def as_if_absent_transaction(raised: pytest.ExceptionInfo[TransactionNotFound], tid: str) -> None:
    assert str(raised.value) == str(TransactionNotFound(tid))


class TestAccounts:
    async def test_get_sees_its_account_and_no_other(self, ledger: Ledger, world: World) -> None:
        assert (await ledger.get_account(number_of(world.mine), actor=world.actor)).number == (
            world.mine.number
        )
        with pytest.raises(AccountNotFound) as raised:
            await ledger.get_account(number_of(world.other), actor=world.actor)
        as_if_absent_account(raised, number_of(world.other))

    async def test_update_of_another_account_is_not_found_and_changes_nothing(
        self, ledger: Ledger, world: World
    ) -> None:
        with pytest.raises(AccountNotFound) as raised:
            await ledger.update_account(
                UpdateAccountCommand(
                    number_of(world.other), customer_name="Mallory", actor=world.actor
                )
            )
        as_if_absent_account(raised, number_of(world.other))
        assert (await ledger.get_account(number_of(world.other))).customer_name == (
            world.other.customer_name
        )
        updated = await ledger.update_account(
            UpdateAccountCommand(number_of(world.mine), customer_name="Mine", actor=world.actor)
        )
        assert updated.customer_name == "Mine"

    async def test_close_of_another_account_is_not_found(
        self, ledger: Ledger, world: World
    ) -> None:
        with pytest.raises(AccountNotFound):
            await ledger.close_account(
                CloseAccountCommand(number_of(world.other), actor=world.actor)
            )
        assert not (await ledger.get_account(number_of(world.other))).is_closed

    async def test_a_restricted_actor_cannot_open_accounts(self, ledger: Ledger) -> None:
        mine = await open_account(ledger)
        number = random_account_number()
        with pytest.raises(Forbidden):
            await ledger.open_account(
                OpenAccountCommand("Eve", "checking", number, actor=restricted_to(mine))
            )
        with pytest.raises(AccountNotFound):
            await ledger.get_account(number)

    async def test_forbidden_comes_before_the_fields_are_read(self, ledger: Ledger) -> None:
        mine = await open_account(ledger)
        with pytest.raises(Forbidden):
            await ledger.open_account(
                OpenAccountCommand("", "no such type", actor=restricted_to(mine))
            )

    async def test_a_list_shows_only_its_accounts_and_pages_stay_full(self, ledger: Ledger) -> None:
        accounts = [await open_account(ledger, name="Same Name") for _ in range(7)]
        visible = accounts[::2]
        actor = restricted_to(*visible)
        seen: list[AccountNumber] = []
        cursor = None
        while True:
            page = await ledger.list_accounts(
                ListAccountsQuery(limit=1, cursor=cursor, actor=actor)
            )
            assert len(page.items) == 1
            seen.extend(account.number for account in page.items)
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == sorted(account.number for account in visible)

        filtered = await ledger.list_accounts(
            ListAccountsQuery(customer_name="Same Name", actor=actor)
        )
        assert [a.number for a in filtered.items] == sorted(a.number for a in visible)

    async def test_master_lists_every_account(self, ledger: Ledger, world: World) -> None:
        page = await ledger.list_accounts(ListAccountsQuery(limit=500))
        assert {world.mine.number, world.other.number} <= {a.number for a in page.items}

    async def test_recalculating_another_account_is_not_found(
        self, ledger: Ledger, world: World
    ) -> None:
        with pytest.raises(AccountNotFound):
            await ledger.recalculate_balance(number_of(world.other), actor=world.actor)
        recalculation = await ledger.recalculate_balance(number_of(world.mine), actor=world.actor)
        assert recalculation.balance.amount == Decimal("110.00")


class TestTransactions:
    async def test_get_of_another_accounts_transaction_is_not_found(
        self, ledger: Ledger, world: World
    ) -> None:
        tid = str(world.other_tx.transaction_id)
        with pytest.raises(TransactionNotFound) as raised:
            await ledger.get_transaction(tid, actor=world.actor)
        as_if_absent_transaction(raised, tid)
        mine = await ledger.get_transaction(str(world.my_tx.transaction_id), actor=world.actor)
        assert mine.transaction_id == world.my_tx.transaction_id

    async def test_a_transaction_of_a_closed_account_it_sees_stays_readable(
        self, ledger: Ledger
    ) -> None:
        account = await open_account(ledger)
        posted = await post(ledger, number_of(account), "5.00")
        await post(ledger, number_of(account), "5.00", "withdrawal")
        await ledger.close_account(CloseAccountCommand(number_of(account)))
        found = await ledger.get_transaction(
            str(posted.transaction.transaction_id), actor=restricted_to(account)
        )
        assert found.transaction_id == posted.transaction.transaction_id

    async def test_amending_another_accounts_transaction_is_not_found(
        self, ledger: Ledger, world: World
    ) -> None:
        tid = str(world.other_tx.transaction_id)
        with pytest.raises(TransactionNotFound) as raised:
            await ledger.amend_transaction(
                AmendTransactionCommand(tid, amount="99.00", actor=world.actor)
            )
        as_if_absent_transaction(raised, tid)
        assert (await ledger.get_transaction(tid)).amount.amount == Decimal("20.00")
        assert await balance_of(ledger, number_of(world.other)) == Decimal("120.00")

    async def test_deleting_another_accounts_transaction_is_not_found(
        self, ledger: Ledger, world: World
    ) -> None:
        tid = str(world.other_tx.transaction_id)
        with pytest.raises(TransactionNotFound):
            await ledger.delete_transaction(DeleteTransactionCommand(tid, actor=world.actor))
        assert not (await ledger.get_transaction(tid)).is_deleted
        await ledger.delete_transaction(
            DeleteTransactionCommand(str(world.my_tx.transaction_id), actor=world.actor)
        )
        assert await balance_of(ledger, number_of(world.mine)) == Decimal("100.00")

    async def test_listing_another_accounts_transactions_is_not_found(
        self, ledger: Ledger, world: World
    ) -> None:
        with pytest.raises(AccountNotFound):
            await ledger.list_transactions(
                ListTransactionsQuery(number_of(world.other), actor=world.actor)
            )
        page = await ledger.list_transactions(
            ListTransactionsQuery(number_of(world.mine), actor=world.actor)
        )
        assert world.my_tx.transaction_id in {t.transaction_id for t in page.items}

    async def test_posting_to_another_account_is_not_found_and_moves_nothing(
        self, ledger: Ledger, world: World
    ) -> None:
        with pytest.raises(AccountNotFound):
            await ledger.post_transaction(
                PostTransactionCommand(
                    number_of(world.other), "1.00", "withdrawal", actor=world.actor
                )
            )
        assert await balance_of(ledger, number_of(world.other)) == Decimal("120.00")
        posted = await ledger.post_transaction(
            PostTransactionCommand(number_of(world.mine), "1.00", "withdrawal", actor=world.actor)
        )
        assert posted.created

    async def test_reusing_the_id_of_a_hidden_transaction_tells_nothing_of_it(
        self, ledger: Ledger, world: World
    ) -> None:
        tid = str(world.other_tx.transaction_id)
        with pytest.raises(DuplicateTransactionId) as raised:
            await ledger.post_transaction(
                PostTransactionCommand(
                    number_of(world.mine),
                    "20.00",
                    "deposit",
                    transaction_id=tid,
                    description="secret rent",
                    actor=world.actor,
                )
            )
        # Without the id itself, which the refusal names and which may hold "20" by chance.
        message = str(raised.value).replace(tid, "<id>")
        for field in (number_of(world.other), "20", "secret rent", "deposit", "success"):
            assert field not in message
        assert len(await every_transaction(ledger, number_of(world.mine))) == 2

    async def test_a_retry_of_its_own_posting_is_still_answered_with_it(
        self, ledger: Ledger, world: World
    ) -> None:
        tid = random_tid()
        command = PostTransactionCommand(
            number_of(world.mine), "3.00", "deposit", transaction_id=tid, actor=world.actor
        )
        first = await ledger.post_transaction(command)
        again = await ledger.post_transaction(command)
        assert first.created
        assert not again.created


class TestKeys:
    async def test_a_restricted_actor_manages_no_keys(self, ledger: Ledger) -> None:
        mine = await open_account(ledger)
        actor = restricted_to(mine)
        created = await ledger.create_api_key(CreateApiKeyCommand("k", ["accounts:read"]))
        with pytest.raises(Forbidden):
            await ledger.create_api_key(CreateApiKeyCommand("k", ["accounts:read"], actor=actor))
        with pytest.raises(Forbidden):
            await ledger.list_api_keys(ListApiKeysQuery(actor=actor))
        with pytest.raises(Forbidden):
            await ledger.get_api_key(created.key.key_id, actor=actor)
        with pytest.raises(Forbidden):
            await ledger.revoke_api_key(created.key.key_id, actor=actor)
        assert (await ledger.get_api_key(created.key.key_id, actor=MASTER)).revoked_at is None
