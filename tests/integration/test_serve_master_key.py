"""``bank-api serve`` and its master key: made for the run and printed once when none is set
(loopback only), shared by every worker; refused at start on another address without one, and
when it is shorter than 32 characters."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.keys import AUTH, MASTER_KEY, bearer
from tests.support.server import (
    ServerProcess,
    assert_clean_log,
    assert_no_secret_in_log,
    free_port,
)

_PRINTED = re.compile(r"^Master key for this run.*: (\S+)$", re.MULTILINE)


def test_serve_without_a_key_makes_one_prints_it_once_and_every_worker_takes_it(
    tmp_path: Path,
) -> None:
    log = tmp_path / "server.log"
    environment = {"BANK_MASTER_KEY": None, "BANK_LOG_LEVEL": "info"}
    with ServerProcess(
        f"sqlite:///{tmp_path / 'bank.db'}", log, workers=2, environment=environment
    ) as server:
        printed = _PRINTED.findall(server.log_text())
        assert len(printed) == 1, server.log_text()
        (key,) = printed
        assert len(key) >= 32
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            # New connections, so that both workers answer some of them.
            for _ in range(20):
                answer = client.get("/v1/accounts", headers={**bearer(key), "connection": "close"})
                assert answer.status_code == 200, answer.text
            refused = client.get("/v1/accounts", headers=bearer(key + "x"))
            assert refused.status_code == 401
            assert refused.headers["www-authenticate"] == "Bearer"
        text = server.log_text()
    # Told once, on start; never in a log line of a request.
    assert text.count(key) == 1, text
    assert_clean_log(log)


def test_a_key_revoked_in_one_worker_is_refused_by_every_worker_within_5_seconds(
    tmp_path: Path,
) -> None:
    log = tmp_path / "server.log"
    with (
        ServerProcess(f"sqlite:///{tmp_path / 'bank.db'}", log, workers=2) as server,
        httpx.Client(base_url=server.base_url, timeout=30, headers=AUTH) as client,
    ):
        made = client.post("/v1/api-keys", json={"name": "t", "scopes": ["accounts:read"]})
        assert made.status_code == 201, made.text
        key = {**bearer(made.json()["secret"]), "connection": "close"}
        # New connections, so that both workers read the key and keep it.
        for _ in range(20):
            assert client.get("/v1/accounts", headers=key).status_code == 200
        assert client.delete(made.headers["location"]).status_code == 204
        revoked_at = time.monotonic()
        refused_in_a_row = 0
        while refused_in_a_row < 20:
            status = client.get("/v1/accounts", headers=key).status_code
            refused_in_a_row = refused_in_a_row + 1 if status == 401 else 0
            assert status in {200, 401}
            assert time.monotonic() - revoked_at < 5, "a worker still takes the key"
            if status == 200:
                time.sleep(0.05)
    assert_clean_log(log)
    assert_no_secret_in_log(log, MASTER_KEY)


def _serve(
    tmp_path: Path, *arguments: str, master_key: str | None
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "BANK_MASTER_KEY"}
    if master_key is not None:
        environment["BANK_MASTER_KEY"] = master_key
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "bank_web.cli",
            "--database-url",
            f"sqlite:///{tmp_path / 'bank.db'}",
            "serve",
            "--port",
            str(free_port()),
            *arguments,
        ],
        env=environment,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.1", "bank.example"])
def test_serve_on_another_address_without_a_key_is_refused(tmp_path: Path, host: str) -> None:
    finished = _serve(tmp_path, "--host", host, master_key=None)
    assert finished.returncode != 0
    assert "BANK_MASTER_KEY" in finished.stderr
    assert host in finished.stderr
    assert "Traceback" not in finished.stderr
    assert "Master key for this run" not in finished.stderr + finished.stdout
    assert not (tmp_path / "bank.db").exists(), "it went on to migrate"


@pytest.mark.parametrize("key", ["short", "x" * 31])
def test_a_master_key_under_32_characters_is_refused(tmp_path: Path, key: str) -> None:
    finished = _serve(tmp_path, master_key=key)
    assert finished.returncode != 0
    assert "BANK_MASTER_KEY" in finished.stderr
    assert "32" in finished.stderr
    assert "Traceback" not in finished.stderr
    assert key not in finished.stderr.replace("BANK_MASTER_KEY", "")
