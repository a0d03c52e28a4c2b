"""The one hierarchy of ledger errors.

Every error carries the contract's stable ``code``. The kind of error (the base class) is what an
adapter translates, e.g. to an HTTP status; the domain itself knows nothing of HTTP.
"""

from __future__ import annotations

from typing import ClassVar


class LedgerError(Exception):
    """Base of every error the ledger raises on purpose."""

    code: ClassVar[str] = "ledger_error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidValue(LedgerError, ValueError):
    """A value breaks a rule of the ledger; ``field`` names the input that carried it."""

    code = "validation_error"

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail)
        self.field = field


class NotFound(LedgerError):
    """The thing asked for does not exist (or no longer does)."""


class AccountNotFound(NotFound):
    code = "account_not_found"

    def __init__(self, account_number: str) -> None:
        super().__init__(f"No open account has the number {account_number}.")


class TransactionNotFound(NotFound):
    code = "transaction_not_found"

    def __init__(self, transaction_id: str) -> None:
        super().__init__(f"No transaction has the id {transaction_id}.")


class ApiKeyNotFound(NotFound):
    code = "api_key_not_found"

    def __init__(self, key_id: str | None = None) -> None:
        super().__init__(
            "No API key has the id given." if key_id is None else f"No API key has the id {key_id}."
        )


class Forbidden(LedgerError):
    """The actor may not do this at all (e.g. a key restricted to accounts opening one)."""

    code = "forbidden"


class Conflict(LedgerError):
    """The request is well formed but the ledger's current state refuses it."""


class InsufficientFunds(Conflict):
    code = "insufficient_funds"


class AccountFrozen(Conflict):
    code = "account_frozen"

    def __init__(self, account_number: str) -> None:
        super().__init__(f"Account {account_number} is frozen and takes no balance changes.")


class AccountNotEmpty(Conflict):
    code = "account_not_empty"


class BalanceLimitExceeded(Conflict):
    code = "balance_limit_exceeded"


class LedgerInconsistent(Conflict):
    """The stored transactions add up to a balance no account may hold: a repair needs a person."""

    code = "ledger_inconsistent"


class DuplicateAccountNumber(Conflict):
    code = "duplicate_account_number"

    def __init__(self, account_number: str) -> None:
        super().__init__(f"The account number {account_number} is taken.")
        self.account_number = account_number


class DuplicateTransactionId(Conflict):
    code = "duplicate_transaction_id"

    def __init__(self, transaction_id: str, detail: str | None = None) -> None:
        super().__init__(detail or f"The transaction id {transaction_id} is taken.")
        self.transaction_id = transaction_id


class InvalidStatusChange(Conflict):
    code = "invalid_status_change"


class VersionMismatch(LedgerError):
    """An optimistic-concurrency precondition (the version a client last saw) no longer holds."""

    code = "version_mismatch"


class StorageUnavailable(LedgerError):
    """The store does not answer; nothing was changed."""

    code = "service_unavailable"


class StorageNotAnswering(StorageUnavailable):
    """The store could not be reached at all (refused, timed out, still starting): unlike a
    refusal (no such database, a wrong password), waiting may help."""


IDEMPOTENCY_KEY_FIELD = "Idempotency-Key"
"""What an idempotency key's refusals name as their field (a request header, over HTTP)."""


class IdempotencyKeyReused(InvalidValue):
    """The key was used before for another request (another body, path or method)."""

    code = "idempotency_key_reused"

    def __init__(self) -> None:
        super().__init__(
            IDEMPOTENCY_KEY_FIELD,
            "This Idempotency-Key was used before for another request; use a new key.",
        )


class IdempotencyKeyInUse(Conflict):
    """A request with the same key is still running; its answer will be kept."""

    code = "idempotency_key_in_use"

    def __init__(self) -> None:
        super().__init__(
            "A request with this Idempotency-Key is still running; retry once it has answered."
        )
