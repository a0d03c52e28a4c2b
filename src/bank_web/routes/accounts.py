"""/v1/accounts: open, read, list, change and close accounts."""

from typing import Annotated

from fastapi import Query, Response, status

from bank_domain.account import Account, AccountStatus, AccountType
from bank_domain.actors import Actor
from bank_domain.api_keys import Scope
from bank_domain.ledger import Ledger
from bank_domain.use_cases.accounts import (
    CloseAccountCommand,
    ListAccountsQuery,
    OpenAccountCommand,
    UpdateAccountCommand,
)
from bank_domain.use_cases.balance import Recalculation
from bank_web import presenters
from bank_web.authentication import requires
from bank_web.dependencies import ActorDep, LedgerDep
from bank_web.idempotency import IdempotencyDep
from bank_web.json_codec import ExactJSONResponse
from bank_web.request_bodies import AccountCreate, AccountPatch, AccountPut
from bank_web.response_models import AccountOut, AccountPage, RecalculationOut
from bank_web.responses import account_response
from bank_web.routes._http import (
    IfMatch,
    PageCursor,
    PageLimit,
    cursor_given,
    page_response,
    precondition,
    problems,
    router,
)

accounts = router(prefix="/v1/accounts", tags=["accounts"])


@accounts.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=AccountOut,
    responses=problems(409, 422, 503),
    openapi_extra=requires(Scope.ACCOUNTS_WRITE),
)
async def open_account(
    body: AccountCreate, ledger: LedgerDep, actor: ActorDep, idempotency: IdempotencyDep
) -> Response:
    """Opens an account. A non-zero `initial_deposit` is posted as a real deposit transaction
    described "Initial deposit". `overdraft_limit` (default 0) is how far below zero the
    balance may go. A taken account number (closed accounts' included) is a 409."""
    account = await ledger.open_account(
        OpenAccountCommand(
            customer_name=body.customer_name,
            account_type=body.account_type,
            account_number=body.account_number,
            initial_deposit=body.initial_deposit,
            overdraft_limit=body.overdraft_limit,
            actor=actor,
            idempotency=idempotency.claim(_opened),
        )
    )
    return _opened(account)


def _opened(account: Account) -> Response:
    return account_response(account, status_code=201)


@accounts.get(
    "",
    response_model=AccountPage,
    responses=problems(422, 503),
    openapi_extra=requires(Scope.ACCOUNTS_READ),
)
async def list_accounts(
    ledger: LedgerDep,
    actor: ActorDep,
    limit: PageLimit = None,
    cursor: PageCursor = None,
    customer_name: Annotated[
        str | None,
        # A name with NUL is refused (422); any other name simply finds what is stored.
        Query(description="Exact name.", json_schema_extra={"pattern": r"^[^\x00]*$"}),
    ] = None,
    account_type: AccountType | None = None,
    status: AccountStatus | None = None,
) -> Response:
    """Open accounts in account-number order, a page at a time."""
    page = await ledger.list_accounts(
        ListAccountsQuery(
            limit=limit,
            cursor=cursor_given(cursor),
            customer_name=customer_name,
            account_type=account_type,
            status=status,
            actor=actor,
        )
    )
    return page_response(page, presenters.account)


@accounts.get(
    "/{account_number}",
    response_model=AccountOut,
    responses=problems(404, 503),
    openapi_extra=requires(Scope.ACCOUNTS_READ),
)
async def get_account(account_number: str, ledger: LedgerDep, actor: ActorDep) -> Response:
    """One open account. A closed account answers 404."""
    return account_response(await ledger.get_account(account_number, actor=actor))


async def _update(
    ledger: Ledger,
    actor: Actor,
    account_number: str,
    body: AccountPatch | AccountPut,
    if_match: str | None,
) -> Response:
    """PATCH and PUT differ only in which fields their bodies require; the domain decides."""
    with precondition(if_match) as version:
        command = UpdateAccountCommand(
            account_number=account_number,
            customer_name=body.customer_name,
            account_type=body.account_type,
            status=body.status,
            overdraft_limit=body.overdraft_limit,
            expected_version=version,
            actor=actor,
        )
        return account_response(await ledger.update_account(command))


@accounts.patch(
    "/{account_number}",
    response_model=AccountOut,
    responses=problems(404, 409, 412, 422, 503),
    openapi_extra=requires(Scope.ACCOUNTS_WRITE),
)
async def patch_account(
    account_number: str,
    body: AccountPatch,
    ledger: LedgerDep,
    actor: ActorDep,
    if_match: IfMatch = None,
) -> Response:
    """Changes some of `customer_name`, `account_type`, `status` (`frozen` stops new
    transactions), `overdraft_limit` (lowering it below what the account uses, `balance -
    held < -limit`, is a 409 `overdraft_limit_in_use`). `balance`, `available_balance`,
    `account_number` and the timestamps are read-only (422)."""
    return await _update(ledger, actor, account_number, body, if_match)


@accounts.put(
    "/{account_number}",
    response_model=AccountOut,
    responses=problems(404, 409, 412, 422, 503),
    openapi_extra=requires(Scope.ACCOUNTS_WRITE),
)
async def put_account(
    account_number: str,
    body: AccountPut,
    ledger: LedgerDep,
    actor: ActorDep,
    if_match: IfMatch = None,
) -> Response:
    """Replaces `customer_name` and `account_type` (and `status` and `overdraft_limit`, when
    given: 409 `overdraft_limit_in_use` as for PATCH)."""
    return await _update(ledger, actor, account_number, body, if_match)


@accounts.delete(
    "/{account_number}",
    status_code=204,
    response_class=Response,
    responses=problems(404, 409, 412, 503),
    openapi_extra=requires(Scope.ACCOUNTS_WRITE),
)
async def close_account(
    account_number: str,
    ledger: LedgerDep,
    actor: ActorDep,
    if_match: IfMatch = None,
) -> Response:
    """Closes an account whose balance is 0 and that has no `pending` transaction (409
    `account_not_empty` otherwise). It then answers 404 everywhere, its number is never handed
    out again, and its transactions stay readable."""
    with precondition(if_match) as version:
        await ledger.close_account(
            CloseAccountCommand(account_number, expected_version=version, actor=actor)
        )
    return Response(status_code=204)


@accounts.post(
    "/{account_number}/balance/recalculate",
    response_model=RecalculationOut,
    # 409 ledger_inconsistent: the stored transactions add up to a balance no account may hold.
    responses=problems(404, 409, 503),
    openapi_extra=requires(Scope.ACCOUNTS_WRITE),
)
async def recalculate_balance(
    account_number: str, ledger: LedgerDep, actor: ActorDep, idempotency: IdempotencyDep
) -> Response:
    """Recomputes the balance from the account's `success` transactions under the account's
    lock, and repairs any drift."""
    result = await ledger.recalculate_balance(
        account_number, actor=actor, idempotency=idempotency.claim(_recalculated)
    )
    return _recalculated(result)


def _recalculated(result: Recalculation) -> Response:
    return ExactJSONResponse(presenters.recalculation(result))
