"""A private PostgreSQL primary and its streaming standby, for the tests that read from a
standby: made with initdb and ``pg_basebackup -R`` under a temporary folder, on free loopback
ports, run as the operating-system user ``postgres`` (PostgreSQL refuses to run as root), and
removed afterwards. The machine's own server (and BANK_TEST_POSTGRES_URL) is never touched.

Every command is bounded in time; a cluster that does not come up fails the test that asked
for it, with the server's log in the message.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Final, Self

from tests.support.server import free_port

POSTGRES_BIN: Final = Path(os.environ.get("BANK_TEST_POSTGRES_BIN", "/usr/lib/postgresql/15/bin"))
SERVER_USER: Final = "postgres"
COMMAND_TIMEOUT_SECONDS: Final = 60.0
SERVER_SETTINGS: Final = (
    # Throwaway data: no flush to disk, so the cluster starts and writes quickly.
    "-c fsync=off -c full_page_writes=off -c max_connections=60 -c shared_buffers=32MB"
)


class StandbyCluster:
    """``with StandbyCluster() as cluster:`` a primary at ``primary_url(db)`` and its hot
    standby at ``standby_url(db)``, streaming from it."""

    def __init__(self) -> None:
        self._folder = Path(tempfile.mkdtemp(prefix="bank-standby-"))
        self._primary = self._folder / "primary"
        self._standby = self._folder / "standby"
        self.primary_port = free_port()
        self.standby_port = free_port()

    def primary_url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.primary_port}/{database}"

    def standby_url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.standby_port}/{database}"

    def __enter__(self) -> Self:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _start(self) -> None:
        if os.geteuid() == 0:
            user = pwd.getpwnam(SERVER_USER)
            os.chown(self._folder, user.pw_uid, user.pw_gid)
        self._run(
            "initdb",
            "-D",
            str(self._primary),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
        )
        self.start_primary()
        self._run(
            "pg_basebackup",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.primary_port),
            "-U",
            "postgres",
            "-D",
            str(self._standby),
            "-R",  # standby.signal and primary_conninfo: a streaming standby
            "-X",
            "stream",
            "-c",
            "fast",
            "--no-sync",
        )
        self.start_standby()

    def start_primary(self) -> None:
        self._pg_ctl(self._primary, self.primary_port, "start")

    def stop_primary(self) -> None:
        """A fast shutdown: the primary's clients are cut off, the standby stays up."""
        self._run("pg_ctl", "-D", str(self._primary), "-m", "fast", "-w", "stop")

    def start_standby(self) -> None:
        self._pg_ctl(self._standby, self.standby_port, "start")

    def stop_standby(self) -> None:
        self._run("pg_ctl", "-D", str(self._standby), "-m", "fast", "-w", "stop")

    def close(self) -> None:
        for data in (self._standby, self._primary):
            if (data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self._folder, ignore_errors=True)

    def _pg_ctl(self, data: Path, port: int, action: str) -> None:
        options = f"-p {port} -c listen_addresses=127.0.0.1 -k {self._folder} {SERVER_SETTINGS}"
        log = self._folder / f"{data.name}.log"
        self._run(
            "pg_ctl", "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "30", action
        )

    def log(self, name: str) -> str:
        path = self._folder / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _run(self, program: str, *arguments: str, check: bool = True) -> None:
        command = [str(POSTGRES_BIN / program), *arguments]
        if os.geteuid() == 0:
            command = ["runuser", "-u", SERVER_USER, "--", *command]
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_SECONDS,
            cwd=self._folder,
            check=False,
        )
        if check and done.returncode != 0:
            raise RuntimeError(
                f"{program} failed ({done.returncode}): {done.stderr.strip()}\n"
                f"primary log:\n{self.log('primary')}\nstandby log:\n{self.log('standby')}"
            )


def wait_for(
    condition_name: str, check: Callable[[], object], timeout_seconds: float = 20.0
) -> None:
    """Polls ``check()`` until it is true, or fails."""
    deadline = time.monotonic() + timeout_seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{condition_name}: not within {timeout_seconds:g} s")
        time.sleep(0.1)
