"""``bank-api``: serve the API, bring the database to the newest schema, manage API keys, or
verify every account's journal."""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import logging
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Iterator
from importlib import metadata

import uvicorn
from pydantic import ValidationError

from bank_adapters.stores import MEMORY_URL, check_standby_url, migrate
from bank_domain.errors import StorageNotAnswering, StorageUnavailable
from bank_web.command_parser import DATABASE_URL_HELP, CommandParser, port, worker_count
from bank_web.http_protocol import LimitedHttpToolsProtocol
from bank_web.key_commands import add_key_commands, run_key_command
from bank_web.request_ids import RequestIdFilter, json_log_formatter, server_log_config
from bank_web.settings import LOOPBACK_HOSTS, Settings
from bank_web.verify_command import add_verify_command, run_verify_command

logger = logging.getLogger("bank_web")

METRICS_FOLDER_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
"""bank_web.metrics' folder for every worker's counts. Named here rather than imported: the
first import of prometheus_client reads the variable once, and must come after it is set."""
UVICORN_TRACE = 5
"""uvicorn's ``trace`` level, below ``debug``."""


def _parser() -> argparse.ArgumentParser:
    parser = CommandParser(prog="bank-api", description=__doc__, is_command=False)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.add_argument("--database-url", default=argparse.SUPPRESS, help=DATABASE_URL_HELP)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser("serve", help="migrate the database, then serve the API")
    serve.add_argument("--host", default="127.0.0.1", help="the address to listen on")
    serve.add_argument("--port", type=port, default=8000, help="the port to listen on")
    serve.add_argument("--workers", type=worker_count, default=1, help="server processes")
    migrate_command = commands.add_parser(
        "migrate", help="bring the database to the newest schema, then exit"
    )
    migrate_command.add_argument(
        "--runtime-role",
        default=None,
        metavar="ROLE",
        help="PostgreSQL: then give this role exactly the privileges the service needs, in the "
        "migration's transaction (run as the migration role; see deploy/roles.sql); none: "
        "grant nothing",
    )
    add_key_commands(commands)
    add_verify_command(commands)
    return parser


def _version() -> str:
    try:
        return metadata.version("bank-ledger")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    if getattr(arguments, "database_url", None):
        # Server workers are fresh processes that read their settings from the environment.
        os.environ["BANK_DATABASE_URL"] = arguments.database_url
    try:
        settings = Settings()
    except ValidationError as error:
        print(f"bank-api: {_settings_problem(error)}", file=sys.stderr)
        return 2
    if settings.log_format == "json":
        handler = logging.StreamHandler()
        handler.setFormatter(json_log_formatter())
        handler.addFilter(RequestIdFilter())
        logging.basicConfig(level=_python_level(settings.log_level), handlers=[handler])
    else:
        logging.basicConfig(
            level=_python_level(settings.log_level), format="%(levelname)s %(message)s"
        )
    if settings.log_level == "info":
        # Alembic names each plugin it loads, on every start: noise unless debugging.
        logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    url = settings.database_url
    wait_seconds = settings.database_wait_seconds
    if arguments.command == "keys":
        if url.strip() == MEMORY_URL:
            print(
                "bank-api: memory:// keeps no key after this command; name a database.",
                file=sys.stderr,
            )
            return 2
        return run_key_command(arguments, url) if _migrated(url, wait_seconds) else 1
    if arguments.command == "verify":
        if settings.log_level == "info":
            # Checking the schema's revision configures Alembic, which then tells how it would
            # migrate: verify migrates nothing.
            logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)
        return run_verify_command(url)
    if arguments.command == "migrate":
        if not _migrated(url, wait_seconds, arguments.runtime_role):
            return 1
        print(f"The database at {_safe(url)} has the newest schema.")
        return 0
    if settings.read_database_url is not None:
        try:
            check_standby_url(url, settings.read_database_url)
        except ValueError as error:
            print(f"bank-api: BANK_READ_DATABASE_URL: {error}; refusing to start.", file=sys.stderr)
            return 2
    if url == MEMORY_URL and arguments.workers > 1:
        print("memory:// lives in one process: serve it with --workers 1.", file=sys.stderr)
        return 2
    if not settings.master_key:
        if not _is_loopback(arguments.host):
            print(
                f"bank-api: refusing to serve on {arguments.host} without BANK_MASTER_KEY: "
                "set it to a secret of at least 32 characters (a random key for the run is "
                "made only on a loopback address).",
                file=sys.stderr,
            )
            return 2
        # One key for the run, handed to every worker (fresh processes) through the
        # environment, and told once, here.
        master_key = secrets.token_urlsafe(32)
        os.environ["BANK_MASTER_KEY"] = master_key
        print(
            f"Master key for this run (send it as Authorization: Bearer <key>): {master_key}",
            file=sys.stderr,
            flush=True,
        )
    if not settings.cursor_secret:
        # One secret for the run, handed to every worker (fresh processes) through the
        # environment, so a cursor one worker made is read by the others.
        os.environ["BANK_CURSOR_SECRET"] = secrets.token_urlsafe(32)
    if not _is_loopback(arguments.host) and settings.allowed_hosts == list(LOOPBACK_HOSTS):
        logger.warning(
            "Serving on %s, but BANK_ALLOWED_HOSTS allows only the loopback names: a request "
            "that names this server otherwise in its Host header is refused (400 "
            "host_not_allowed). Set BANK_ALLOWED_HOSTS to the names clients use.",
            arguments.host,
        )
    if not _migrated(url, wait_seconds):
        return 1
    with _metrics_folder():
        _serve(arguments, settings)
    return 0


@contextlib.contextmanager
def _metrics_folder() -> Iterator[None]:
    """A fresh folder where every worker writes its metrics (bank_web.metrics), removed when the
    server stops; one named in PROMETHEUS_MULTIPROC_DIR already is used as it is."""
    if METRICS_FOLDER_VARIABLE in os.environ:
        yield
        return
    with tempfile.TemporaryDirectory(prefix="bank-metrics-") as folder:
        os.environ[METRICS_FOLDER_VARIABLE] = folder
        try:
            yield
        finally:
            del os.environ[METRICS_FOLDER_VARIABLE]


def _serve(arguments: argparse.Namespace, settings: Settings) -> None:
    uvicorn.run(
        "bank_web.app:create_app_from_environment",
        factory=True,
        host=arguments.host,
        port=arguments.port,
        workers=arguments.workers,
        log_level=settings.log_level,
        log_config=server_log_config(settings.log_level, settings.log_format),
        # The JSON access line is the service's own (bank_web.access_log).
        access_log=settings.access_log and settings.log_format == "text",
        proxy_headers=False,
        server_header=False,
        # uvicorn's httptools protocol with a deadline and caps on each request's head, which
        # uvicorn itself lacks (bank_web.http_protocol).
        http=LimitedHttpToolsProtocol,
        limit_concurrency=settings.concurrency_limit,
        timeout_keep_alive=settings.keep_alive_seconds,
        backlog=settings.backlog,
    )


def _python_level(level: str) -> int:
    """uvicorn's level names as the logging module's numbers (``trace`` is uvicorn's own)."""
    return UVICORN_TRACE if level == "trace" else logging.getLevelNamesMapping()[level.upper()]


def _settings_problem(error: ValidationError) -> str:
    """The first invalid setting, by its environment variable, without its value (which may be
    a secret)."""
    first = error.errors()[0]
    name = "BANK_" + "_".join(str(part) for part in first["loc"]).upper()
    if name == "BANK_MASTER_KEY":
        return "BANK_MASTER_KEY is at least 32 characters; refusing to start."
    return f"{name}: {first['msg']}; refusing to start."


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host.lower() == "localhost"


def _migrated(url: str, wait_seconds: float, runtime_role: str | None = None) -> bool:
    """Migrates; a database that cannot be opened is told in one line, without a traceback.
    One that does not answer yet (refused, still starting) is tried again, once a second, for
    up to ``wait_seconds`` from the first refusal, as a service started beside its database
    needs."""
    deadline: float | None = None
    while True:
        try:
            migrate(url, runtime_role)
        except StorageNotAnswering as error:
            if deadline is None:
                deadline = time.monotonic() + wait_seconds
                if wait_seconds > 0:
                    print(
                        f"bank-api: {error} Waiting up to {wait_seconds:g} s for it to answer.",
                        file=sys.stderr,
                        flush=True,
                    )
            left = deadline - time.monotonic()
            if left <= 0:
                gave_up = f"gave up after {wait_seconds:g} s: " if wait_seconds > 0 else ""
                print(f"bank-api: {gave_up}{error}", file=sys.stderr)
                return False
            time.sleep(min(1.0, left))
        except StorageUnavailable as error:
            print(f"bank-api: {error}", file=sys.stderr)
            return False
        else:
            return True


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    scheme, sep, rest = url.partition("://")
    credentials, at, location = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    return f"{scheme}{sep}{credentials.split(':', 1)[0]}:***@{location}"


if __name__ == "__main__":
    sys.exit(main())
