"""deploy/local-cluster driven from a test: the cluster the script builds, and its state."""

from __future__ import annotations

import json
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

SCRIPT: Final = Path(__file__).resolve().parents[3] / "deploy" / "local-cluster"
UP_TIMEOUT_SECONDS: Final = 900.0
"""``up`` installs the Debian packages it misses on a fresh machine (apt-get), then starts."""
COMMAND_TIMEOUT_SECONDS: Final = 120.0
BASE_PORTS: Final = range(20000, 30000, 100)
PORT_SPAN: Final = 48
"""The ports a cluster takes from its base: deploy/local-cluster's --base-port help."""


@dataclass(frozen=True, slots=True)
class Member:
    """One PostgreSQL node as Patroni sees it (its ``GET /cluster``)."""

    name: str
    role: str
    """``leader``, ``sync_standby`` or ``replica``."""
    state: str
    timeline: int | None


@dataclass(frozen=True, slots=True)
class ClusterStatus:
    folder: Path
    api_url: str
    members: dict[str, Member]
    patroni_running: dict[str, bool]
    postmaster_pids: dict[str, int | None]
    api_pids: list[int]
    api_running: list[bool]

    @property
    def leader(self) -> str | None:
        leaders = [m.name for m in self.members.values() if m.role == "leader"]
        return leaders[0] if leaders else None

    def wal_sender_pid(self, node: str) -> int:
        """The pid of the node's WAL sender (a child of its postmaster): the primary's process
        that streams its WAL to the standby."""
        postmaster = self.postmaster_pids[node]
        assert postmaster is not None, f"{node} has no postmaster"
        for process in Path("/proc").iterdir():
            if not process.name.isdigit():
                continue
            try:
                parent = int((process / "stat").read_text().rsplit(")", 1)[1].split()[1])
                command = (process / "cmdline").read_bytes()
            except (OSError, ValueError, IndexError):
                continue
            if parent == postmaster and b"walsender" in command:
                return int(process.name)
        raise AssertionError(f"{node} runs no WAL sender")


def free_base_port() -> int:
    """A base port whose whole range is free and on which no cluster is recorded, away from
    the script's default (15400), so that a cluster started by hand, or another test run's,
    keeps running."""
    for base in random.sample(BASE_PORTS, len(BASE_PORTS)):
        recorded = Path(tempfile.gettempdir()) / f"bank-local-cluster-{base}"
        if not recorded.exists() and all(_free(port) for port in range(base, base + PORT_SPAN)):
            return base
    raise AssertionError("no free range of ports for a cluster")


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class LocalCluster:
    """The script's commands on one base port."""

    def __init__(self, base_port: int) -> None:
        self.base_port = base_port

    def run(self, *arguments: str, timeout: float = COMMAND_TIMEOUT_SECONDS) -> str:
        """Runs a command of the script; its stdout. Fails the test with its output otherwise."""
        done = subprocess.run(
            [sys.executable, str(SCRIPT), *arguments, "--base-port", str(self.base_port)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert done.returncode == 0, (
            f"deploy/local-cluster {' '.join(arguments)} exited {done.returncode}:\n"
            f"{done.stdout}\n{done.stderr}"
        )
        return done.stdout

    def up(self, *options: str) -> str:
        return self.run("up", *options, timeout=UP_TIMEOUT_SECONDS)

    def down(self) -> None:
        subprocess.run(
            [sys.executable, str(SCRIPT), "down", "--base-port", str(self.base_port)],
            capture_output=True,
            timeout=COMMAND_TIMEOUT_SECONDS,
            check=False,
        )

    def status(self) -> ClusterStatus:
        facts: dict[str, Any] = json.loads(self.run("status", "--json"))
        return ClusterStatus(
            folder=Path(facts["folder"]),
            api_url=facts["api_url"],
            members={
                m["name"]: Member(m["name"], m["role"], m["state"], m.get("timeline"))
                for m in facts["members"]
            },
            patroni_running={node: f["running"] for node, f in facts["patroni"].items()},
            postmaster_pids={node: f["postmaster_pid"] for node, f in facts["patroni"].items()},
            api_pids=[p["pid"] for p in facts["api_processes"]],
            api_running=[p["running"] for p in facts["api_processes"]],
        )

    def wait_for(
        self, what: str, check: Callable[[ClusterStatus], bool], timeout: float
    ) -> ClusterStatus:
        deadline = time.monotonic() + timeout
        while True:
            status = self.status()
            if check(status):
                return status
            assert time.monotonic() < deadline, f"no {what} within {timeout:g} s: {status}"
            time.sleep(0.5)
