"""The service's settings, read from the environment (prefix ``BANK_``)."""

from __future__ import annotations

from typing import Annotated, Final, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATABASE_URL: Final = "sqlite:///./bank.db"
LOOPBACK_HOSTS: Final = ("localhost", "127.0.0.1", "[::1]", "::1")
LOG_LEVELS: Final = ("critical", "error", "warning", "info", "debug", "trace")
"""uvicorn's levels; ``trace`` is below ``debug``."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BANK_", extra="ignore")

    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        description="Where the ledger lives: sqlite:///path, postgresql://..., or memory://",
    )
    read_database_url: str | None = Field(
        default=None,
        description="A streaming PostgreSQL standby of BANK_DATABASE_URL's primary: the read "
        "routes answer from it (a little behind the primary); every change, API key checks and "
        "the expiry sweep stay on the primary. Unset or empty: everything on the primary.",
    )
    read_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        description="PostgreSQL cancels a read's statement after this long (answered 503).",
    )
    expiry_sweep_seconds: float = Field(
        default=1.0,
        gt=0,
        description="How often each server process records the expiries of pending "
        "transactions that have come (reads show them from the instant regardless).",
    )
    body_limit_bytes: int = Field(
        default=1024 * 1024,
        gt=0,
        description="A request body of this many bytes or more is refused with 413, unread.",
    )
    cursor_secret: str | None = Field(
        default=None,
        repr=False,
        description="Signs the cursors of listings; every worker of one service needs the same. "
        "Unset: `bank-api serve` makes one for the run, shared by its workers.",
    )
    master_key: str | None = Field(
        default=None,
        repr=False,
        min_length=32,
        description="The master key: every scope over every account (actor `master`), at "
        "least 32 characters. Unset: `bank-api serve` makes one for the run and prints it "
        "(on loopback only; another address refuses to start without one).",
    )
    idempotency_retention_hours: int = Field(
        default=24,
        ge=24,
        description="How long the answer to a request with an Idempotency-Key is kept (at "
        "least 24 hours, the contract's minimum); older ones are removed.",
    )
    idempotency_cleanup_seconds: float = Field(
        default=300,
        gt=0,
        description="How often each server process removes the expired answers of idempotency "
        "keys (in batches of 1,000, each its own transaction).",
    )
    header_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="How long a client may take to send a request's head (from connecting, or "
        "from the first byte of a kept-alive connection's next request); past it, 408.",
    )
    header_limit_bytes: int = Field(
        default=16 * 1024,
        ge=1024,
        description="A request's head (its request line and headers, as sent) of more bytes is "
        "refused with 431 as it arrives, before the app sees it.",
    )
    header_fields_limit: int = Field(
        default=100,
        gt=0,
        description="A request with more header fields is refused with 431.",
    )
    concurrency_limit: int = Field(
        default=1000,
        ge=2,
        description="Per server process: a request that arrives while this many connections "
        "are open (idle kept-alive ones included) or requests running is answered 503 (uvicorn's "
        "limit_concurrency).",
    )
    keep_alive_seconds: int = Field(
        default=5,
        gt=0,
        description="An idle kept-alive connection is closed after this many seconds.",
    )
    requests_per_connection: int = Field(
        default=1000,
        gt=0,
        description="A kept-alive connection is closed after this many requests (its last "
        "answer says Connection: close), so that clients reconnecting spread over the worker "
        "processes (nginx's keepalive_requests).",
    )
    backlog: int = Field(
        default=2048,
        gt=0,
        description="Connections the kernel holds for the server before it accepts them.",
    )
    log_level: str = Field(
        default="info",
        description="critical, error, warning, info, debug or trace (any case).",
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="text: uvicorn's lines with the request id; json: one JSON object per line, "
        "and the service's own access line (request id, key id, route template, status, "
        "duration; never a path, a query or a header).",
    )
    database_wait_seconds: float = Field(
        default=10.0,
        ge=0,
        description="At start, how long to wait for a database that does not answer yet "
        "(connections refused, a server still starting) before giving up; 0: not at all.",
    )
    opentelemetry: bool = Field(
        default=False,
        description="FastAPI's native OpenTelemetry tracing, metrics and logs (global providers).",
    )
    access_log: bool = Field(
        default=True,
        description="One log line per request; off saves a few percent of CPU under load.",
    )
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default=list(LOOPBACK_HOSTS),
        min_length=1,
        description="The names a request's Host header may give (any port), comma-separated in "
        "the environment; others are refused with 400 (against DNS rebinding). `*` allows any, "
        "`*.example.com` any name under example.com. Default: the loopback names.",
    )

    @field_validator("log_level")
    @classmethod
    def _known_log_level(cls, value: str) -> str:
        level = value.strip().lower()
        if level not in LOG_LEVELS:
            raise ValueError(f"a log level is one of {', '.join(LOG_LEVELS)}")
        return level

    @field_validator("read_database_url")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        # Whether it names a PostgreSQL standby is checked where the store is opened
        # (bank_adapters.stores.check_standby_url): parsing URLs here would import the SQL
        # store into every process that reads its settings, seconds of start-up on a busy host.
        return value if value is not None and value.strip() else None

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _split_names(cls, value: object) -> object:
        if isinstance(value, str):
            return [name.strip() for name in value.split(",") if name.strip()]
        return value
