"""The master key every test process and every server the tests start share
(``tests/conftest.py`` puts it in the environment), and the header that sends it."""

from __future__ import annotations

from typing import Final

MASTER_KEY: Final = "test-master-key-of-at-least-32-characters"
AUTH: Final = {"authorization": f"Bearer {MASTER_KEY}"}


def bearer(secret: str) -> dict[str, str]:
    return {"authorization": f"Bearer {secret}"}
