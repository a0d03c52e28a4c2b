"""Runs the real `bank-api serve` in a child process, as a user would, for HTTP tests."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def running_server(database_url: str, log: Path, workers: int = 1) -> Iterator[str]:
    """Starts the server, waits until it answers /health, yields its base URL, stops it."""
    port = free_port()
    environment = {**os.environ, "BANK_DATABASE_URL": database_url, "BANK_LOG_LEVEL": "warning"}
    command = [
        sys.executable,
        "-m",
        "bank_web.cli",
        "serve",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    with log.open("wb") as output:
        process = subprocess.Popen(command, env=environment, stdout=output, stderr=output)
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(base_url, process, log)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_healthy(base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"bank-api serve exited early:\n{log.read_text()}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{base_url}/health", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"bank-api serve did not answer within 30 s:\n{log.read_text()}")
