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
from bank_web.problems import item_refusal_problem
from bank_web.request_bodies import (
    BatchCreate,
    TransactionCreate,
    TransactionPatch,
    TransactionPut,
)
from bank_web.response_models import BatchOut, TransactionOut, TransactionPage
from bank_web.responses import batch_response, posting_response, transaction_response
from bank_web.routes._http import (
    IfMatch,
    Moment,
    PageCursor,
    PageLimit,
    created_or_repeated,
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
    responses=created_or_repeated(
        TransactionOut,
        "A safe retry: the stored transaction with this id and the same fields; no money moved.",
        404,
        409,
        422,
        503,
    ),
    openapi_extra=requires(POSTING_SCOPE),
)
async def post_transaction(
    body: TransactionCreate, ledger: LedgerDep, actor: ActorDep, idempotency: IdempotencyDep
) -> Response:
    """Posts a deposit or a withdrawal. Unknown or closed account: 404 `account_not_found`;
    frozen: 409 `account_frozen`; a withdrawal (or a `pending` one, a hold) that would take
    `available_balance` below 0: 409 `insufficient_funds`, and nothing is stored. A `pending`
    transaction may carry `expires_at` (at most 30 days ahead): it is `cancelled` from then
    on. The same `transaction_id` again with the same fields returns the stored transaction
    with 200; with other fields, 409 `duplicate_transaction_id`.

    Served by bank_web.transaction_posting_fast_path, with the same reader and answers; this
    route is what OpenAPI describes (and what answers when the fast path is left out)."""
    command = body.command(actor, idempotency.claim(posting_response))
    return posting_response(await ledger.post_transaction(command))


@transactions.post(
    "/v1/transactions/batch",
    status_code=201,
    response_model=BatchOut,
    responses=created_or_repeated(
        BatchOut,
        "Every item repeated a stored transaction (same id, same fields): they are answered "
        "as stored, and no money moved.",
        404,
        409,
        422,
        503,
    ),
    openapi_extra=requires(POSTING_SCOPE),
)
async def post_batch(
    body: BatchCreate, ledger: LedgerDep, actor: ActorDep, idempotency: IdempotencyDep
) -> Response:
    """Posts 1 to 1,000 transactions, each shaped like the body of `POST /v1/transactions`,
    all or nothing, in the order given: each item sees what the earlier ones did. When any
    item is refused, nothing is stored and the answer is that item's problem (its status and
    code) with `index`, its 0-based place; a 422 on an item points at it (`loc` starts with
    `["body", "transactions", index]`). Two items with one `transaction_id`: 422. Every
    account of the batch is locked once, in account-number order."""
    claim = idempotency.claim(batch_response, problem=item_refusal_problem)
    return batch_response(await ledger.post_batch(body.command(actor, claim)))


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
    """Changes some of `amount`, `transaction_type`, `description`, `status`, `expires_at`
    (only while `pending`); the balance and the available balance follow: `pending` ->
    `success` captures a hold (with a smaller `amount`, part of it), -> `failed`/`cancelled`
    releases it. `failed` and `cancelled` (an expired transaction included) are final: 409
    `invalid_status_change`; a change that would take `available_balance` below 0 is a 409
    `insufficient_funds`; one that moves a frozen account's balance, 409 `account_frozen`. A
    stale `If-Match` is a 412 `version_mismatch`, and nothing changes. A leg of a transfer is
    not changed on its own: 409 `transfer_leg`."""
    return await _amend(
        ledger,
        AmendTransactionCommand(
            transaction_id=transaction_id,
            amount=body.amount,
            transaction_type=body.transaction_type,
            description=body.description if "description" in body.model_fields_set else UNSET,
            status=body.status,
            expires_at=body.expires_at if "expires_at" in body.model_fields_set else UNSET,
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
    """Replaces `amount`, `transaction_type`, `description` and `expires_at` (null when left
    out), and `status` when given; the rules of PATCH. A stale `If-Match` is a 412, and
    nothing changes. A leg of a transfer: 409 `transfer_leg`."""
    return await _amend(
        ledger,
        AmendTransactionCommand(
            transaction_id=transaction_id,
            amount=body.amount,
            transaction_type=body.transaction_type,
            description=body.description,
            status=body.status,
            expires_at=body.expires_at,
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
    """Takes a `success` transaction's effect back (409 if that would overdraw), or releases a
    `pending` withdrawal's hold, and keeps the record for audit; the id then answers 404 and
    is never used again. A stale `If-Match` is a 412, and nothing changes. A leg of a
    transfer: 409 `transfer_leg`."""
    with precondition(if_match) as version:
        command = DeleteTransactionCommand(transaction_id, expected_version=version, actor=actor)
        await ledger.delete_transaction(command)
    return Response(status_code=204)
