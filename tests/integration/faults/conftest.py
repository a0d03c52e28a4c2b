"""Fixtures of the fault, load and hostile-input tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.postgres import postgres_server_url, throwaway_database


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test (the server migrates it), dropped after."""
    with throwaway_database(postgres_server_url(), "bank_faults") as url:
        yield url


@pytest.fixture(params=[pytest.param("postgresql", marks=pytest.mark.postgres), "sqlite"])
def sql_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database on each SQL store in turn (the server migrates it): PostgreSQL
    (dropped after), then a SQLite file."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_database"))
    return f"sqlite:///{tmp_path / 'bank.db'}"
