"""The master key: a setting (BANK_MASTER_KEY, 32 characters or more) that ``bank-api serve``
makes for the run and prints once when it is not set, on loopback only; on another address it
refuses to start without one."""

from __future__ import annotations

import os

import pytest
import uvicorn
from pydantic import ValidationError

from bank_web import cli
from bank_web.settings import Settings
from tests.support.keys import MASTER_KEY


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, object]]:
    """Runs ``bank-api serve`` up to uvicorn, noting what uvicorn was asked for."""
    runs: list[dict[str, object]] = []
    monkeypatch.setattr(cli, "migrate", lambda url, runtime_role=None: None)
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: runs.append(kwargs))
    monkeypatch.setenv("BANK_DATABASE_URL", "sqlite:///unused.db")
    # Recorded, so that whatever serve sets is undone after the test.
    monkeypatch.setenv("BANK_MASTER_KEY", "")
    monkeypatch.delenv("BANK_MASTER_KEY")
    return runs


def test_serve_makes_one_key_for_its_workers_and_prints_it_once(
    served: list[dict[str, object]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["serve", "--workers", "2"]) == 0
    assert served[0]["workers"] == 2
    made = os.environ["BANK_MASTER_KEY"]  # workers are fresh processes: they read this
    assert len(made) >= 32
    assert Settings().master_key == made
    printed = capsys.readouterr()
    assert printed.out == ""
    assert printed.err.count(made) == 1
    assert "Master key for this run" in printed.err

    monkeypatch.delenv("BANK_MASTER_KEY")
    assert cli.main(["serve"]) == 0
    assert os.environ["BANK_MASTER_KEY"] != made, "a new run, a new key"


def test_serve_keeps_a_key_that_is_set_and_prints_none(
    served: list[dict[str, object]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("BANK_MASTER_KEY", MASTER_KEY)
    assert cli.main(["serve", "--host", "0.0.0.0"]) == 0
    assert os.environ["BANK_MASTER_KEY"] == MASTER_KEY
    printed = capsys.readouterr()
    assert MASTER_KEY not in printed.out + printed.err
    assert "Master key for this run" not in printed.err


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.1.2.3", "bank.example"])
def test_serve_on_another_address_without_a_key_refuses_to_start(
    served: list[dict[str, object]], capsys: pytest.CaptureFixture[str], host: str
) -> None:
    assert cli.main(["serve", "--host", host]) != 0
    assert served == []
    assert "BANK_MASTER_KEY" not in os.environ
    err = capsys.readouterr().err
    assert "BANK_MASTER_KEY" in err
    assert host in err


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"])
def test_serve_on_loopback_without_a_key_starts(served: list[dict[str, object]], host: str) -> None:
    assert cli.main(["serve", "--host", host]) == 0
    assert len(served) == 1


@pytest.mark.parametrize("key", ["", "short", "x" * 31])
def test_a_key_under_32_characters_refuses_to_start_without_telling_it(
    served: list[dict[str, object]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    key: str,
) -> None:
    monkeypatch.setenv("BANK_MASTER_KEY", key)
    assert cli.main(["serve"]) == 2
    assert served == []
    err = capsys.readouterr().err
    assert "BANK_MASTER_KEY is at least 32 characters" in err
    if key:
        assert key not in err.replace("BANK_MASTER_KEY", "")


def test_the_setting_is_32_characters_or_more_and_never_shown() -> None:
    with pytest.raises(ValidationError):
        Settings(master_key="x" * 31)
    settings = Settings(master_key="y" * 32)
    assert "y" * 32 not in repr(settings)
