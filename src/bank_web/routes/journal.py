"""An account's journal (contract section 11): its entries, its balance at a time, statements
(as JSON, or streamed as CSV), and the recomputation of its hash chain."""

from datetime import datetime
from typing import Annotated, Final

from fastapi import Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic.json_schema import SkipJsonSchema

from bank_domain.api_keys import Scope
from bank_domain.use_cases.journal import ListEntriesQuery, StatementQuery
from bank_web import presenters
from bank_web.authentication import requires
from bank_web.content_negotiation import prefers
from bank_web.dependencies import ActorDep, LedgerDep
from bank_web.json_codec import ExactJSONResponse
from bank_web.openapi_examples import STATEMENT_CSV_EXAMPLE
from bank_web.response_models import BalanceAtOut, EntryPage, StatementOut, VerificationOut
from bank_web.routes._http import (
    ONLY_RFC_3339,
    REQUIRED_PARAMETER_MARK,
    Moment,
    PageCursor,
    PageLimit,
    cursor_given,
    page_response,
    problems,
    router,
)
from bank_web.statement_csv import MEDIA_TYPE as CSV_MEDIA_TYPE
from bank_web.statement_csv import csv_chunks

journal = router(prefix="/v1/accounts/{account_number}", tags=["journal"])

JSON_MEDIA_TYPE: Final = "application/json"
_VARIES_BY_ACCEPT: Final = {"Vary": "Accept"}

StatementFrom = Annotated[
    datetime | SkipJsonSchema[None],
    ONLY_RFC_3339,
    Query(
        alias="from",
        description="RFC 3339 with a UTC offset: the statement's first moment, included.",
        json_schema_extra={REQUIRED_PARAMETER_MARK: True},
    ),
]
StatementTo = Annotated[
    datetime | SkipJsonSchema[None],
    ONLY_RFC_3339,
    Query(
        description="RFC 3339 with a UTC offset, at or after `from`: the statement's last "
        "moment, included.",
        json_schema_extra={REQUIRED_PARAMETER_MARK: True},
    ),
]


@journal.get(
    "/entries",
    response_model=EntryPage,
    responses=problems(404, 422, 503),
    openapi_extra=requires(Scope.ACCOUNTS_READ),
)
async def list_entries(
    account_number: str,
    ledger: LedgerDep,
    actor: ActorDep,
    limit: PageLimit = None,
    cursor: PageCursor = None,
    since: Moment = None,
    until: Moment = None,
) -> Response:
    """An open account's journal, oldest first, a page at a time: one entry per movement of
    its balance, never changed or removed. `since` and `until` bound `posted_at`, both
    included. `amount` is signed; `balance_after` is the running sum, and the last entry's is
    the balance. Each entry's `hash` chains it to the one before: recompute it from these
    answers alone, with `amount`, `balance_after` and `posted_at` written as they are here."""
    page = await ledger.list_entries(
        ListEntriesQuery(
            account_number=account_number,
            limit=limit,
            cursor=cursor_given(cursor),
            since=since,
            until=until,
            actor=actor,
        )
    )
    return page_response(page, presenters.journal_entry)


@journal.get(
    "/balance",
    response_model=BalanceAtOut,
    responses=problems(404, 422, 503),
    openapi_extra=requires(Scope.ACCOUNTS_READ),
)
async def balance_at(
    account_number: str,
    ledger: LedgerDep,
    actor: ActorDep,
    at: Annotated[
        datetime | None,
        ONLY_RFC_3339,
        Query(description="RFC 3339 with a UTC offset; left out: now."),
    ] = None,
) -> Response:
    """An open account's balance at a moment: after every entry posted at or before `at`
    (0 before the first)."""
    found = await ledger.balance_at(account_number, at, actor=actor)
    return ExactJSONResponse(presenters.balance_at(found))


@journal.get(
    "/statement",
    response_model=StatementOut,
    responses={
        200: {
            "description": "The statement as JSON; with `Accept: text/csv`, its entries as CSV.",
            "content": {
                CSV_MEDIA_TYPE: {
                    "schema": {"type": "string"},
                    "example": STATEMENT_CSV_EXAMPLE,
                }
            },
            "headers": {
                "Vary": {
                    "description": "Accept: the answer's form depends on it.",
                    "schema": {"type": "string"},
                }
            },
        },
        **problems(404, 422, 503),
    },
    openapi_extra=requires(Scope.ACCOUNTS_READ),
)
async def statement(
    account_number: str,
    request: Request,
    ledger: LedgerDep,
    actor: ActorDep,
    from_: StatementFrom = None,
    to: StatementTo = None,
) -> Response:
    """An open account's statement from `from` to `to`, both included (both required,
    `from` <= `to`, else 422): the balance just before `from`, the balance at `to`, and the
    sums of the positive (`credits`) and negative (`debits`, as a positive number) entries in
    between: `closing_balance = opening_balance + credits - debits`.

    With `Accept: text/csv` the answer is `text/csv` instead: the header line
    `posted_at,entry_id,transaction_id,amount,balance_after`, then one line per entry of the
    span, oldest first, each field as the entries' JSON writes it; lines end with `\\n`. CSV is
    chosen when `Accept` gives `text/csv` (or `text/*`) a quality above 0 and above that of
    JSON; otherwise (no `Accept`, `*/*`, a tie) the answer is JSON. The CSV is streamed as the
    entries are read: should reading fail after the first bytes were sent, the connection is
    cut before the end of the answer (never a statement that looks whole but is not)."""
    query = StatementQuery(account_number, from_, to, actor=actor)
    if prefers(request.headers.getlist("accept"), CSV_MEDIA_TYPE, JSON_MEDIA_TYPE):
        # Awaited here, before the answer starts: an unknown account or a bad span is still
        # a problem answer (404, 422), not a broken stream.
        entries = await ledger.statement_entries(query)
        return StreamingResponse(
            csv_chunks(entries), media_type=CSV_MEDIA_TYPE, headers=_VARIES_BY_ACCEPT
        )
    made = await ledger.statement(query)
    return ExactJSONResponse(presenters.statement(made), headers=_VARIES_BY_ACCEPT)


@journal.get(
    "/verify",
    response_model=VerificationOut,
    responses=problems(404, 503),
    openapi_extra=requires(Scope.ACCOUNTS_READ),
)
async def verify(account_number: str, ledger: LedgerDep, actor: ActorDep) -> Response:
    """Recomputes an open account's hash chain and the sum of its entries from what is
    stored, and holds them against the account's balance. Beyond the contract,
    `first_bad_entry` names the first entry that does not follow (null while the chain is
    intact) and why: `entry_missing` (an id skipped; the named id is the first missing),
    `hash_mismatch`, `balance_not_running_sum`, `broken_link` (neither hash nor balance
    follows), `head_mismatch` (the entries hold together, but not with the last hash the
    account kept)."""
    check = await ledger.verify_account(account_number, actor=actor)
    return ExactJSONResponse(presenters.journal_check(check))
