"""Every error carries the contract's stable code; its base class tells an adapter its kind."""

from __future__ import annotations

import pytest

from bank_domain import (
    AccountFrozen,
    AccountNotEmpty,
    AccountNotFound,
    ApiKeyNotFound,
    Conflict,
    DuplicateAccountNumber,
    DuplicateTransactionId,
    Forbidden,
    InsufficientFunds,
    InvalidStatusChange,
    InvalidValue,
    LedgerError,
    NotFound,
    StorageUnavailable,
    TransactionNotFound,
    VersionMismatch,
)
from bank_web.problems import status_of

CONTRACT_CODES = [
    (AccountNotFound("0123456789"), "account_not_found", NotFound),
    (TransactionNotFound("abcdefgh"), "transaction_not_found", NotFound),
    (InsufficientFunds("no"), "insufficient_funds", Conflict),
    (AccountNotEmpty("no"), "account_not_empty", Conflict),
    (AccountFrozen("0123456789"), "account_frozen", Conflict),
    (DuplicateAccountNumber("0123456789"), "duplicate_account_number", Conflict),
    (DuplicateTransactionId("abcdefgh"), "duplicate_transaction_id", Conflict),
    (InvalidStatusChange("no"), "invalid_status_change", Conflict),
    (VersionMismatch("no"), "version_mismatch", LedgerError),
    (InvalidValue("amount", "no"), "validation_error", ValueError),
    (StorageUnavailable("down"), "service_unavailable", LedgerError),
    (ApiKeyNotFound("key_0"), "api_key_not_found", NotFound),
    (Forbidden("no"), "forbidden", LedgerError),
]


@pytest.mark.parametrize(("error", "code", "kind"), CONTRACT_CODES)
def test_each_error_carries_its_contract_code(
    error: LedgerError, code: str, kind: type[Exception]
) -> None:
    assert error.code == code
    assert type(error).code == code
    assert isinstance(error, LedgerError)
    assert isinstance(error, kind)
    assert error.detail
    assert str(error) == error.detail


def test_codes_are_distinct() -> None:
    codes = [code for _, code, _ in CONTRACT_CODES]
    assert len(set(codes)) == len(codes)


def test_version_mismatch_is_not_a_conflict() -> None:
    # 412 Precondition Failed, not 409: an adapter must be able to tell the two apart.
    assert not isinstance(VersionMismatch("x"), Conflict)


def test_not_found_errors_name_what_was_missing() -> None:
    assert "0123456789" in AccountNotFound("0123456789").detail
    assert "abcdefgh" in TransactionNotFound("abcdefgh").detail


def test_duplicate_errors_keep_the_identifier() -> None:
    assert DuplicateAccountNumber("0123456789").account_number == "0123456789"
    assert DuplicateTransactionId("abcdefgh").transaction_id == "abcdefgh"
    assert DuplicateTransactionId("abcdefgh", "custom").detail == "custom"


def test_forbidden_is_neither_not_found_nor_a_conflict() -> None:
    assert not isinstance(Forbidden("x"), NotFound | Conflict | InvalidValue)


@pytest.mark.parametrize(
    ("error", "status"),
    [(Forbidden("no"), 403), (ApiKeyNotFound("key_0"), 404), (ApiKeyNotFound(), 404)],
)
def test_the_web_layer_answers_the_new_kinds_with_their_statuses(
    error: LedgerError, status: int
) -> None:
    assert status_of(error) == status
