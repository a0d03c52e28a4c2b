"""A server worker freezes (gc.freeze) everything it keeps for its life before it serves.

A worker of ``bank-api serve --workers N`` is a fresh interpreter that imports only the app.
Whatever it loads after its freeze (the store's SQLAlchemy, driver and migration modules, made
by the first use of the store) is walked by every full collection of the garbage collector:
that walk once stalled every request of a worker for 40 to 70 ms, a few times a second under
load, and took the 2-worker benchmark's p99 over 50 ms (bench/README.md). Here a fresh
interpreter starts the app on each SQL store and serves a posting; no module may be left out
of the freeze.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

MASTER_KEY = "worker-freeze-test-key-0123456789abcdef"

_WORKER = """
import gc, json, sys, warnings
warnings.simplefilter("ignore")
from starlette.testclient import TestClient
from bank_web.app import create_app_from_environment

with TestClient(create_app_from_environment(), base_url="http://127.0.0.1") as client:
    key = {"Authorization": "Bearer " + sys.argv[1]}
    opened = client.post(
        "/v1/accounts", json={"customer_name": "A", "account_type": "savings"}, headers=key
    )
    posted = client.post(
        "/v1/transactions",
        json={
            "account_number": opened.json()["account_number"],
            "amount": "1.00",
            "transaction_type": "deposit",
        },
        headers=key,
    )
    unfrozen = {id(thing) for thing in gc.get_objects()}
    print(json.dumps({
        "statuses": [opened.status_code, posted.status_code],
        "frozen": gc.get_freeze_count(),
        "unfrozen_modules": sorted(
            name
            for name, module in list(sys.modules.items())
            if id(getattr(module, "__dict__", None)) in unfrozen
        ),
    }))
"""


def test_a_fresh_worker_has_frozen_every_module_it_serves_with(sql_store_url: str) -> None:
    environment = dict(os.environ, BANK_DATABASE_URL=sql_store_url, BANK_MASTER_KEY=MASTER_KEY)
    finished = subprocess.run(
        [sys.executable, "-c", _WORKER, MASTER_KEY],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    seen = json.loads(finished.stdout.splitlines()[-1])
    assert seen["statuses"] == [201, 201]
    assert seen["frozen"] > 0
    assert seen["unfrozen_modules"] == []
