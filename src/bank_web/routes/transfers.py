"""/v1/transfers: move money between two accounts, read a transfer, reverse one."""

from fastapi import Response

from bank_domain.api_keys import Scope
from bank_web.authentication import requires
from bank_web.dependencies import ActorDep, LedgerDep
from bank_web.idempotency import IdempotencyDep
from bank_web.request_bodies import TransferCreate
from bank_web.response_models import TransferOut
from bank_web.responses import made_transfer_response, transfer_response
from bank_web.routes._http import created_or_repeated, problems, router

transfers = router(tags=["transfers"])


@transfers.post(
    "/v1/transfers",
    status_code=201,
    response_model=TransferOut,
    responses=created_or_repeated(
        TransferOut,
        "A safe retry: the stored transfer with this id and the same fields; no money moved.",
        404,
        409,
        422,
        503,
    ),
    openapi_extra=requires(Scope.TRANSACTIONS_WRITE),
)
async def make_transfer(
    body: TransferCreate, ledger: LedgerDep, actor: ActorDep, idempotency: IdempotencyDep
) -> Response:
    """Moves `amount` from `from_account` to `to_account`: a `success` withdrawal on the one and
    a `success` deposit on the other (the legs, `debit_transaction_id` and
    `credit_transaction_id`, each carrying `transfer_id`), both or neither. The same account
    twice: 422; an unknown or closed one: 404 `account_not_found`; a frozen one: 409
    `account_frozen`; not enough on `from_account`: 409 `insufficient_funds`. The same
    `transfer_id` again with the same fields returns the stored transfer with 200; with other
    fields, 409 `duplicate_transfer_id`. A key restricted to accounts must see both."""
    command = body.command(actor, idempotency.claim(made_transfer_response))
    return made_transfer_response(await ledger.make_transfer(command))


@transfers.get(
    "/v1/transfers/{transfer_id}",
    response_model=TransferOut,
    responses=problems(404, 503),
    openapi_extra=requires(Scope.TRANSACTIONS_READ),
)
async def get_transfer(transfer_id: str, ledger: LedgerDep, actor: ActorDep) -> Response:
    """One transfer: 404 `transfer_not_found` for an unknown one, and for a key restricted to
    accounts that does not see both of its accounts."""
    return transfer_response(await ledger.get_transfer(transfer_id, actor=actor))


@transfers.post(
    "/v1/transfers/{transfer_id}/reversal",
    response_model=TransferOut,
    responses=problems(404, 409, 503),
    openapi_extra=requires(Scope.TRANSACTIONS_WRITE),
)
async def reverse_transfer(
    transfer_id: str, ledger: LedgerDep, actor: ActorDep, idempotency: IdempotencyDep
) -> Response:
    """Gives the money back: both legs become `cancelled` (their history says `reversed`),
    in one unit of work; the transfer is then `reversed`. 409 `insufficient_funds` when
    `to_account` can no longer give the amount back (409 `account_frozen` when either account
    is frozen). Reversing a reversed transfer answers 200 and changes nothing."""
    claim = idempotency.claim(transfer_response)
    return transfer_response(
        await ledger.reverse_transfer(transfer_id, actor=actor, idempotency=claim)
    )
