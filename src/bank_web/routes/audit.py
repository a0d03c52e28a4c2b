"""The audit trail: the feed of events, and a transaction's history."""

from typing import Annotated

from fastapi import Query, Response

from bank_domain.api_keys import Scope
from bank_domain.events import EventType
from bank_domain.identifiers import ACCOUNT_NUMBER_PATTERN
from bank_domain.use_cases.audit import ListEventsQuery, TransactionHistoryRequest
from bank_web import presenters
from bank_web.authentication import requires
from bank_web.dependencies import ActorDep, LedgerDep
from bank_web.response_models import EventPage, TransactionHistoryPage
from bank_web.routes._http import (
    PageCursor,
    PageLimit,
    cursor_given,
    page_response,
    problems,
    router,
)

audit = router(tags=["audit"])


@audit.get(
    "/v1/events",
    response_model=EventPage,
    responses=problems(404, 422, 503),
    openapi_extra=requires(Scope.AUDIT_READ),
)
async def list_events(
    ledger: LedgerDep,
    actor: ActorDep,
    limit: PageLimit = None,
    cursor: PageCursor = None,
    account_number: Annotated[
        str | None,
        # Published for clients; the domain reads the number (a malformed one is a 422).
        Query(
            description="Only this account's events; a closed account's too.",
            json_schema_extra={"pattern": ACCOUNT_NUMBER_PATTERN},
        ),
    ] = None,
    event_type: Annotated[
        EventType | None, Query(alias="type", description="Only events of this type.")
    ] = None,
) -> Response:
    """Every change, in the order it was committed, a page at a time. `next_cursor` is never
    null: at the end of the feed it returns the events committed later, so a reader that
    follows it sees every event once. `data` is the resource right after the change (an
    account as it was when closed; a key never with its secret). A key restricted to accounts
    sees only their events, no key's; filtering on another account is a 404
    `account_not_found`."""
    page = await ledger.list_events(
        ListEventsQuery(
            limit=limit,
            cursor=cursor_given(cursor),
            account_number=account_number,
            event_type=event_type,
            actor=actor,
        )
    )
    return page_response(page, presenters.event)


@audit.get(
    "/v1/transactions/{transaction_id}/history",
    response_model=TransactionHistoryPage,
    responses=problems(404, 422, 503),
    openapi_extra=requires(Scope.TRANSACTIONS_READ),
)
async def transaction_history(
    transaction_id: str,
    ledger: LedgerDep,
    actor: ActorDep,
    limit: PageLimit = None,
    cursor: PageCursor = None,
) -> Response:
    """Every version of a transaction, oldest first, a deleted one's included: each the whole
    transaction after one change, with who made it. Only an id never used (or of an account
    the key may not see) is a 404 `transaction_not_found`."""
    page = await ledger.transaction_history(
        TransactionHistoryRequest(
            transaction_id=transaction_id, limit=limit, cursor=cursor_given(cursor), actor=actor
        )
    )
    return page_response(page, presenters.transaction_version)
