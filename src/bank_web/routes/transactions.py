"""/v1/transactions and an account's list of them: post, read, amend and delete."""

from datetime import datetime
from typing import Annotated

from fastapi import Body, Query, Request, Response

from bank_domain.ledger import Ledger
from bank_domain.pagination import MAX_PAGE_SIZE
from bank_domain.transaction import UNSET, TransactionStatus, TransactionType
from bank_domain.use_cases.posting import PostTransactionCommand
from bank_domain.use_cases.transactions import AmendTransactionCommand, ListTransactionsQuery
from bank_web.dependencies import LedgerDep
from bank_web.json_codec import ExactJSONResponse
from bank_web.routes._http import page_response, problems, router
from bank_web.schemas import (
    TransactionCreate,
    TransactionOut,
    TransactionPage,
    TransactionPatch,
    TransactionPut,
)

transactions = router(tags=["transactions"])


_POST_EXAMPLES = {
    "challenge": {
        "summary": "The challenge's deposit",
        "value": {
            "transaction_id": "abcdefghijk",
            "account_number": "1234567890",
            "amount": 500.00,
            "transaction_type": "deposit",
            "description": "Initial deposit",
            "status": "success",
        },
    },
    "withdrawal": {
        "summary": "A withdrawal, id generated",
        "value": {
            "account_number": "1234567890",
            "amount": 200.00,
            "transaction_type": "withdrawal",
            "description": "Rent",
        },
    },
}


@transactions.post(
    "/v1/transactions",
    status_code=201,
    response_model=TransactionOut,
    responses={
        200: {
            "model": TransactionOut,
            "description": "A safe retry: the stored "
            "transaction with this id and the same fields; no money moved.",
        },
        **problems(404, 409, 422, 503),
    },
)
async def post_transaction(
    request: Request,
    body: Annotated[TransactionCreate, Body(openapi_examples=_POST_EXAMPLES)],
    ledger: LedgerDep,
) -> Response:
    """Posts a deposit or a withdrawal. Unknown or closed account: 404 `account_not_found`;
    frozen: 409 `account_frozen`; a withdrawal that would overdraw: 409 `insufficient_funds`,
    and nothing is stored. The same `transaction_id` again with the same fields returns the
    stored transaction with 200; with other fields, 409 `duplicate_transaction_id`."""
    posting = await ledger.post_transaction(
        PostTransactionCommand(
            account_number=body.account_number,
            amount=body.amount,
            transaction_type=body.transaction_type,
            transaction_id=body.transaction_id,
            description=body.description,
            status=body.status,
        )
    )
    transaction = posting.transaction
    location = f"/v1/transactions/{transaction.transaction_id.value}"
    return ExactJSONResponse(
        TransactionOut.of(transaction),
        status_code=201 if posting.created else 200,
        headers={"Location": location},
    )


@transactions.get(
    "/v1/transactions/{transaction_id}", response_model=TransactionOut, responses=problems(404, 503)
)
async def get_transaction(transaction_id: str, ledger: LedgerDep) -> Response:
    """One transaction; also one of a closed account. A deleted transaction answers 404."""
    return ExactJSONResponse(TransactionOut.of(await ledger.get_transaction(transaction_id)))


@transactions.get(
    "/v1/accounts/{account_number}/transactions",
    response_model=TransactionPage,
    responses=problems(404, 422, 503),
)
async def list_transactions(
    account_number: str,
    ledger: LedgerDep,
    limit: Annotated[
        int | None,
        Query(
            description="1 to 500, default 50.",
            json_schema_extra={"minimum": 1, "maximum": MAX_PAGE_SIZE},
        ),
    ] = None,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page.")] = None,
    transaction_type: TransactionType | None = None,
    status: TransactionStatus | None = None,
    since: Annotated[datetime | None, Query(description="RFC 3339; inclusive.")] = None,
    until: Annotated[datetime | None, Query(description="RFC 3339; inclusive.")] = None,
) -> Response:
    """An open account's transactions, oldest first, a page at a time."""
    page = await ledger.list_transactions(
        ListTransactionsQuery(
            account_number=account_number,
            limit=limit,
            cursor=cursor,
            transaction_type=transaction_type,
            status=status,
            since=since,
            until=until,
        )
    )
    return page_response(page, TransactionOut.of)


async def _amend(ledger: Ledger, command: AmendTransactionCommand) -> Response:
    return ExactJSONResponse(TransactionOut.of(await ledger.amend_transaction(command)))


@transactions.patch(
    "/v1/transactions/{transaction_id}",
    response_model=TransactionOut,
    responses=problems(404, 409, 422, 503),
)
async def patch_transaction(
    transaction_id: str, body: TransactionPatch, ledger: LedgerDep
) -> Response:
    """Changes some of `amount`, `transaction_type`, `description`, `status`; the balance
    follows. `failed` and `cancelled` are final; a change that would overdraw is a 409."""
    return await _amend(
        ledger,
        AmendTransactionCommand(
            transaction_id=transaction_id,
            amount=body.amount,
            transaction_type=body.transaction_type,
            description=body.description if "description" in body.model_fields_set else UNSET,
            status=body.status,
        ),
    )


@transactions.put(
    "/v1/transactions/{transaction_id}",
    response_model=TransactionOut,
    responses=problems(404, 409, 422, 503),
)
async def put_transaction(transaction_id: str, body: TransactionPut, ledger: LedgerDep) -> Response:
    """Replaces `amount`, `transaction_type` and `description` (null when left out), and
    `status` when given."""
    return await _amend(
        ledger,
        AmendTransactionCommand(
            transaction_id=transaction_id,
            amount=body.amount,
            transaction_type=body.transaction_type,
            description=body.description,
            status=body.status,
        ),
    )


@transactions.delete(
    "/v1/transactions/{transaction_id}",
    status_code=204,
    response_class=Response,
    responses=problems(404, 409, 503),
)
async def delete_transaction(transaction_id: str, ledger: LedgerDep) -> Response:
    """Takes a `success` transaction's effect back (409 if that would overdraw) and keeps the
    record for audit; the id then answers 404 and is never used again."""
    await ledger.delete_transaction(transaction_id)
    return Response(status_code=204)
