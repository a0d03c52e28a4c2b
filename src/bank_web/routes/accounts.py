"""/v1/accounts: open, read, list, change and close accounts."""

from typing import Annotated

from fastapi import Body, Header, Query, Request, Response, status

from bank_domain.account import AccountStatus, AccountType
from bank_domain.ledger import Ledger
from bank_domain.pagination import MAX_PAGE_SIZE
from bank_domain.use_cases.accounts import (
    CloseAccountCommand,
    ListAccountsQuery,
    OpenAccountCommand,
    UpdateAccountCommand,
)
from bank_web.dependencies import LedgerDep
from bank_web.json_codec import ExactJSONResponse
from bank_web.routes._http import entity_tag, expected_version, page_response, problems, router
from bank_web.schemas import (
    AccountCreate,
    AccountOut,
    AccountPage,
    AccountPatch,
    AccountPut,
    RecalculationOut,
)

accounts = router(prefix="/v1/accounts", tags=["accounts"])

IfMatch = Annotated[
    str | None,
    Header(description='The ETag ("<version>") last seen; a stale one is refused with 412.'),
]

_OPEN_EXAMPLES = {
    "challenge": {
        "summary": "The challenge's account",
        "value": {
            "account_number": "1234567890",
            "customer_name": "Ada Lovelace",
            "account_type": "checking",
            "initial_deposit": 0,
        },
    },
    "generated": {
        "summary": "Number generated, with an initial deposit",
        "value": {
            "customer_name": "Grace Hopper",
            "account_type": "savings",
            "initial_deposit": 250.0,
        },
    },
}


def _account_response(
    account_out: dict[str, object],
    version: int,
    status_code: int = 200,
    location: str | None = None,
) -> ExactJSONResponse:
    headers = {"ETag": entity_tag(version)}
    if location is not None:
        headers["Location"] = location
    return ExactJSONResponse(account_out, status_code=status_code, headers=headers)


@accounts.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=AccountOut,
    responses=problems(409, 422, 503),
)
async def open_account(
    request: Request,
    body: Annotated[AccountCreate, Body(openapi_examples=_OPEN_EXAMPLES)],
    ledger: LedgerDep,
) -> Response:
    """Opens an account. A non-zero `initial_deposit` is posted as a real deposit transaction
    described "Initial deposit". A taken account number (closed accounts' included) is a 409."""
    account = await ledger.open_account(
        OpenAccountCommand(
            customer_name=body.customer_name,
            account_type=body.account_type,
            account_number=body.account_number,
            initial_deposit=body.initial_deposit,
        )
    )
    location = f"/v1/accounts/{account.number.value}"
    return _account_response(AccountOut.of(account), account.version, 201, location)


@accounts.get("", response_model=AccountPage, responses=problems(422, 503))
async def list_accounts(
    ledger: LedgerDep,
    limit: Annotated[
        int | None,
        Query(
            description="1 to 500, default 50.",
            json_schema_extra={"minimum": 1, "maximum": MAX_PAGE_SIZE},
        ),
    ] = None,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page.")] = None,
    customer_name: Annotated[str | None, Query(description="Exact name.")] = None,
    account_type: AccountType | None = None,
    status: AccountStatus | None = None,
) -> Response:
    """Open accounts in account-number order, a page at a time."""
    page = await ledger.list_accounts(
        ListAccountsQuery(
            limit=limit,
            cursor=cursor,
            customer_name=customer_name,
            account_type=account_type,
            status=status,
        )
    )
    return page_response(page, AccountOut.of)


@accounts.get("/{account_number}", response_model=AccountOut, responses=problems(404, 503))
async def get_account(account_number: str, ledger: LedgerDep) -> Response:
    """One open account. A closed account answers 404."""
    account = await ledger.get_account(account_number)
    return _account_response(AccountOut.of(account), account.version)


async def _update(
    ledger: Ledger, account_number: str, body: AccountPatch | AccountPut, if_match: str | None
) -> Response:
    """PATCH and PUT differ only in which fields their bodies require; the domain decides."""
    command = UpdateAccountCommand(
        account_number=account_number,
        customer_name=body.customer_name,
        account_type=body.account_type,
        status=body.status,
        expected_version=expected_version(if_match),
    )
    account = await ledger.update_account(command)
    return _account_response(AccountOut.of(account), account.version)


@accounts.patch(
    "/{account_number}", response_model=AccountOut, responses=problems(404, 412, 422, 503)
)
async def patch_account(
    account_number: str, body: AccountPatch, ledger: LedgerDep, if_match: IfMatch = None
) -> Response:
    """Changes some of `customer_name`, `account_type`, `status` (`frozen` stops new
    transactions). `balance`, `account_number` and the timestamps are read-only (422)."""
    return await _update(ledger, account_number, body, if_match)


@accounts.put(
    "/{account_number}", response_model=AccountOut, responses=problems(404, 412, 422, 503)
)
async def put_account(
    account_number: str, body: AccountPut, ledger: LedgerDep, if_match: IfMatch = None
) -> Response:
    """Replaces `customer_name` and `account_type` (and `status`, when given)."""
    return await _update(ledger, account_number, body, if_match)


@accounts.delete(
    "/{account_number}",
    status_code=204,
    response_class=Response,
    responses=problems(404, 409, 412, 503),
)
async def close_account(
    account_number: str, ledger: LedgerDep, if_match: IfMatch = None
) -> Response:
    """Closes an account whose balance is 0 (409 `account_not_empty` otherwise). It then answers
    404 everywhere, its number is never handed out again, and its transactions stay readable."""
    await ledger.close_account(
        CloseAccountCommand(account_number, expected_version=expected_version(if_match))
    )
    return Response(status_code=204)


@accounts.post(
    "/{account_number}/balance/recalculate",
    response_model=RecalculationOut,
    responses=problems(404, 503),
)
async def recalculate_balance(account_number: str, ledger: LedgerDep) -> Response:
    """Recomputes the balance from the account's `success` transactions under the account's
    lock, and repairs any drift."""
    result = await ledger.recalculate_balance(account_number)
    return ExactJSONResponse(RecalculationOut.of(result))
