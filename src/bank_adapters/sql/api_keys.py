"""API keys in SQL: one simple statement per method. A key is found by the SHA-256 of its
secret through a unique index; the secret itself is never stored."""

from __future__ import annotations

from sqlalchemy import Select, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bank_adapters.sql.errors import storage_errors
from bank_adapters.sql.rows import api_key_from_row, api_key_to_row
from bank_adapters.sql.schema import api_keys
from bank_domain.api_keys import ApiKey
from bank_domain.ports import ApiKeyQuery, ApiKeyRepository


class SqlApiKeyRepository(ApiKeyRepository):
    def __init__(self, connection: AsyncConnection, *, read_only: bool = False) -> None:
        self._connection = connection
        self._read_only = read_only

    async def get(self, key_id: str) -> ApiKey | None:
        return await self._one(select(api_keys).where(api_keys.c.key_id == key_id))

    async def get_by_secret_hash(self, secret_hash: str) -> ApiKey | None:
        return await self._one(select(api_keys).where(api_keys.c.secret_hash == secret_hash))

    async def add(self, key: ApiKey) -> None:
        self._refuse_if_read_only("api_keys.add")
        with storage_errors():
            await self._connection.execute(insert(api_keys).values(api_key_to_row(key)))

    async def save(self, key: ApiKey) -> None:
        self._refuse_if_read_only("api_keys.save")
        changes = api_key_to_row(key)
        del changes["key_id"]
        statement = update(api_keys).where(api_keys.c.key_id == key.key_id).values(changes)
        with storage_errors():
            await self._connection.execute(statement)

    async def list(self, query: ApiKeyQuery) -> list[ApiKey]:
        order = (api_keys.c.created_at, api_keys.c.key_id)
        statement = select(api_keys)
        if query.after is not None:
            statement = statement.where(tuple_(*order) > query.after)
        statement = statement.order_by(*order).limit(query.limit)
        with storage_errors():
            result = await self._connection.execute(statement)
        return [api_key_from_row(row) for row in result.mappings()]

    async def _one(self, statement: Select[tuple[object, ...]]) -> ApiKey | None:
        with storage_errors():
            result = await self._connection.execute(statement)
        row = result.mappings().one_or_none()
        return None if row is None else api_key_from_row(row)

    def _refuse_if_read_only(self, what: str) -> None:
        if self._read_only:
            raise RuntimeError(f"{what} changes the keys: not in a read-only unit of work.")
