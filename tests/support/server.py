"""The real `bank-api serve` in a child process, as a user runs it, for the HTTP and fault tests.

It runs in a session of its own, so that a test can kill it, workers and all, as a crash would.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Final, Self

import httpx

START_TIMEOUT_SECONDS: Final = 30.0
STOP_TIMEOUT_SECONDS: Final = 15.0

_TROUBLE: Final = ("Traceback", "Unexpected error", "Exception in ASGI application")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class ServerProcess:
    """The real server (``python -m bank_web.cli serve``), started as a process group leader:
    ``kill()`` sends SIGKILL to the master and every worker at once, as a crash would."""

    def __init__(
        self,
        database_url: str,
        log: Path,
        workers: int = 1,
        environment: Mapping[str, str | None] | None = None,
    ) -> None:
        self._database_url = database_url
        self._log = log
        self._workers = workers
        self._environment = dict(environment or {})
        self._port = free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def start(self) -> None:
        command = [
            sys.executable,
            "-m",
            "bank_web.cli",
            "serve",
            "--port",
            str(self._port),
            "--workers",
            str(self._workers),
        ]
        given = {
            **os.environ,
            "BANK_DATABASE_URL": self._database_url,
            "BANK_LOG_LEVEL": "warning",
            **self._environment,
        }
        # None in ``environment`` removes a variable (BANK_MASTER_KEY, to serve without one).
        environment = {name: value for name, value in given.items() if value is not None}
        with self._log.open("ab") as output:
            output.write(f"--- serve on port {self._port}\n".encode())
            output.flush()
            self._process = subprocess.Popen(
                command,
                env=environment,
                stdout=output,
                stderr=output,
                start_new_session=True,
            )
        self._wait_until_healthy()

    def worker_pids(self) -> list[int]:
        """The server processes the master started (read from /proc)."""
        master = self._running().pid
        children = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text()
                # The fields after the command name (which may hold spaces) in parentheses.
                fields = stat.rsplit(")", 1)[1].split()
                parent = int(fields[1])
                cmdline = (entry / "cmdline").read_bytes()
                if parent == master and b"spawn_main" in cmdline:
                    children.append(int(entry.name))
        return children

    def kill(self) -> None:
        """SIGKILL to the whole process group, then waits until nothing listens on the port."""
        process = self._running()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
        self._wait_until_port_closed()

    def stop(self) -> None:
        process = self._process
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
        # Workers of a master that is gone, or one that would not stop, are killed too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_TIMEOUT_SECONDS)

    def log_text(self) -> str:
        return self._log.read_text(errors="replace")

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _running(self) -> subprocess.Popen[bytes]:
        if self._process is None:
            raise RuntimeError("The server was not started.")
        return self._process

    def _wait_until_healthy(self) -> None:
        process = self._running()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"bank-api serve exited early:\n{self.log_text()[-4000:]}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.base_url}/health", timeout=1).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(
            f"bank-api serve did not answer within {START_TIMEOUT_SECONDS:g} s:\n"
            f"{self.log_text()[-4000:]}"
        )

    def _wait_until_port_closed(self) -> None:
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self._port), timeout=1):
                    pass
            except OSError:
                return
            time.sleep(0.05)
        raise AssertionError(f"port {self._port} still accepts connections after SIGKILL")


@contextlib.contextmanager
def running_server(
    database_url: str,
    log: Path,
    workers: int = 1,
    environment: Mapping[str, str | None] | None = None,
) -> Iterator[str]:
    """Starts the server, waits until it answers /health, yields its base URL, stops it.
    ``environment`` adds to or overrides the server's environment (BANK_* settings); None
    removes a variable."""
    with ServerProcess(database_url, log, workers, environment) as server:
        yield server.base_url


_SECRET = re.compile(r"bk_[A-Za-z0-9_-]{43}")


def assert_no_secret_in_log(log: Path, *secrets: str) -> None:
    """No key's secret (``bk_...``), nor any of ``secrets`` (the master key), in the log."""
    text = log.read_text(errors="replace")
    assert not _SECRET.search(text), "a key's secret in the server's log"
    for secret in secrets:
        assert secret not in text, "a secret in the server's log"


def assert_clean_log(log: Path, since: int = 0) -> None:
    """No stack trace and no unexpected error in the server's log (from byte ``since`` on)."""
    with log.open("rb") as stream:
        stream.seek(since)
        text = stream.read().decode(errors="replace")
    trouble = [line for line in text.splitlines() if any(mark in line for mark in _TROUBLE)]
    assert not trouble, "the server logged an error:\n" + text[-6000:]
