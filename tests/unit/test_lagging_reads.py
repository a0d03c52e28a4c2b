"""Which use cases may read from a copy that lags (``Ledger(reads=...)``, a PostgreSQL standby
in production): those that only answer a reader. Recognising a key, finding the holds due to
expire, checking every journal and every change stay on the store that is current."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bank_adapters.memory import InMemoryStore, InMemoryUnitOfWork
from bank_domain import (
    Ledger,
    ListAccountsQuery,
    ListEntriesQuery,
    ListEventsQuery,
    ListTransactionsQuery,
)
from bank_domain.use_cases.api_keys import CreateApiKeyCommand, ListApiKeysQuery
from bank_domain.use_cases.audit import TransactionHistoryRequest
from bank_domain.use_cases.journal import StatementQuery
from bank_domain.use_cases.transfers import MakeTransferCommand

from .support import SteppingClock, number_of, open_account, post


class CountingFactory:
    """The store's units of work, counting those made and whether any was not read-only."""

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store
        self.made = 0
        self.writable = 0

    def __call__(self, *, read_only: bool = False) -> InMemoryUnitOfWork:
        self.made += 1
        self.writable += not read_only
        return self._store.unit_of_work(read_only=read_only)


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


async def test_the_reads_that_answer_a_reader_use_the_lagging_factory_and_only_read(
    store: InMemoryStore,
) -> None:
    current, lagging = CountingFactory(store), CountingFactory(store)
    ledger = Ledger(current, SteppingClock(), reads=lagging)
    account = await open_account(ledger, "50")
    other = await open_account(ledger, "0")
    number = number_of(account)
    posted = await post(ledger, number, "5")
    transfer = await ledger.make_transfer(MakeTransferCommand(number, number_of(other), "1"))
    key = await ledger.create_api_key(CreateApiKeyCommand("reader", ["accounts:read"]))
    current.made = 0

    await ledger.get_account(number)
    await ledger.list_accounts(ListAccountsQuery())
    await ledger.get_transaction(str(posted.transaction.transaction_id))
    await ledger.list_transactions(ListTransactionsQuery(number))
    await ledger.transaction_history(
        TransactionHistoryRequest(str(posted.transaction.transaction_id))
    )
    await ledger.get_transfer(str(transfer.transfer.transfer_id))
    await ledger.list_events(ListEventsQuery())
    await ledger.list_entries(ListEntriesQuery(number))
    await ledger.balance_at(number, None)
    far = datetime(2999, 1, 1, tzinfo=UTC)
    await ledger.statement(StatementQuery(number, datetime(2000, 1, 1, tzinfo=UTC), far))
    async for _ in await ledger.statement_entries(
        StatementQuery(number, datetime(2000, 1, 1, tzinfo=UTC), far)
    ):
        pass
    await ledger.verify_account(number)
    await ledger.list_api_keys(ListApiKeysQuery())
    await ledger.get_api_key(key.key.key_id)

    assert lagging.made >= 14
    assert lagging.writable == 0
    assert current.made == 0


async def test_key_checks_expiries_and_changes_never_use_the_lagging_factory(
    store: InMemoryStore,
) -> None:
    current, lagging = CountingFactory(store), CountingFactory(store)
    ledger = Ledger(current, SteppingClock(), reads=lagging)
    account = await open_account(ledger, "50")
    await post(ledger, number_of(account), "5", "withdrawal")
    made = await ledger.create_api_key(CreateApiKeyCommand("reader", ["accounts:read"]))
    assert await ledger.authenticate(made.secret) is not None
    await ledger.expire_holds()
    async for _ in ledger.verify_every_journal():
        pass
    await ledger.revoke_api_key(made.key.key_id)

    assert lagging.made == 0
    assert current.made > 0
