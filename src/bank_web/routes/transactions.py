"""/v1/transactions and an account's list of them: post, read, amend and delete."""

import dataclasses

from fastapi import Response

from bank_domain.api_keys import Scope
from bank_domain.ledger import Ledger
from bank_domain.transaction import UNSET, TransactionStatus, TransactionType
from bank_domain.use_cases.transactions import (
    AmendTransactionCommand,
    DeleteTransactionCommand,
    ListTransactionsQuery,
)
from bank_web import presenters
from bank_web.authentication import requires
from bank_web.dependencies import ActorDep, LedgerDep
from bank_web.idempotency import IdempotencyDep
from bank_web.request_bodies import TransactionCreate, TransactionPatch, TransactionPut
from bank_web.response_models import TransactionOut, TransactionPage
from bank_web.responses import posting_response, transaction_response
from bank_web.routes._http import (
    IfMatch,
    Moment,
    PageCursor,
    PageLimit,
    cursor_given,
    page_response,
    precondition,
    problems,
    router,
)
from bank_web.transaction_posting_fast_path import POSTING_SCOPE

transactions = router(tags=["transactions"])


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
    openapi_extra=requires(POSTING_SCOPE),
)
async def post_transaction(
    body: TransactionCreate, ledger: LedgerDep, actor: ActorDep, idempotency: IdempotencyDep
) -> Response:
    """Posts a deposit or a withdrawal. Unknown or closed account: 404 `account_not_found`;
    frozen: 409 `account_frozen`; a withdrawal that would overdraw: 409 `insufficient_funds`,
    and nothing is stored. The same `transaction_id` again with the same fields returns the
    stored transaction with 200; with other fields, 409 `duplicate_transaction_id`.

    Served by bank_web.transaction_posting_fast_path, with the same reader and answers; this
    route is what OpenAPI describes (and what answers when the fast path is left out)."""
    command = body.command(actor, idempotency.claim(posting_response))
    return posting_response(await ledger.post_transaction(command))


@transactions.get(
    "/v1/transactions/{transaction_id}",
    response_model=TransactionOut,
    responses=problems(404, 503),
    openapi_extra=requires(Scope.TRANSACTIONS_READ),
)
async def get_transaction(transaction_id: str, ledger: LedgerDep, actor: ActorDep) -> Response:
    """One transaction; also one of a closed account. A deleted transaction answers 404."""
    return transaction_response(await ledger.get_transaction(transaction_id, actor=actor))


@transactions.get(
    "/v1/accounts/{account_number}/transactions",
    response_model=TransactionPage,
    responses=problems(404, 422, 503),
    openapi_extra=requires(Scope.TRANSACTIONS_READ),
)
async def list_transactions(
    account_number: str,
    ledger: LedgerDep,
    actor: ActorDep,
    limit: PageLimit = None,
    cursor: PageCursor = None,
    transaction_type: TransactionType | None = None,
    status: TransactionStatus | None = None,
    since: Moment = None,
    until: Moment = None,
) -> Response:
    """An open account's transactions, oldest first, a page at a time."""
    page = await ledger.list_transactions(
        ListTransactionsQuery(
            account_number=account_number,
            limit=limit,
            cursor=cursor_given(cursor),
            transaction_type=transaction_type,
            status=status,
            since=since,
            until=until,
            actor=actor,
        )
    )
    return page_response(page, presenters.transaction)


async def _amend(
    ledger: Ledger, command: AmendTransactionCommand, if_match: str | None
) -> Response:
    with precondition(if_match) as version:
        command = dataclasses.replace(command, expected_version=version)
        return transaction_response(await ledger.amend_transaction(command))


@transactions.patch(
    "/v1/transactions/{transaction_id}",
    response_model=TransactionOut,
    responses=problems(404, 409, 412, 422, 503),
    openapi_extra=requires(Scope.TRANSACTIONS_WRITE),
)
async def patch_transaction(
    transaction_id: str,
    body: TransactionPatch,
    ledger: LedgerDep,
    actor: ActorDep,
    if_match: IfMatch = None,
) -> Response:
    """Changes some of `amount`, `transaction_type`, `description`, `status`; the balance
    follows. `failed` and `cancelled` are final; a change that would overdraw is a 409. A
    stale `If-Match` is a 412 `version_mismatch`, and nothing changes."""
    return await _amend(
        ledger,
        AmendTransactionCommand(
            transaction_id=transaction_id,
            amount=body.amount,
            transaction_type=body.transaction_type,
            description=body.description if "description" in body.model_fields_set else UNSET,
            status=body.status,
            actor=actor,
        ),
        if_match,
    )


@transactions.put(
    "/v1/transactions/{transaction_id}",
    response_model=TransactionOut,
    responses=problems(404, 409, 412, 422, 503),
    openapi_extra=requires(Scope.TRANSACTIONS_WRITE),
)
async def put_transaction(
    transaction_id: str,
    body: TransactionPut,
    ledger: LedgerDep,
    actor: ActorDep,
    if_match: IfMatch = None,
) -> Response:
    """Replaces `amount`, `transaction_type` and `description` (null when left out), and
    `status` when given. A stale `If-Match` is a 412, and nothing changes."""
    return await _amend(
        ledger,
        AmendTransactionCommand(
            transaction_id=transaction_id,
            amount=body.amount,
            transaction_type=body.transaction_type,
            description=body.description,
            status=body.status,
            actor=actor,
        ),
        if_match,
    )


@transactions.delete(
    "/v1/transactions/{transaction_id}",
    status_code=204,
    response_class=Response,
    responses=problems(404, 409, 412, 503),
    openapi_extra=requires(Scope.TRANSACTIONS_WRITE),
)
async def delete_transaction(
    transaction_id: str,
    ledger: LedgerDep,
    actor: ActorDep,
    if_match: IfMatch = None,
) -> Response:
    """Takes a `success` transaction's effect back (409 if that would overdraw) and keeps the
    record for audit; the id then answers 404 and is never used again. A stale `If-Match` is
    a 412, and nothing changes."""
    with precondition(if_match) as version:
        command = DeleteTransactionCommand(transaction_id, expected_version=version, actor=actor)
        await ledger.delete_transaction(command)
    return Response(status_code=204)
