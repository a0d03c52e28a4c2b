"""The ledger as a library: every use case over one store, in one object."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

from bank_domain.account import Account
from bank_domain.actors import MASTER, Actor
from bank_domain.api_keys import ApiKey
from bank_domain.events import Event, TransactionChange
from bank_domain.idempotency import IdempotencyClaim
from bank_domain.journal import JournalCheck, JournalEntry
from bank_domain.pagination import CursorCodec, Page
from bank_domain.ports import Clock, PostingUnitOfWorkFactory, UnitOfWorkFactory
from bank_domain.transaction import Transaction
from bank_domain.transfer import Transfer
from bank_domain.use_cases._common import utc_now
from bank_domain.use_cases.accounts import (
    CloseAccount,
    CloseAccountCommand,
    GetAccount,
    ListAccounts,
    ListAccountsQuery,
    OpenAccount,
    OpenAccountCommand,
    UpdateAccount,
    UpdateAccountCommand,
)
from bank_domain.use_cases.api_keys import (
    Authenticate,
    CreateApiKey,
    CreateApiKeyCommand,
    CreatedApiKey,
    GetApiKey,
    ListApiKeys,
    ListApiKeysQuery,
    RevokeApiKey,
)
from bank_domain.use_cases.audit import (
    ListEvents,
    ListEventsQuery,
    TransactionHistory,
    TransactionHistoryRequest,
)
from bank_domain.use_cases.balance import RecalculateBalance, Recalculation
from bank_domain.use_cases.batches import PostBatch, PostBatchCommand, PostedBatch
from bank_domain.use_cases.expiry import ACCOUNTS_PER_SWEEP, ExpireHolds
from bank_domain.use_cases.idempotency import ForgetExpiredIdempotencyKeys, Idempotency
from bank_domain.use_cases.journal import (
    BalanceAt,
    BalanceAtTime,
    ListEntries,
    ListEntriesQuery,
    MakeStatement,
    Statement,
    StatementEntries,
    StatementQuery,
    VerifyAccount,
    VerifyEveryJournal,
)
from bank_domain.use_cases.posting import (
    PostedTransaction,
    PostTransaction,
    PostTransactionCommand,
)
from bank_domain.use_cases.transactions import (
    AmendTransaction,
    AmendTransactionCommand,
    DeleteTransaction,
    DeleteTransactionCommand,
    GetTransaction,
    ListTransactions,
    ListTransactionsQuery,
)
from bank_domain.use_cases.transfers import (
    GetTransfer,
    MadeTransfer,
    MakeTransfer,
    MakeTransferCommand,
    ReverseTransfer,
)


class Ledger:
    """Bank accounts and their transactions over any store that implements the ports.

    >>> ledger = Ledger(InMemoryStore().unit_of_work)          # doctest: +SKIP
    >>> account = await ledger.open_account(OpenAccountCommand("Ada", "checking"))  # +SKIP

    Each method runs one use case (``bank_domain.use_cases``); the use case's class documents
    its rules. Every one acts for an ``Actor`` (``bank_domain.actors``): the command's
    ``actor`` field, or the ``actor`` keyword; left out, it is ``MASTER``, the operator.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock = utc_now,
        postings: PostingUnitOfWorkFactory | None = None,
        *,
        cursor_secret: bytes | str | None = None,
        reads: UnitOfWorkFactory | None = None,
    ) -> None:
        """``postings``, when given, serves PostTransaction instead of ``uow``: a store's leaner
        path for the busiest use case. Every other use case runs on ``uow``, but for the reads.

        ``reads``, when given, serves the use cases that only read and answer a reader (an
        account, a transaction, a transfer, the lists, the event feed, a history, the journal's
        routes, the keys' listing): a store may serve them from a copy that lags a little behind
        ``uow`` (a PostgreSQL standby). What must be current stays on ``uow``: recognising an
        API key (a revoked key is refused within seconds), finding the holds due to expire,
        checking every journal, and every read inside a change.

        ``cursor_secret`` signs the cursors of listings: every process serving one API needs the
        same one. Without it this Ledger makes a random one, and only it reads its cursors."""
        cursors = CursorCodec(cursor_secret)
        reads = reads or uow
        # One for every use case that takes idempotency keys: it holds this process's keys.
        idempotency = Idempotency(uow, clock)
        self._open_account = OpenAccount(uow, clock, idempotency)
        self._update_account = UpdateAccount(uow, clock)
        self._close_account = CloseAccount(uow, clock)
        self._get_account = GetAccount(reads, clock)
        self._list_accounts = ListAccounts(reads, cursors, clock)
        self._expire_holds = ExpireHolds(uow, clock)
        self._post_transaction = PostTransaction(
            postings or uow,
            clock,
            expire_account=self._expire_holds.account,
            keyed=uow,
            idempotency=idempotency,
        )
        self._post_batch = PostBatch(uow, clock, idempotency)
        self._make_transfer = MakeTransfer(uow, clock, idempotency)
        self._get_transfer = GetTransfer(reads)
        self._reverse_transfer = ReverseTransfer(uow, clock, idempotency)
        self._amend_transaction = AmendTransaction(uow, clock)
        self._delete_transaction = DeleteTransaction(uow, clock)
        self._get_transaction = GetTransaction(reads, clock)
        self._list_transactions = ListTransactions(reads, cursors, clock)
        self._transaction_history = TransactionHistory(reads, cursors, clock)
        self._list_events = ListEvents(reads, cursors)
        self._recalculate_balance = RecalculateBalance(uow, clock, idempotency)
        self._list_entries = ListEntries(reads, cursors)
        self._balance_at = BalanceAt(reads, clock)
        self._make_statement = MakeStatement(reads)
        self._statement_entries = StatementEntries(reads)
        self._verify_account = VerifyAccount(reads)
        self._verify_every_journal = VerifyEveryJournal(uow)
        self._authenticate = Authenticate(uow, clock)
        self._create_api_key = CreateApiKey(uow, clock, idempotency)
        self._list_api_keys = ListApiKeys(reads, cursors)
        self._get_api_key = GetApiKey(reads)
        self._revoke_api_key = RevokeApiKey(uow, clock, on_revoked=self._authenticate.forget)
        self._forget_expired_idempotency_keys = ForgetExpiredIdempotencyKeys(uow, clock)

    async def open_account(self, command: OpenAccountCommand) -> Account:
        return await self._open_account(command)

    async def update_account(self, command: UpdateAccountCommand) -> Account:
        return await self._update_account(command)

    async def close_account(self, command: CloseAccountCommand) -> None:
        await self._close_account(command)

    async def get_account(self, account_number: str, *, actor: Actor = MASTER) -> Account:
        return await self._get_account(account_number, actor=actor)

    async def list_accounts(self, query: ListAccountsQuery) -> Page[Account]:
        return await self._list_accounts(query)

    async def post_transaction(self, command: PostTransactionCommand) -> PostedTransaction:
        return await self._post_transaction(command)

    async def post_batch(self, command: PostBatchCommand) -> PostedBatch:
        return await self._post_batch(command)

    async def make_transfer(self, command: MakeTransferCommand) -> MadeTransfer:
        return await self._make_transfer(command)

    async def get_transfer(self, transfer_id: str, *, actor: Actor = MASTER) -> Transfer:
        return await self._get_transfer(transfer_id, actor=actor)

    async def reverse_transfer(
        self,
        transfer_id: str,
        *,
        actor: Actor = MASTER,
        idempotency: IdempotencyClaim[Transfer] | None = None,
    ) -> Transfer:
        return await self._reverse_transfer(transfer_id, actor=actor, idempotency=idempotency)

    async def amend_transaction(self, command: AmendTransactionCommand) -> Transaction:
        return await self._amend_transaction(command)

    async def delete_transaction(self, command: DeleteTransactionCommand) -> None:
        await self._delete_transaction(command)

    async def get_transaction(self, transaction_id: str, *, actor: Actor = MASTER) -> Transaction:
        return await self._get_transaction(transaction_id, actor=actor)

    async def list_transactions(self, query: ListTransactionsQuery) -> Page[Transaction]:
        return await self._list_transactions(query)

    async def transaction_history(
        self, request: TransactionHistoryRequest
    ) -> Page[TransactionChange]:
        return await self._transaction_history(request)

    async def list_events(self, query: ListEventsQuery) -> Page[Event]:
        return await self._list_events(query)

    async def expire_holds(self, limit: int = ACCOUNTS_PER_SWEEP) -> int:
        """Records the expiries that have come, on up to ``limit`` accounts (what the server's
        sweeper calls every so often); how many transactions expired. Reads show an expiry
        from its instant whether or not this has run."""
        return await self._expire_holds.sweep(limit)

    async def recalculate_balance(
        self,
        account_number: str,
        *,
        actor: Actor = MASTER,
        idempotency: IdempotencyClaim[Recalculation] | None = None,
    ) -> Recalculation:
        return await self._recalculate_balance(account_number, actor=actor, idempotency=idempotency)

    async def list_entries(self, query: ListEntriesQuery) -> Page[JournalEntry]:
        return await self._list_entries(query)

    async def balance_at(
        self, account_number: str, at: datetime | None = None, *, actor: Actor = MASTER
    ) -> BalanceAtTime:
        return await self._balance_at(account_number, at, actor=actor)

    async def statement(self, query: StatementQuery) -> Statement:
        return await self._make_statement(query)

    async def statement_entries(self, query: StatementQuery) -> AsyncIterator[JournalEntry]:
        """The statement's entries, read as they are consumed; the account and the span are
        checked when this is awaited, before the first entry."""
        return await self._statement_entries(query)

    async def verify_account(self, account_number: str, *, actor: Actor = MASTER) -> JournalCheck:
        return await self._verify_account(account_number, actor=actor)

    def verify_every_journal(self, *, actor: Actor = MASTER) -> AsyncIterator[JournalCheck]:
        return self._verify_every_journal(actor=actor)

    async def authenticate(self, secret: str) -> Actor | None:
        """The actor of an API key's secret; None for an unknown, revoked or expired key."""
        return await self._authenticate(secret)

    async def create_api_key(self, command: CreateApiKeyCommand) -> CreatedApiKey:
        return await self._create_api_key(command)

    async def list_api_keys(self, query: ListApiKeysQuery) -> Page[ApiKey]:
        return await self._list_api_keys(query)

    async def get_api_key(self, key_id: str, *, actor: Actor = MASTER) -> ApiKey:
        return await self._get_api_key(key_id, actor=actor)

    async def revoke_api_key(self, key_id: str, *, actor: Actor = MASTER) -> ApiKey:
        return await self._revoke_api_key(key_id, actor=actor)

    async def forget_expired_idempotency_keys(self, retention: timedelta) -> int:
        """Removes the answers kept for idempotency keys longer than ``retention`` (at least
        24 hours); returns how many."""
        return await self._forget_expired_idempotency_keys(retention)
