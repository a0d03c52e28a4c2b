"""Fixtures of the fault, load and hostile-input tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.postgres import postgres_server_url, throwaway_database


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test (the server migrates it), dropped after."""
    with throwaway_database(postgres_server_url(), "bank_faults") as url:
        yield url
