"""The bank ledger's domain: accounts, transactions, their rules, and the use cases.

Pure Python: no framework, no database. Stores plug in through ``bank_domain.ports``.
"""

from bank_domain.account import Account, AccountStatus, AccountType
from bank_domain.errors import (
    AccountFrozen,
    AccountNotEmpty,
    AccountNotFound,
    BalanceLimitExceeded,
    Conflict,
    DuplicateAccountNumber,
    DuplicateTransactionId,
    InsufficientFunds,
    InvalidStatusChange,
    InvalidValue,
    LedgerError,
    LedgerInconsistent,
    NotFound,
    StorageUnavailable,
    TransactionNotFound,
    VersionMismatch,
)
from bank_domain.identifiers import AccountNumber, TransactionId
from bank_domain.ledger import Ledger
from bank_domain.money import Money
from bank_domain.pagination import Page
from bank_domain.transaction import UNSET, Transaction, TransactionStatus, TransactionType
from bank_domain.use_cases.accounts import (
    CloseAccountCommand,
    ListAccountsQuery,
    OpenAccountCommand,
    UpdateAccountCommand,
)
from bank_domain.use_cases.balance import Recalculation
from bank_domain.use_cases.posting import PostedTransaction, PostTransactionCommand
from bank_domain.use_cases.transactions import (
    AmendTransactionCommand,
    DeleteTransactionCommand,
    ListTransactionsQuery,
)

__all__ = [
    "UNSET",
    "Account",
    "AccountFrozen",
    "AccountNotEmpty",
    "AccountNotFound",
    "AccountNumber",
    "AccountStatus",
    "AccountType",
    "AmendTransactionCommand",
    "BalanceLimitExceeded",
    "CloseAccountCommand",
    "Conflict",
    "DeleteTransactionCommand",
    "DuplicateAccountNumber",
    "DuplicateTransactionId",
    "InsufficientFunds",
    "InvalidStatusChange",
    "InvalidValue",
    "Ledger",
    "LedgerError",
    "LedgerInconsistent",
    "ListAccountsQuery",
    "ListTransactionsQuery",
    "Money",
    "NotFound",
    "OpenAccountCommand",
    "Page",
    "PostTransactionCommand",
    "PostedTransaction",
    "Recalculation",
    "StorageUnavailable",
    "Transaction",
    "TransactionId",
    "TransactionNotFound",
    "TransactionStatus",
    "TransactionType",
    "UpdateAccountCommand",
    "VersionMismatch",
]
