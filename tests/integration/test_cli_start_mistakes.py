"""Every mistake at start is one clear line on stderr and a non-zero exit, never a traceback;
a database that does not answer yet is waited for, for a bounded time, saying so."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.support.postgres import postgres_server_url, throwaway_database, with_database
from tests.support.server import free_port

TIMEOUT_SECONDS = 60


def _bank_api(
    *arguments: str, environment: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bank_web.cli", *arguments],
        env={**os.environ, "BANK_DATABASE_WAIT_SECONDS": "0", **(environment or {})},
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )


def _one_line_refusal(finished: subprocess.CompletedProcess[str]) -> str:
    assert finished.returncode != 0, finished
    assert "Traceback" not in finished.stderr
    lines = finished.stderr.strip().splitlines()
    assert len(lines) == 1, finished.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        (["serve", "--port", "99999"], "99999 is not a port (1 to 65535)"),
        (["serve", "--port", "0"], "0 is not a port"),
        (["serve", "--port", "http"], "'http' is not a port"),
        (["serve", "--workers", "0"], "0 workers: at least 1"),
        (["serve", "--workers", "-3"], "-3 workers: at least 1"),
        (["fly"], "invalid choice: 'fly'"),
        ([], "the following arguments are required: COMMAND"),
    ],
)
def test_a_wrong_argument_is_one_line(arguments: list[str], said: str) -> None:
    line = _one_line_refusal(_bank_api(*arguments))
    assert said in line
    assert "--help" in line


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("nonsense", "Not a database URL"),
        ("mysql://root@localhost/bank", "Unsupported database URL scheme 'mysql'"),
        ("postgresql://postgres@db:port/bank", "Not a database URL"),
        ("postgresql://postgres@h1:5432,,h3/bank", "a list of hosts has an empty one"),
        ("sqlite://", "A SQLite URL names a database file"),
        ("postgresql://postgres@db/bank?pooler=pgpool", "pooler='pgpool' is not one of: pgbouncer"),
        ("sqlite:///bank.db?pooler=pgbouncer", "pooler=pgbouncer is for PostgreSQL URLs only"),
    ],
)
@pytest.mark.parametrize("command", ["migrate", "serve"])
def test_a_malformed_database_url_is_one_line(url: str, said: str, command: str) -> None:
    port = str(free_port())
    extra = ["--port", port] if command == "serve" else []
    line = _one_line_refusal(_bank_api("--database-url", url, command, *extra))
    assert said in line


def test_an_unknown_log_level_is_one_line() -> None:
    finished = _bank_api(
        "--database-url", "memory://", "migrate", environment={"BANK_LOG_LEVEL": "loud"}
    )
    line = _one_line_refusal(finished)
    assert line.startswith("bank-api: BANK_LOG_LEVEL:")
    assert "trace" in line


def test_uvicorns_trace_level_is_known(tmp_path: Path) -> None:
    finished = _bank_api(
        "--database-url", "memory://", "migrate", environment={"BANK_LOG_LEVEL": "TRACE"}
    )
    assert finished.returncode == 0, finished.stderr


def test_the_version_and_the_url_after_the_command(tmp_path: Path) -> None:
    version = _bank_api("--version")
    assert version.returncode == 0
    assert version.stdout.startswith("bank-api ")
    database = tmp_path / "after.db"
    finished = _bank_api("migrate", "--database-url", f"sqlite:///{database}")
    assert finished.returncode == 0, finished.stderr
    assert database.is_file()
    listing = _bank_api("keys", "list", "--database-url", f"sqlite:///{database}")
    assert listing.returncode == 0, listing.stderr


def test_alembics_plugin_lines_are_hidden_at_info(tmp_path: Path) -> None:
    finished = _bank_api(
        "--database-url",
        f"sqlite:///{tmp_path / 'quiet.db'}",
        "migrate",
        environment={"BANK_LOG_LEVEL": "info"},
    )
    assert finished.returncode == 0, finished.stderr
    assert "setup plugin" not in finished.stderr
    assert "Running upgrade" in finished.stderr


def test_a_missing_database_is_refused_at_once() -> None:
    missing = with_database(postgres_server_url(), "no_such_database_here")
    started = time.monotonic()
    finished = _bank_api(
        "--database-url", missing, "migrate", environment={"BANK_DATABASE_WAIT_SECONDS": "30"}
    )
    assert time.monotonic() - started < 20, "it waited for a database that will never exist"
    line = _one_line_refusal(finished)
    assert 'database "no_such_database_here" does not exist' in line


def test_a_database_that_does_not_answer_is_waited_for_then_given_up() -> None:
    with _port_that_refuses() as port:
        silent = f"postgresql://postgres@127.0.0.1:{port}/test"
        started = time.monotonic()
        finished = _bank_api(
            "--database-url", silent, "migrate", environment={"BANK_DATABASE_WAIT_SECONDS": "3"}
        )
        waited = time.monotonic() - started
    assert finished.returncode != 0
    assert "Traceback" not in finished.stderr
    lines = finished.stderr.strip().splitlines()
    assert len(lines) == 2, finished.stderr
    assert "Connect call failed" in lines[0]
    assert lines[0].endswith("Waiting up to 3 s for it to answer.")
    assert lines[1].startswith("bank-api: gave up after 3 s: Cannot open the database")
    assert 3 <= waited < 20


@contextlib.contextmanager
def _port_that_refuses() -> Iterator[int]:
    """A port held bound but never listening: a connection to it is refused for as long as the
    block runs, whatever else runs on the machine (a port merely found free may be taken)."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        port: int = held.getsockname()[1]
        yield port


def test_libpqs_list_of_hosts_finds_the_one_that_answers() -> None:
    with (
        throwaway_database(postgres_server_url(), "bank_hosts") as url,
        _port_that_refuses() as refusing,
    ):
        parts = urlsplit(url)
        hosts = f"127.0.0.1:{refusing},{parts.hostname}:{parts.port}"
        listed = parts._replace(netloc=f"{parts.username}@{hosts}").geturl()
        finished = _bank_api(
            "--database-url", f"{listed}?target_session_attrs=read-write", "migrate"
        )
        assert finished.returncode == 0, finished.stderr
        assert "has the newest schema" in finished.stdout


@pytest.mark.parametrize(
    ("primary", "standby", "said"),
    [
        ("sqlite:///bank.db", "postgresql://u@h/bank", "a standby to read from is a PostgreSQL"),
        ("memory://", "postgresql://u@h/bank", "a standby to read from is a PostgreSQL"),
        ("postgresql://u@h/bank", "sqlite:///copy.db", "a standby to read from is a PostgreSQL"),
        ("postgresql://u@h/bank", "nonsense", "Not a database URL"),
    ],
)
def test_a_read_database_that_is_no_postgresql_standby_is_one_line(
    primary: str, standby: str, said: str
) -> None:
    finished = _bank_api(
        "serve",
        "--port",
        str(free_port()),
        environment={"BANK_DATABASE_URL": primary, "BANK_READ_DATABASE_URL": standby},
    )
    line = _one_line_refusal(finished)
    assert line.startswith("bank-api: BANK_READ_DATABASE_URL: "), line
    assert said in line


@pytest.mark.parametrize("url", ["memory://", "sqlite:///{folder}/bank.db"])
def test_a_runtime_role_without_postgresql_is_one_line(url: str, tmp_path: Path) -> None:
    finished = _bank_api(
        "--database-url", url.format(folder=tmp_path), "migrate", "--runtime-role", "bank_app"
    )
    line = _one_line_refusal(finished)
    assert "a runtime role is PostgreSQL's" in line, line
