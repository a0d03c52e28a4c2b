"""The README's walk-through, run with bash and curl against ``bank-api serve`` as a reader
would: every answer is a line of its own, none is a problem, and running it a second time
changes nothing (fixed transaction ids and Idempotency-Keys make every POST a safe repeat)."""

from __future__ import annotations

import json
import re
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from tests.support.keys import MASTER_KEY, bearer
from tests.support.server import ServerProcess

README = Path(__file__).parents[2] / "README.md"
_PLACEHOLDER = "KEY='<the key scripts/serve printed>'"


def _walkthrough() -> str:
    text = README.read_text()
    section = text[text.index("### A walk through the API") : text.index("### Every route")]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.DOTALL)
    assert blocks
    assert _PLACEHOLDER in blocks[0], "the walk-through starts by setting KEY"
    return "\n".join(blocks)


def _run(script: str) -> list[str]:
    finished = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    assert finished.stderr == ""
    return finished.stdout.splitlines()


def _answers(lines: list[str]) -> list[dict[str, Any]]:
    """The JSON answers printed, one per line (the CSV statement's and -i's header lines are
    not JSON objects)."""
    return [json.loads(line) for line in lines if line.startswith("{")]


def _ledger_state(base_url: str) -> tuple[Decimal, int, int]:
    with httpx.Client(base_url=base_url, headers=bearer(MASTER_KEY), timeout=30) as client:
        account = client.get("/v1/accounts/1234567890").json()
        transactions = client.get("/v1/accounts/1234567890/transactions").json()
        events = client.get("/v1/events", params={"limit": 100}).json()
        keys = client.get("/v1/api-keys").json()
    assert len(keys["items"]) == 1, keys
    return (
        Decimal(str(account["balance"])),
        len(transactions["items"]),
        len(events["items"]),
    )


def test_the_walkthrough_runs_twice_and_the_second_run_changes_nothing(tmp_path: Path) -> None:
    with ServerProcess(f"sqlite:///{tmp_path / 'bank.db'}", tmp_path / "server.log") as server:
        port = server.base_url.rsplit(":", 1)[1]
        script = _walkthrough().replace(_PLACEHOLDER, f"KEY='{MASTER_KEY}'")
        script = script.replace("localhost:8000", f"localhost:{port}")

        first = _run(script)
        after_first = _ledger_state(server.base_url)
        second = _run(script)
        after_second = _ledger_state(server.base_url)

    for answers in (_answers(first), _answers(second)):
        assert answers, "the walk-through prints its answers"
        problems = [answer for answer in answers if "code" in answer and "status" in answer]
        assert problems == []
    # 500.00 - 200.00 + 25.00, once, however often it runs.
    assert after_first == (Decimal("325.00"), 3, after_first[2])
    assert after_second == after_first
    # The key's secret is in the first answer only.
    (made, replayed) = (
        [answer for answer in _answers(run) if answer.get("name") == "statements"]
        for run in (first, second)
    )
    assert made[0]["secret"].startswith("bk_")
    assert replayed[0]["secret"] is None
    # Each answer a line of its own: the statement's CSV starts a line, not the end of another.
    assert "posted_at,entry_id,transaction_id,amount,balance_after" in first, first
