"""The bank ledger's domain: accounts, transactions, their rules, and the use cases.

Pure Python: no framework, no database. Stores plug in through ``bank_domain.ports``.
"""

from bank_domain.account import Account, AccountStatus, AccountType
from bank_domain.actors import MASTER, SYSTEM, Actor
from bank_domain.api_keys import ApiKey, Scope
from bank_domain.errors import (
    AccountFrozen,
    AccountNotEmpty,
    AccountNotFound,
    ApiKeyNotFound,
    BalanceLimitExceeded,
    Conflict,
    DuplicateAccountNumber,
    DuplicateTransactionId,
    DuplicateTransferId,
    Forbidden,
    InsufficientFunds,
    InvalidStatusChange,
    InvalidValue,
    ItemRefused,
    LedgerError,
    LedgerInconsistent,
    NotFound,
    OverdraftLimitInUse,
    StorageUnavailable,
    TransactionNotFound,
    TransferLeg,
    TransferNotFound,
    VersionMismatch,
)
from bank_domain.events import Change, Event, EventType, TransactionChange
from bank_domain.identifiers import AccountNumber, TransactionId, TransferId
from bank_domain.journal import BadEntry, ChainBreak, JournalCheck, JournalEntry
from bank_domain.ledger import Ledger
from bank_domain.money import Money
from bank_domain.pagination import Page
from bank_domain.transaction import UNSET, Transaction, TransactionStatus, TransactionType
from bank_domain.transfer import Transfer, TransferStatus
from bank_domain.use_cases.accounts import (
    CloseAccountCommand,
    ListAccountsQuery,
    OpenAccountCommand,
    UpdateAccountCommand,
)
from bank_domain.use_cases.api_keys import CreateApiKeyCommand, CreatedApiKey, ListApiKeysQuery
from bank_domain.use_cases.audit import ListEventsQuery, TransactionHistoryRequest
from bank_domain.use_cases.balance import Recalculation
from bank_domain.use_cases.batches import PostBatchCommand, PostedBatch
from bank_domain.use_cases.journal import (
    BalanceAtTime,
    ListEntriesQuery,
    Statement,
    StatementQuery,
)
from bank_domain.use_cases.posting import PostedTransaction, PostTransactionCommand
from bank_domain.use_cases.transactions import (
    AmendTransactionCommand,
    DeleteTransactionCommand,
    ListTransactionsQuery,
)
from bank_domain.use_cases.transfers import MadeTransfer, MakeTransferCommand

__all__ = [
    "MASTER",
    "SYSTEM",
    "UNSET",
    "Account",
    "AccountFrozen",
    "AccountNotEmpty",
    "AccountNotFound",
    "AccountNumber",
    "AccountStatus",
    "AccountType",
    "Actor",
    "AmendTransactionCommand",
    "ApiKey",
    "ApiKeyNotFound",
    "BadEntry",
    "BalanceAtTime",
    "BalanceLimitExceeded",
    "ChainBreak",
    "Change",
    "CloseAccountCommand",
    "Conflict",
    "CreateApiKeyCommand",
    "CreatedApiKey",
    "DeleteTransactionCommand",
    "DuplicateAccountNumber",
    "DuplicateTransactionId",
    "DuplicateTransferId",
    "Event",
    "EventType",
    "Forbidden",
    "InsufficientFunds",
    "InvalidStatusChange",
    "InvalidValue",
    "ItemRefused",
    "JournalCheck",
    "JournalEntry",
    "Ledger",
    "LedgerError",
    "LedgerInconsistent",
    "ListAccountsQuery",
    "ListApiKeysQuery",
    "ListEntriesQuery",
    "ListEventsQuery",
    "ListTransactionsQuery",
    "MadeTransfer",
    "MakeTransferCommand",
    "Money",
    "NotFound",
    "OpenAccountCommand",
    "OverdraftLimitInUse",
    "Page",
    "PostBatchCommand",
    "PostTransactionCommand",
    "PostedBatch",
    "PostedTransaction",
    "Recalculation",
    "Scope",
    "Statement",
    "StatementQuery",
    "StorageUnavailable",
    "Transaction",
    "TransactionChange",
    "TransactionHistoryRequest",
    "TransactionId",
    "TransactionNotFound",
    "TransactionStatus",
    "TransactionType",
    "Transfer",
    "TransferId",
    "TransferLeg",
    "TransferNotFound",
    "TransferStatus",
    "UpdateAccountCommand",
    "VersionMismatch",
]
