"""The answers that carry more than a document (a status of their own, Location, ETag), built in
one place for every route that gives them, the posting fast path included."""

from __future__ import annotations

from bank_domain import Account, MadeTransfer, PostedBatch, PostedTransaction, Transaction, Transfer
from bank_web import presenters
from bank_web.json_codec import ExactJSONResponse


def entity_tag(version: int) -> str:
    return f'"{version}"'


def posting_response(posting: PostedTransaction) -> ExactJSONResponse:
    """A new transaction is a 201; a safe retry of a stored one a 200."""
    return transaction_response(
        posting.transaction, status_code=201 if posting.created else 200, location=True
    )


def transaction_response(
    transaction: Transaction, status_code: int = 200, *, location: bool = False
) -> ExactJSONResponse:
    headers = {"ETag": entity_tag(transaction.version)}
    if location:
        headers["Location"] = f"/v1/transactions/{transaction.transaction_id.value}"
    return ExactJSONResponse(
        presenters.transaction(transaction), status_code=status_code, headers=headers
    )


def account_response(account: Account, status_code: int = 200) -> ExactJSONResponse:
    headers = {"ETag": entity_tag(account.version)}
    if status_code == 201:
        headers["Location"] = f"/v1/accounts/{account.number.value}"
    return ExactJSONResponse(presenters.account(account), status_code=status_code, headers=headers)


def batch_response(batch: PostedBatch) -> ExactJSONResponse:
    """201 when the batch stored anything; 200 when every item repeated a stored one."""
    return ExactJSONResponse(
        {"items": [presenters.transaction(item.transaction) for item in batch.items]},
        status_code=201 if batch.created else 200,
    )


def transfer_response(transfer: Transfer, status_code: int = 200) -> ExactJSONResponse:
    headers = {"Location": f"/v1/transfers/{transfer.transfer_id.value}"}
    return ExactJSONResponse(
        presenters.transfer(transfer), status_code=status_code, headers=headers
    )


def made_transfer_response(made: MadeTransfer) -> ExactJSONResponse:
    """A new transfer is a 201; a safe retry of a stored one a 200."""
    return transfer_response(made.transfer, 201 if made.created else 200)
