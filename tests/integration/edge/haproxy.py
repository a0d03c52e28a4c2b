"""HAProxy with the repository's configuration (deploy/haproxy), in front of API processes.

HAProxy comes from Debian's packages: installed here when missing (as root, through apt-get,
without letting the package start its service), so the edge tests run on a fresh CI machine.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Final

import httpx

from tests.support.server import free_port

REPOSITORY: Final = Path(__file__).resolve().parents[3]
RENDER: Final = REPOSITORY / "deploy" / "haproxy" / "render"
START_TIMEOUT_SECONDS: Final = 20.0
INSTALL_TIMEOUT_SECONDS: Final = 600.0
POLICY_RC_D: Final = Path("/usr/sbin/policy-rc.d")
_NO_SERVICE_STARTS: Final = "#!/bin/sh\n# Written by the edge tests: no service starts.\nexit 101\n"


def haproxy_binary() -> str:
    """haproxy's path, installing Debian's package first when it is missing."""
    found = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin")
    if found:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise RuntimeError("haproxy is missing: install Debian's package (apt-get install haproxy)")
    _apt_install("haproxy")
    found = shutil.which("haproxy", path="/usr/sbin:/usr/bin")
    if found is None:
        raise RuntimeError("apt-get installed haproxy, but no haproxy binary is on the PATH")
    return found


def _apt_install(package: str) -> None:
    # policy-rc.d exiting 101 tells the package's scripts not to start its service (on its
    # default configuration); one left by the machine is kept as it is.
    ours = not POLICY_RC_D.exists()
    if ours:
        POLICY_RC_D.write_text(_NO_SERVICE_STARTS)
        POLICY_RC_D.chmod(0o755)
    try:
        environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", package]):
            subprocess.run(
                command,
                env=environment,
                check=True,
                timeout=INSTALL_TIMEOUT_SECONDS,
                stdout=subprocess.DEVNULL,
            )
    finally:
        if ours:
            POLICY_RC_D.unlink()


def render_configuration(
    listen_port: int, stats_port: int, servers: list[str], output: Path
) -> None:
    """The configuration, rendered by deploy/haproxy/render as a deployment renders it."""
    subprocess.run(
        [
            sys.executable,
            str(RENDER),
            "--listen-port",
            str(listen_port),
            "--stats-port",
            str(stats_port),
            "--output",
            str(output),
            *servers,
        ],
        check=True,
        timeout=30,
    )


class HAProxy:
    """haproxy in the foreground, on free loopback ports, with ``limits`` (BANK_EDGE_*
    variables) in its environment on top of the test process's own."""

    def __init__(self, servers: list[str], folder: Path, limits: Mapping[str, str]) -> None:
        self.port = free_port()
        self.stats_port = free_port()
        self.log = folder / "haproxy.log"
        self._configuration = folder / "haproxy.cfg"
        self._servers = servers
        self._limits = dict(limits)
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        binary = haproxy_binary()
        render_configuration(self.port, self.stats_port, self._servers, self._configuration)
        with self.log.open("ab") as output:
            self._process = subprocess.Popen(
                [binary, "-db", "-f", str(self._configuration)],
                env={**os.environ, **self._limits},
                stdout=output,
                stderr=output,
            )
        self._wait_until_serving()

    def stop(self) -> None:
        process = self._process
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def _wait_until_serving(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"haproxy exited at start:\n{self.log_text()[-4000:]}")
            with contextlib.suppress(httpx.TransportError, OSError):
                if httpx.get(f"{self.base_url}/health", timeout=1).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"haproxy did not serve /health:\n{self.log_text()[-4000:]}")


@contextlib.contextmanager
def running_haproxy(
    servers: list[str], folder: Path, limits: Mapping[str, str] | None = None
) -> Iterator[HAProxy]:
    proxy = HAProxy(servers, folder, limits or {})
    try:
        proxy.start()
        yield proxy
    finally:
        proxy.stop()


def raw_exchange(
    port: int, request: bytes, source: str = "127.0.0.1", timeout: float = 10
) -> bytes:
    """Sends ``request`` as it is on a fresh connection and reads until the peer closes it or
    ``timeout`` passes; what was read, even if the peer reset the connection (as a server that
    refuses a request before reading all of it may)."""
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout, (source, 0)) as connection:
        with contextlib.suppress(OSError):
            connection.sendall(request)
        with contextlib.suppress(OSError):
            while chunk := connection.recv(65536):
                received += chunk
    return received
