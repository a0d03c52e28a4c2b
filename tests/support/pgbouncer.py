"""A private PgBouncer in transaction mode in front of the test server, for the pooler's tests.

It runs from a temporary folder of its own (its ini, auth file, log and pid file), on a free
loopback port, as the ``postgres`` user (PgBouncer refuses to run as root), with a small pool,
and is stopped (by its own pid) and its folder removed afterwards. Debian's package is installed
by ``scripts/install-pgbouncer`` when it is missing, without starting the package's own service.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit, urlunsplit

PGBOUNCER: Final = Path("/usr/sbin/pgbouncer")
INSTALL_SCRIPT: Final = Path(__file__).resolve().parents[2] / "scripts" / "install-pgbouncer"
RUN_AS: Final = "postgres"
"""PgBouncer will not run as root; the PostgreSQL packages make this user."""
START_TIMEOUT_SECONDS: Final = 10.0
STOP_TIMEOUT_SECONDS: Final = 10.0
POOL_SIZE: Final = 4
"""Server connections per (database, user): fewer than the API's processes would open directly
(2 workers keep 3 each for the grouped path alone), so clients queue in PgBouncer."""


@dataclass(frozen=True, slots=True)
class PgBouncer:
    port: int
    folder: Path
    pid: int

    def url_for(self, database_url: str) -> str:
        """``database_url`` (a database on the server behind PgBouncer) as reached through it,
        with ``pooler=pgbouncer`` so the ledger knows."""
        return through_pooler(database_url, self.port, pooler="pgbouncer")

    def log(self) -> str:
        path = self.folder / "pgbouncer.log"
        return path.read_text(errors="replace") if path.exists() else ""


def through_pooler(database_url: str, port: int, *, pooler: str | None) -> str:
    """The URL with 127.0.0.1:``port`` for its host and, given one, ``pooler=`` in its query."""
    parts = urlsplit(database_url)
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@127.0.0.1:{port}" if userinfo else f"127.0.0.1:{port}"
    query = "&".join(q for q in (parts.query, f"pooler={pooler}" if pooler else "") if q)
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def ensure_installed() -> None:
    """Installs Debian's pgbouncer when it is missing (as root, through the script CI uses)."""
    if PGBOUNCER.exists():
        return
    if os.geteuid() != 0:
        raise RuntimeError(f"{PGBOUNCER} is missing: run scripts/install-pgbouncer as root.")
    subprocess.run([str(INSTALL_SCRIPT)], check=True, timeout=600)


@contextlib.contextmanager
def running_pgbouncer(server_url: str, *, pool_size: int = POOL_SIZE) -> Iterator[PgBouncer]:
    """A PgBouncer in transaction mode in front of the server ``server_url`` names (any of its
    databases), for the block's length."""
    ensure_installed()
    server = urlsplit(server_url)
    folder = Path(tempfile.mkdtemp(prefix="bank-pgbouncer-"))
    user = pwd.getpwnam(RUN_AS)
    port = _free_port()
    try:
        (folder / "userlist.txt").write_text(f'"{server.username or RUN_AS}" ""\n')
        (folder / "pgbouncer.ini").write_text(
            _ini(folder, port, server.hostname or "127.0.0.1", server.port or 5432, pool_size)
        )
        for path in (folder, *folder.iterdir()):
            os.chown(path, user.pw_uid, user.pw_gid)
        with (folder / "stdout.log").open("wb") as output:
            process = subprocess.Popen(
                [str(PGBOUNCER), str(folder / "pgbouncer.ini")],
                user=user.pw_uid,
                group=user.pw_gid,
                cwd=folder,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        try:
            _wait_until_listening(process, port, folder)
            yield PgBouncer(port, folder, process.pid)
        finally:
            process.terminate()
            try:
                process.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(STOP_TIMEOUT_SECONDS)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _ini(folder: Path, port: int, server_host: str, server_port: int, pool_size: int) -> str:
    return f"""\
[databases]
* = host={server_host} port={server_port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {folder}/userlist.txt
pool_mode = transaction
default_pool_size = {pool_size}
max_client_conn = 1000
logfile = {folder}/pgbouncer.log
pidfile = {folder}/pgbouncer.pid
admin_users = {RUN_AS}
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_until_listening(process: subprocess.Popen[bytes], port: int, folder: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = (folder / "stdout.log").read_text(errors="replace")
            raise RuntimeError(f"pgbouncer exited at start ({process.returncode}): {output}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(
        f"pgbouncer did not listen on 127.0.0.1:{port} within {START_TIMEOUT_SECONDS:g} s"
    )
