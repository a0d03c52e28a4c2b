"""The service's cursor secret: a setting (BANK_CURSOR_SECRET) that reaches the ledger, and that
``bank-api serve`` makes for the run when it is not set, the same for every worker."""

from __future__ import annotations

import os

import pytest
import uvicorn

from bank_domain import InvalidValue, Ledger, ListAccountsQuery
from bank_domain.pagination import CursorCodec
from bank_web import cli
from bank_web.containers import Container
from bank_web.settings import Settings


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, object]]:
    """Runs ``bank-api serve`` up to uvicorn, noting what uvicorn was asked for."""
    runs: list[dict[str, object]] = []
    monkeypatch.setattr(cli, "migrate", lambda url, runtime_role=None: None)
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: runs.append(kwargs))
    monkeypatch.setenv("BANK_DATABASE_URL", "sqlite:///unused.db")
    # Recorded, so that whatever serve sets is undone after the test.
    monkeypatch.setenv("BANK_CURSOR_SECRET", "")
    monkeypatch.delenv("BANK_CURSOR_SECRET")
    return runs


def test_serve_makes_one_secret_for_its_workers_when_none_is_set(
    served: list[dict[str, object]], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli.main(["serve", "--workers", "2"]) == 0
    assert served[0]["workers"] == 2
    made = os.environ["BANK_CURSOR_SECRET"]  # workers are fresh processes: they read this
    assert len(made) >= 32
    assert Settings().cursor_secret == made

    monkeypatch.delenv("BANK_CURSOR_SECRET")
    assert cli.main(["serve", "--workers", "2"]) == 0
    assert os.environ["BANK_CURSOR_SECRET"] != made, "a new run, a new secret"


def test_serve_keeps_a_secret_that_is_set(
    served: list[dict[str, object]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BANK_CURSOR_SECRET", "kept across restarts")
    assert cli.main(["serve", "--workers", "2"]) == 0
    assert os.environ["BANK_CURSOR_SECRET"] == "kept across restarts"


async def test_the_container_hands_the_secret_to_the_ledger() -> None:
    def ledger_with(secret: str) -> Ledger:
        container = Container()
        settings = Settings(database_url="memory://", cursor_secret=secret)
        container.config.from_dict(settings.model_dump())
        return container.ledger()

    signed = CursorCodec("the service's").encode(["0000000000"])
    page = await ledger_with("the service's").list_accounts(ListAccountsQuery(cursor=signed))
    assert page.items == []
    with pytest.raises(InvalidValue):
        await ledger_with("another").list_accounts(ListAccountsQuery(cursor=signed))


def test_the_secret_is_not_shown_with_the_settings() -> None:
    assert "hush" not in repr(Settings(cursor_secret="hush"))
