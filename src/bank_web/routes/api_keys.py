"""/v1/api-keys: make, list, read and revoke API keys (scope keys:admin)."""

from fastapi import Response

from bank_domain.api_keys import Scope
from bank_domain.use_cases.api_keys import CreateApiKeyCommand, CreatedApiKey, ListApiKeysQuery
from bank_web import presenters
from bank_web.authentication import requires
from bank_web.dependencies import ActorDep, LedgerDep
from bank_web.idempotency import IdempotencyDep
from bank_web.json_codec import ExactJSONResponse
from bank_web.request_bodies import ApiKeyCreate
from bank_web.response_models import ApiKeyOut, ApiKeyPage, CreatedApiKeyOut
from bank_web.routes._http import (
    PageCursor,
    PageLimit,
    cursor_given,
    page_response,
    problems,
    router,
)

api_keys = router(prefix="/v1/api-keys", tags=["api keys"])
_KEYS_ADMIN = requires(Scope.KEYS_ADMIN)


@api_keys.post(
    "",
    status_code=201,
    response_model=CreatedApiKeyOut,
    responses=problems(422, 503),
    openapi_extra=_KEYS_ADMIN,
)
async def create_api_key(
    body: ApiKeyCreate, ledger: LedgerDep, actor: ActorDep, idempotency: IdempotencyDep
) -> Response:
    """Makes a key. Its `secret` is in this answer and nowhere else, ever: the service keeps
    only its SHA-256. `account_numbers` restricts the key to those accounts (not with
    `keys:admin`, a 422). A replay of this answer for an `Idempotency-Key` has `"secret":
    null`: the secret is never kept."""
    created = await ledger.create_api_key(
        CreateApiKeyCommand(
            name=body.name,
            scopes=body.scopes,
            account_numbers=body.account_numbers,
            expires_at=body.expires_at,
            actor=actor,
            idempotency=idempotency.claim(_kept_without_secret),
        )
    )
    return _created(created, secret=created.secret)


def _created(created: CreatedApiKey, *, secret: str | None) -> Response:
    return ExactJSONResponse(
        presenters.created_api_key(created.key, secret),
        status_code=201,
        headers={"Location": f"/v1/api-keys/{created.key.key_id}"},
    )


def _kept_without_secret(created: CreatedApiKey) -> Response:
    return _created(created, secret=None)


@api_keys.get(
    "", response_model=ApiKeyPage, responses=problems(422, 503), openapi_extra=_KEYS_ADMIN
)
async def list_api_keys(
    ledger: LedgerDep,
    actor: ActorDep,
    limit: PageLimit = None,
    cursor: PageCursor = None,
) -> Response:
    """Every key, revoked and expired ones included, oldest first, without secrets."""
    page = await ledger.list_api_keys(
        ListApiKeysQuery(limit=limit, cursor=cursor_given(cursor), actor=actor)
    )
    return page_response(page, presenters.api_key)


@api_keys.get(
    "/{key_id}", response_model=ApiKeyOut, responses=problems(404, 503), openapi_extra=_KEYS_ADMIN
)
async def get_api_key(key_id: str, ledger: LedgerDep, actor: ActorDep) -> Response:
    """One key, without its secret; 404 `api_key_not_found`."""
    return ExactJSONResponse(presenters.api_key(await ledger.get_api_key(key_id, actor=actor)))


@api_keys.delete(
    "/{key_id}",
    status_code=204,
    response_class=Response,
    responses=problems(404, 503),
    openapi_extra=_KEYS_ADMIN,
)
async def revoke_api_key(key_id: str, ledger: LedgerDep, actor: ActorDep) -> Response:
    """Revokes the key (again: 204, no change). It stays listed with `revoked_at`; every server
    process refuses it within 5 seconds (this one at once)."""
    await ledger.revoke_api_key(key_id, actor=actor)
    return Response(status_code=204)
