"""Unique references, so that tests sharing a store never collide and need no cleanup."""

from __future__ import annotations

import secrets
import uuid


def account_number() -> str:
    return f"{secrets.randbelow(10**10):010d}"


def transaction_id() -> str:
    return f"test-{uuid.uuid4().hex}"


def customer_name() -> str:
    return f"Customer {uuid.uuid4().hex[:8]}"
