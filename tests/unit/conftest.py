"""Fixtures: a fresh in-memory store per test, a clock the test controls, a ledger over both."""

from __future__ import annotations

import pytest

from bank_adapters.memory import InMemoryStore
from bank_domain import Ledger

from .support import CURSOR_SECRET, SteppingClock


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


@pytest.fixture
def clock() -> SteppingClock:
    """Ticks one second per reading, so every event gets its own, predictable timestamp."""
    return SteppingClock()


@pytest.fixture
def ledger(store: InMemoryStore, clock: SteppingClock) -> Ledger:
    return Ledger(store.unit_of_work, clock, cursor_secret=CURSOR_SECRET)
