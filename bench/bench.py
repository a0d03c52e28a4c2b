"""Postings per second through the API, against PostgreSQL's own ceiling for the same work.

For each repeat and worker count: serve the API on a throwaway database, load it with wrk
(bench/posting.lua) in each mix (spread, hot), stop it, then run the same postings with pgbench
(bench/posting.sql). Then check the ledger and print medians. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
BANK_API = ROOT / ".venv" / "bin" / "bank-api"
CONNECTIONS, THREADS = 32, 2
FIRST_SPREAD_ACCOUNT = 1_000_000_001
HOT_ACCOUNT = 9_000_000_000
OPENING_BALANCE = Decimal("1000000.00")
DURABILITY = ("synchronous_commit", "fsync", "full_page_writes", "wal_sync_method")
BUSY_WARNING = 0.25  # of all CPUs busy while the benchmark itself is idle
SOAK_ACCOUNTS = 1_000
SOAK_LATE_OVER_SECOND = 0.9
"""The soak passes when the mean rate of the last two rounds is at least this share of the
second round's (the first includes the server's start: its pool fills, its code warms up)."""
SOAK_RSS_GROWTH_MB = 60.0
"""... and when the server's memory grew by less than this from the first round to the last."""
COLUMNS = (  # title, key in the table's rows, format
    ("mix", "mix", "{}"),
    ("workers", "workers", "{}"),
    ("API postings/s", "api_postings_per_s", "{:.0f}"),
    ("p50 ms", "p50_ms", "{:.1f}"),
    ("p99 ms", "p99_ms", "{:.1f}"),
    ("pgbench postings/s", "pgbench_postings_per_s", "{:.0f}"),
    ("API / pgbench", "api_over_pgbench", "{:.2f}"),
    ("server CPU ms/posting", "server_cpu_ms_per_posting", "{:.1f}"),
)
LOG_PROBLEM = re.compile(r'^(ERROR|CRITICAL)\b|Traceback|" 5\d\d\b', re.MULTILINE)


@dataclass
class Load:
    """One wrk run, as posting.lua's done() reports it."""

    description: str
    sent: int
    status_2xx: int
    status_409: int
    status_other: int
    responses: int
    duration_us: int
    p50_us: int
    p99_us: int
    mean_us: int
    errors_connect: int
    errors_read: int
    errors_write: int
    errors_timeout: int
    server_cpu_s: float = 0.0
    """CPU time the server's processes used during this load."""
    postings_per_request: int = 1
    """1, or a batch's size (--batch): every count above is of requests."""

    @property
    def postings(self) -> int:
        """Postings stored by the 2xx answers."""
        return self.status_2xx * self.postings_per_request

    @property
    def postings_per_s(self) -> float:
        return self.postings / (self.duration_us / 1e6)

    @property
    def server_cpu_ms_per_posting(self) -> float:
        return 1000 * self.server_cpu_s / self.postings if self.postings else 0.0

    @property
    def unanswered(self) -> int:
        """Postings of the requests still in flight when wrk stopped: the server may have
        stored them (a batch all or none)."""
        return (self.sent - self.responses) * self.postings_per_request

    @property
    def socket_errors(self) -> int:
        return self.errors_connect + self.errors_read + self.errors_write + self.errors_timeout


@dataclass
class Pgbench:
    description: str
    processed: int
    failed: int
    tps: float
    latency_ms: float
    exit_code: int
    stored: int = 0
    """Rows this run stored, counted at the end (a withdrawal without funds stores none)."""

    @property
    def postings_per_s(self) -> float:
        return self.tps * self.stored / self.processed if self.processed else 0.0


@dataclass
class Phase:
    mix: str
    workers: int
    repeat: int
    busy_before: float
    """Share of the machine's CPU time busy during the rest before the API load."""
    warmup: Load | None
    api: Load
    pgbench: Pgbench
    server_log_problems: list[str] = field(default_factory=list)


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


class Postgres:
    def __init__(self, url: str) -> None:
        self.url = url

    def rows(self, sql: str) -> list[list[str]]:
        command = ["psql", "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1"]
        result = subprocess.run(
            [*command, "-d", self.url, "-c", sql], capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"psql failed: {result.stderr.strip()}\n{sql}")
        return [line.split("\t") for line in result.stdout.splitlines() if line]

    def value(self, sql: str) -> str:
        return self.rows(sql)[0][0]

    def settle(self, seconds: float) -> float:
        """Between phases: write dirty pages out now, not during the next phase, then rest.
        Returns the share of CPU time that was busy during the rest: the benchmark's own
        processes are idle then, so what is busy is other work that will compete."""
        self.rows("CHECKPOINT")
        before = _cpu_times()
        time.sleep(seconds)
        return _busy_share(before, _cpu_times())


def _cpu_times() -> tuple[int, int]:
    """(idle, total) jiffies of all CPUs, from /proc/stat; iowait counts as idle."""
    with open("/proc/stat") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    return fields[3] + fields[4], sum(fields)


def _busy_share(before: tuple[int, int], after: tuple[int, int]) -> float:
    idle, total = after[0] - before[0], after[1] - before[1]
    return 0.0 if total <= 0 else 1 - idle / total


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__)
    parser.add_argument("--duration", type=int, default=15, help="seconds per load (15)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per mix and workers (3)")
    parser.add_argument("--workers", help="server worker counts (1,2; --soak: 1)")
    parser.add_argument("--mixes", default="spread,hot", help="spread and/or hot")
    parser.add_argument("--accounts", type=int, help="spread accounts (10000; --soak: 1000)")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of unmeasured load (2)")
    parser.add_argument("--pause", type=float, default=2.0, help="seconds between phases (2)")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="where to CREATE DATABASE bench_<random> ($BENCH_POSTGRES_URL)",
    )
    parser.add_argument("--server-log-level", help="BANK_LOG_LEVEL for the server (its default)")
    parser.add_argument(
        "--client-ids",
        action="store_true",
        help="every posting brings its own transaction_id (an idempotency key)",
    )
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database")
    parser.add_argument(
        "--soak",
        action="store_true",
        help="consecutive loads on one long-lived server (spread, 1 worker, 1000 accounts),"
        " with client ids and without, each from a fresh database (see bench/README.md)",
    )
    parser.add_argument("--rounds", type=int, default=8, help="--soak: loads per server (8)")
    parser.add_argument(
        "--batch",
        type=int,
        help="every request is POST /v1/transactions/batch of this many postings (1-1000)"
        " instead of one POST /v1/transactions; rates are of postings",
    )
    arguments = parser.parse_args()
    if arguments.soak:
        if arguments.rounds < 4:
            parser.error("--soak needs at least 4 rounds (the second against the last two)")
        arguments.workers = arguments.workers or "1"
        arguments.accounts = arguments.accounts or SOAK_ACCOUNTS
        arguments.mixes = "spread"
    arguments.workers = [int(n) for n in (arguments.workers or "1,2").split(",")]
    arguments.accounts = arguments.accounts or 10_000
    if arguments.soak and len(arguments.workers) != 1:
        parser.error("--soak runs one server: give --workers one number")
    arguments.mixes = arguments.mixes.split(",")
    if arguments.batch is not None and not 1 <= arguments.batch <= 1000:
        parser.error("--batch takes 1 to 1000 postings a request")
    if not set(arguments.mixes) <= {"spread", "hot"}:
        parser.error("--mixes takes spread and/or hot")
    return arguments


def _with_database(url: str, name: str) -> str:
    return urlsplit(url)._replace(path=f"/{name}").geturl()


MASTER_KEY = os.environ.get("BANK_MASTER_KEY") or secrets.token_urlsafe(32)
"""The master key of the servers this starts (BANK_MASTER_KEY), sent by every request, wrk's
included."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _http(method: str, url: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {MASTER_KEY}"}
    request = urllib.request.Request(url, data, headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read(), parse_float=Decimal)
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


@contextmanager
def _server(url: str, workers: int, log: Path, level: str | None) -> Iterator[tuple[str, int]]:
    """`bank-api serve` (which migrates first) on a free port; stopped when the block ends."""
    port = _free_port()
    # No line per request: the access log would be a tenth of the server's work under load.
    environment = dict(
        os.environ,
        BANK_ACCESS_LOG="false",
        BANK_MASTER_KEY=MASTER_KEY,
        **({"BANK_LOG_LEVEL": level} if level else {}),
    )
    command = [str(BANK_API), "--database-url", url, "serve", "--port", str(port)]
    with log.open("a") as out:
        out.write(f"\n===== bank-api serve --port {port} --workers {workers} =====\n")
        out.flush()
        process = subprocess.Popen(
            [*command, "--workers", str(workers)],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env=environment,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _ready(base):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"bank-api serve did not get ready; see {log}")
            time.sleep(0.2)
        yield base, process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _stat_fields(stat: Path) -> list[str]:
    """The fields of a /proc/<pid>/stat after the process's name (which may hold spaces)."""
    return stat.read_text().rpartition(")")[2].split()


def _session_stats(session: int) -> Iterator[tuple[Path, list[str]]]:
    """/proc/<pid> and the fields of its stat after the name, for each live process of a
    session (the server and its workers)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = _stat_fields(stat)
        except OSError:
            continue
        if int(fields[3]) == session:
            yield stat.parent, fields


def _ticks(fields: list[str]) -> int:
    """User and system CPU ticks from a stat's fields (``_stat_fields``)."""
    return int(fields[11]) + int(fields[12])


def _cpu_seconds(session: int) -> float:
    """CPU time used so far by the live processes of a session (the server and its workers)."""
    ticks = sum(_ticks(fields) for _, fields in _session_stats(session))
    return ticks / os.sysconf("SC_CLK_TCK")


def pid_cpu_seconds(pid: int) -> float:
    """CPU time used so far by one process."""
    return _ticks(_stat_fields(Path(f"/proc/{pid}/stat"))) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds(counts: Callable[[str], bool]) -> float:
    """CPU time used so far by PostgreSQL's live processes whose command line (``postgres:
    ...``, its NULs as spaces) ``counts`` accepts."""
    ticks = 0
    for process in Path("/proc").glob("[0-9]*"):
        try:
            command = (process / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            if not (command.startswith("postgres: ") and counts(command)):
                continue
            fields = _stat_fields(process / "stat")
        except (OSError, UnicodeDecodeError):
            continue
        ticks += _ticks(fields)
    return ticks / os.sysconf("SC_CLK_TCK")


def _database_cpu_seconds(url: str) -> float:
    """CPU time used so far by PostgreSQL's live backends connected to the database of a URL
    (their command line reads `postgres: ... <user> <database> <client> <state>`)."""
    name = f" {urlsplit(url).path.lstrip('/')} "
    return postgres_cpu_seconds(lambda command: name in command)


def _rss_mb(session: int) -> float:
    """Resident memory of the live processes of a session, in MB (VmRSS, summed)."""
    kilobytes = 0
    for process, _ in _session_stats(session):
        try:
            status = (process / "status").read_text()
        except OSError:
            continue
        found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
        kilobytes += int(found.group(1)) if found else 0
    return kilobytes / 1024


def _ready(base: str) -> bool:
    try:
        return _http("GET", f"{base}/ready")[0] == 200
    except OSError:
        return False


def _check_durability(db: Postgres) -> dict[str, str]:
    settings = {name: db.value(f"SHOW {name}") for name in DURABILITY}
    print("PostgreSQL:", " ".join(f"{name}={value}" for name, value in settings.items()))
    if settings["synchronous_commit"] != "on" or settings["fsync"] != "on":
        raise SystemExit("synchronous_commit and fsync must be on: refusing to measure.")
    return settings


def _setup(db: Postgres, accounts: int, log: Path, level: str | None) -> None:
    """Spread accounts straight in SQL (the schema's rows: the account, its opening deposit and
    that deposit's journal entry); the hot account over HTTP; then the API reads one of each
    back."""
    started = time.monotonic()
    cents = int(OPENING_BALANCE * 100)
    last = FIRST_SPREAD_ACCOUNT + accounts - 1
    entry_hash_function = (BENCH / "journal_hash.sql").read_text()
    with _server(db.url, 1, log, level) as (base, _):
        db.rows(f"""
            INSERT INTO accounts (account_number, customer_name, account_type, status,
                balance_cents, created_at, updated_at, version)
            SELECT n::text, 'Bench customer ' || n, 'checking', 'active', {cents}, now(), now(), 1
            FROM generate_series({FIRST_SPREAD_ACCOUNT}, {last}) AS n;
            INSERT INTO transactions (transaction_id, account_number, amount_cents,
                transaction_type, description, status, "timestamp", updated_at,
                balance_after_cents)
            SELECT replace(gen_random_uuid()::text, '-', ''), account_number, balance_cents,
                'deposit', 'Initial deposit', 'success', created_at, created_at, balance_cents
            FROM accounts;
            {entry_hash_function}
            INSERT INTO journal_entries (account_number, entry_id, transaction_id, amount_cents,
                balance_after_cents, posted_at, hash)
            SELECT account_number, 1, transaction_id, amount_cents, amount_cents, "timestamp",
                bench_entry_hash(repeat('0', 64), 1, account_number, transaction_id,
                    amount_cents, amount_cents, "timestamp")
            FROM transactions;
            UPDATE accounts AS a SET journal_entry_id = 1, journal_hash = e.hash,
                journal_posted_at = e.posted_at
            FROM journal_entries AS e WHERE e.account_number = a.account_number;
            ANALYZE accounts;
            ANALYZE transactions;
            ANALYZE journal_entries""")
        hot = {
            "account_number": str(HOT_ACCOUNT),
            "customer_name": "Bench hot account",
            "account_type": "checking",
            "initial_deposit": str(OPENING_BALANCE),
        }
        status, created = _http("POST", f"{base}/v1/accounts", hot)
        if status != 201:
            raise RuntimeError(f"creating the hot account: {status} {created}")
        for number in (HOT_ACCOUNT, FIRST_SPREAD_ACCOUNT, last):
            status, account = _http("GET", f"{base}/v1/accounts/{number}")
            if status != 200 or account["balance"] != OPENING_BALANCE:
                raise RuntimeError(f"account {number} reads back as {status} {account}")
    print(f"setup: {accounts} + 1 accounts, {time.monotonic() - started:.1f} s")


def _wrk(
    base: str,
    seconds: int,
    accounts: tuple[int, int],
    description: str,
    id_prefix: str | None,
    batch: int | None = None,
) -> Load:
    """One load; with ``batch``, every request a batch of that many postings."""
    command = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency"]
    script = ["--timeout", "10s", "-s", str(BENCH / "posting.lua"), base, "--"]
    arguments = [str(accounts[0]), str(accounts[1]), description]
    if id_prefix is not None:
        arguments.append(id_prefix)
    environment = dict(os.environ, BANK_MASTER_KEY=MASTER_KEY)
    if batch is not None:
        environment["BENCH_BATCH_SIZE"] = str(batch)
    out = subprocess.run(
        [*command, *script, *arguments],
        capture_output=True,
        text=True,
        check=True,
        env=environment,
    )
    line = next(line for line in out.stdout.splitlines() if line.startswith("BENCH_RESULT "))
    values = dict(item.split("=", 1) for item in line.split()[1:])
    counts = {key: int(value) for key, value in values.items()}
    return Load(description, **counts, postings_per_request=batch or 1)


def _pgbench(
    url: str, seconds: int, accounts: tuple[int, int], run: int, description: str
) -> Pgbench:
    variables = [f"lo={accounts[0]}", f"hi={accounts[1]}", f"run={run}"]
    variables.append(f"description={description}")
    command = ["pgbench", "-n", "-M", "prepared", "-c", str(CONNECTIONS), "-j", str(THREADS)]
    command += ["-T", str(seconds), "-f", str(BENCH / "posting.sql"), url]
    for variable in variables:
        command += ["-D", variable]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        print(result.stdout, result.stderr, sep="\n", file=sys.stderr)

    def number(pattern: str) -> float:
        found = re.search(pattern, result.stdout)
        return float(found.group(1)) if found else 0.0

    return Pgbench(
        description,
        processed=int(number(r"actually processed: (\d+)")),
        failed=int(number(r"failed transactions: (\d+)")),
        tps=number(r"tps = ([\d.]+) \(without initial connection time\)"),
        latency_ms=number(r"latency average = ([\d.]+) ms"),
        exit_code=result.returncode,
    )


def _log_problems(log: Path, offset: int) -> list[str]:
    with log.open() as text:
        text.seek(offset)
        return [line for line in text.read().splitlines() if LOG_PROBLEM.search(line)]


def _block(
    db: Postgres, options: argparse.Namespace, log: Path, repeat: int, workers: int
) -> list[Phase]:
    """One server start: wrk on each mix; the server stops; then pgbench on each mix."""
    runs = {}
    offset = log.stat().st_size
    with _server(db.url, workers, log, options.server_log_level) as (base, session):
        for mix in options.mixes:
            tag = f"{mix}-w{workers}-r{repeat}"
            busy_before = db.settle(options.pause)
            warmup = None
            if options.warmup > 0:
                warmup = _wrk(
                    base,
                    options.warmup,
                    _accounts(mix, options),
                    f"api {tag} warm-up",
                    f"{tag}-warm-up" if options.client_ids else None,
                    options.batch,
                )
            cpu = _cpu_seconds(session)
            api = _wrk(
                base,
                options.duration,
                _accounts(mix, options),
                f"api {tag}",
                tag if options.client_ids else None,
                options.batch,
            )
            api.server_cpu_s = _cpu_seconds(session) - cpu
            runs[mix] = (busy_before, warmup, api)
    problems = _log_problems(log, offset)
    phases = []
    for mix in options.mixes:
        tag = f"{mix}-w{workers}-r{repeat}"
        db.settle(options.pause)
        run = 1000 * repeat + 10 * workers + options.mixes.index(mix)  # unique pgbench run
        pgbench = _pgbench(db.url, options.duration, _accounts(mix, options), run, f"pgb {tag}")
        phases.append(Phase(mix, workers, repeat, *runs[mix], pgbench, problems))
    return phases


def _accounts(mix: str, options: argparse.Namespace) -> tuple[int, int]:
    """The first and last account number a mix posts to."""
    if mix == "hot":
        return HOT_ACCOUNT, HOT_ACCOUNT
    return FIRST_SPREAD_ACCOUNT, FIRST_SPREAD_ACCOUNT + options.accounts - 1


def _count_stored(db: Postgres, pgbenches: list[Pgbench]) -> dict[str, int]:
    """Stored transactions per description, except opening deposits."""
    rows = db.rows(
        "SELECT coalesce(description, ''), count(*) FROM transactions"
        " WHERE description IS DISTINCT FROM 'Initial deposit' GROUP BY 1"
    )
    stored = {description: int(count) for description, count in rows}
    for pgbench in pgbenches:
        pgbench.stored = stored.get(pgbench.description, 0)
    return stored


def _checks(
    db: Postgres, loads: list[Load], pgbenches: list[Pgbench], problems: list[str]
) -> list[Check]:
    """The ledger's checks after the loads (and pgbench runs, if any) on one database."""
    accounts, wrong = db.rows("""
        SELECT count(*), count(*) FILTER (WHERE a.balance_cents <> coalesce(t.total, 0))
        FROM accounts AS a LEFT JOIN (
            SELECT account_number, sum(CASE transaction_type WHEN 'deposit' THEN amount_cents
                                                             ELSE -amount_cents END) AS total
            FROM transactions WHERE status = 'success' AND deleted_at IS NULL
            GROUP BY account_number
        ) AS t USING (account_number)""")[0]
    api_stored = int(
        db.value(
            "SELECT count(*) FROM transactions WHERE transaction_id NOT LIKE 'pgb%'"
            " AND description IS DISTINCT FROM 'Initial deposit'"
        )
    )
    stored = _count_stored(db, pgbenches)
    answered = sum(load.postings for load in loads)
    unanswered = sum(load.unanswered for load in loads)
    per_load = [
        f"{load.description}: {stored.get(load.description, 0)} stored, {load.postings} 2xx"
        for load in loads
        if not load.postings <= stored.get(load.description, 0) <= load.postings + load.unanswered
    ]
    without_event = int(
        db.value(
            "SELECT count(*) FROM transactions AS t WHERE NOT EXISTS (SELECT FROM events AS e"
            " WHERE e.transaction_id = t.transaction_id AND e.type = 'transaction.posted')"
            " AND t.description IS DISTINCT FROM 'Initial deposit'"
        )
    )
    without_entry = int(
        db.value(
            "SELECT count(*) FROM transactions AS t WHERE t.status = 'success'"
            " AND t.deleted_at IS NULL AND NOT EXISTS (SELECT FROM journal_entries AS e"
            " WHERE e.account_number = t.account_number AND e.transaction_id = t.transaction_id)"
        )
    )
    journals = _verify_journals(db)
    other = sum(load.status_other for load in loads)
    errors = sum(load.socket_errors for load in loads)
    pgbench_bad = [
        f"{p.description}: exit {p.exit_code}, {p.failed} failed, {p.stored}/{p.processed} stored"
        for p in pgbenches
        if p.exit_code or p.failed or not 0 < p.stored <= p.processed
    ]
    checks = [
        Check("balances", wrong == "0", f"{wrong} of {accounts} accounts differ from their sum"),
        Check(
            "API transactions stored = 2xx",
            not per_load and answered <= api_stored <= answered + unanswered,
            f"{api_stored} stored, {answered} 2xx counted by wrk, {unanswered} requests in"
            f" flight when wrk stopped (may or may not be stored)"
            + "".join(f"; {line}" for line in per_load),
        ),
        Check(
            "every posting has its event",
            without_event == 0,
            f"{without_event} stored transactions without their transaction.posted event",
        ),
        Check(
            "every posting has its journal entry",
            without_entry == 0,
            f"{without_entry} success transactions without a journal entry",
        ),
        Check("journals (bank-api verify)", journals.returncode == 0, journals.summary),
        Check(
            "statuses",
            other == 0 and errors == 0,
            f"{other} answers neither 2xx nor 409, {errors} socket errors/timeouts,"
            f" {sum(load.status_409 for load in loads)} 409s",
        ),
        Check(
            "server log",
            not problems,
            f"{len(problems)} error lines" + "".join(f"\n    {line}" for line in problems[:5]),
        ),
    ]
    if pgbenches:
        checks.append(
            Check("pgbench", not pgbench_bad, "; ".join(pgbench_bad) or "all runs complete")
        )
    return checks


@dataclass
class Verification:
    returncode: int
    summary: str


def _verify_journals(db: Postgres) -> Verification:
    """`bank-api verify`: every account's hash chain recomputed, and its balance held against
    the sum of its entries, the API's and pgbench's alike."""
    started = time.monotonic()
    result = subprocess.run(
        [str(BANK_API), "--database-url", db.url, "verify"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env=dict(os.environ, BANK_MASTER_KEY=MASTER_KEY),
    )
    # Its summary is stdout's last line; stderr may hold the database library's log lines.
    summary = result.stdout.strip().splitlines()
    trouble = (result.stdout + result.stderr).strip().splitlines()
    shown = summary[-1] if result.returncode == 0 and summary else "\n    ".join(trouble[-6:])
    took = time.monotonic() - started
    return Verification(result.returncode, f"exit {result.returncode} in {took:.0f} s: {shown}")


def _table(phases: list[Phase], options: argparse.Namespace) -> list[dict[str, Any]]:
    rows = []
    for mix in options.mixes:
        for workers in options.workers:
            runs = [p for p in phases if p.mix == mix and p.workers == workers]
            api = statistics.median(p.api.postings_per_s for p in runs)
            pgbench = statistics.median(p.pgbench.postings_per_s for p in runs)
            rows.append(
                {
                    "mix": mix,
                    "workers": workers,
                    "api_postings_per_s": round(api, 1),
                    "p50_ms": round(statistics.median(p.api.p50_us for p in runs) / 1000, 1),
                    "p99_ms": round(statistics.median(p.api.p99_us for p in runs) / 1000, 1),
                    "pgbench_postings_per_s": round(pgbench, 1),
                    "api_over_pgbench": round(api / pgbench, 3) if pgbench else None,
                    "server_cpu_ms_per_posting": round(
                        statistics.median(p.api.server_cpu_ms_per_posting for p in runs), 2
                    ),
                }
            )
    return rows


def _print_table(rows: list[dict[str, Any]], options: argparse.Namespace) -> None:
    batches = f", batches of {options.batch} postings" if options.batch else ""
    print(
        f"\nMedians of {options.repeat} run(s) of {options.duration} s, {CONNECTIONS}"
        f" connections{batches}:"
    )
    print("| " + " | ".join(title for title, _, _ in COLUMNS) + " |")
    print("| --- | --- |" + " ---: |" * (len(COLUMNS) - 2))
    for row in rows:
        cells = ("n/a" if row[key] is None else form.format(row[key]) for _, key, form in COLUMNS)
        print("| " + " | ".join(cells) + " |")


def _progress(phase: Phase, done: int, options: argparse.Namespace) -> None:
    total = options.repeat * len(options.workers) * len(options.mixes)
    api = phase.api
    print(
        f"[{done}/{total}] {phase.mix} workers={phase.workers} repeat={phase.repeat}:"
        f" API {api.postings_per_s:.0f}/s (p50 {api.p50_us / 1000:.1f} ms,"
        f" p99 {api.p99_us / 1000:.1f} ms, {api.status_409} 409, {api.status_other} other,"
        f" server CPU {api.server_cpu_ms_per_posting:.1f} ms/posting)"
        f" | pgbench {phase.pgbench.tps:.0f} tps | CPU busy before {phase.busy_before:.0%}",
        flush=True,
    )


# --- Soak: one long-lived server, consecutive loads ----------------------------------------


@dataclass
class Round:
    """One measured load of a soak, and the server and table after it."""

    number: int
    busy_before: float
    api: Load
    rss_mb: float
    """The server's resident memory after the load."""
    transactions: int = 0
    """Rows in the transactions table after the load (PostgreSQL's live-row count)."""
    seq_scanned: int = 0
    """Rows of transactions read by sequential scans during the load (pg_stat_user_tables): a
    look-up or lock that should use an index and scans the table instead shows here."""
    database_cpu_s: float = 0.0
    """CPU time of PostgreSQL's backends on the benchmark's database during the load."""

    @property
    def database_cpu_ms_per_posting(self) -> float:
        return 1000 * self.database_cpu_s / self.api.postings if self.api.postings else 0.0


@dataclass
class SoakPass:
    client_ids: bool
    autovacuum: str
    warmup: Load | None
    rounds: list[Round]
    checks: list[Check] = field(default_factory=list)

    @property
    def second(self) -> float:
        return self.rounds[1].api.postings_per_s

    @property
    def late(self) -> float:
        return statistics.mean(r.api.postings_per_s for r in self.rounds[-2:])

    @property
    def late_over_second(self) -> float:
        return self.late / self.second if self.second else 0.0

    def cpu_ms_per_posting(self, rounds: list[Round]) -> float:
        """Server and PostgreSQL CPU per posting over some rounds: the work a posting costs,
        which other work on the machine slows less than it slows the rate."""
        postings = sum(r.api.postings for r in rounds)
        cpu = sum(r.api.server_cpu_s + r.database_cpu_s for r in rounds)
        return 1000 * cpu / postings if postings else 0.0

    @property
    def rss_growth_mb(self) -> float:
        return self.rounds[-1].rss_mb - self.rounds[0].rss_mb

    @property
    def verdict(self) -> Check:
        ok = (
            self.late_over_second >= SOAK_LATE_OVER_SECOND
            and self.rss_growth_mb < SOAK_RSS_GROWTH_MB
        )
        return Check(
            f"soak {self.name}",
            ok,
            f"mean of the last two rounds {self.late:.0f}/s = {self.late_over_second:.2f} x the"
            f" second round's {self.second:.0f}/s (needs >= {SOAK_LATE_OVER_SECOND});"
            f" server RSS {self.rounds[0].rss_mb:.0f} -> {self.rounds[-1].rss_mb:.0f} MB from"
            f" the first round to the last, {self.rss_growth_mb:+.1f} MB"
            f" (needs < {SOAK_RSS_GROWTH_MB:.0f}); server + PostgreSQL CPU per posting"
            f" {self.cpu_ms_per_posting(self.rounds[1:2]):.2f} ms in the second round,"
            f" {self.cpu_ms_per_posting(self.rounds[-2:]):.2f} in the last two",
        )

    @property
    def name(self) -> str:
        return "with client ids" if self.client_ids else "without client ids"


def _transactions_stats(db: Postgres) -> tuple[int, int]:
    """(live rows, rows read by sequential scans so far) of the transactions table."""
    live, scanned = db.rows(
        "SELECT n_live_tup, coalesce(seq_tup_read, 0) FROM pg_stat_user_tables"
        " WHERE relname = 'transactions'"
    )[0]
    return int(live), int(scanned)


def _soak_pass(options: argparse.Namespace, log: Path, client_ids: bool) -> SoakPass:
    """A fresh database; one server; a warm-up, then consecutive loads on that same server."""
    kind = "ids" if client_ids else "no-ids"
    accounts = _accounts("spread", options)
    with _fresh_database(options, log) as db:
        _check_durability(db)
        autovacuum = db.value("SHOW autovacuum")
        _setup(db, options.accounts, log, options.server_log_level)
        offset = log.stat().st_size
        rounds: list[Round] = []
        with _server(db.url, options.workers[0], log, options.server_log_level) as (
            base,
            session,
        ):
            warmup = None
            if options.warmup > 0:
                warmup = _wrk(
                    base,
                    options.warmup,
                    accounts,
                    f"api soak-{kind} warm-up",
                    f"soak-{kind}-warm-up" if client_ids else None,
                    options.batch,
                )
            for number in range(1, options.rounds + 1):
                busy_before = db.settle(options.pause)
                _, scanned_before = _transactions_stats(db)
                cpu, database_cpu = _cpu_seconds(session), _database_cpu_seconds(db.url)
                tag = f"soak-{kind}-r{number}"
                api = _wrk(
                    base,
                    options.duration,
                    accounts,
                    f"api {tag}",
                    tag if client_ids else None,
                    options.batch,
                )
                api.server_cpu_s = _cpu_seconds(session) - cpu
                database_cpu = _database_cpu_seconds(db.url) - database_cpu
                time.sleep(1.5)  # idle sessions report their table statistics within a second
                live, scanned = _transactions_stats(db)
                done = Round(number, busy_before, api, _rss_mb(session), live)
                done.seq_scanned = scanned - scanned_before
                done.database_cpu_s = database_cpu
                rounds.append(done)
                print(
                    f"[{kind} {number}/{options.rounds}] {api.postings_per_s:.0f}/s (p50"
                    f" {api.p50_us / 1000:.1f} ms, p99 {api.p99_us / 1000:.1f} ms), server RSS"
                    f" {done.rss_mb:.0f} MB, {live} transactions, {done.seq_scanned} rows"
                    f" seq-scanned, server CPU {api.server_cpu_ms_per_posting:.2f} and PostgreSQL"
                    f" CPU {done.database_cpu_ms_per_posting:.2f} ms/posting"
                    f" | CPU busy before {busy_before:.0%}",
                    flush=True,
                )
        loads = [load for load in (warmup, *(r.api for r in rounds)) if load]
        checks = _checks(db, loads, [], _log_problems(log, offset))
    return SoakPass(client_ids, autovacuum, warmup, rounds, checks)


def _print_soak(soak: SoakPass, options: argparse.Namespace) -> None:
    print(
        f"\nSoak {soak.name}: {options.rounds} loads of {options.duration} s on one server"
        f" ({options.workers[0]} worker), {options.accounts} accounts, {CONNECTIONS}"
        f" connections, autovacuum {soak.autovacuum}:"
    )
    print(
        "| round | postings/s | p50 ms | p99 ms | server RSS MB | transactions"
        " | rows seq-scanned | server CPU ms/posting | PostgreSQL CPU ms/posting"
        " | CPU busy before |"
    )
    print("| ---: " * 10 + "|")
    for r in soak.rounds:
        print(
            f"| {r.number} | {r.api.postings_per_s:.0f} | {r.api.p50_us / 1000:.1f}"
            f" | {r.api.p99_us / 1000:.1f} | {r.rss_mb:.0f} | {r.transactions:,}"
            f" | {r.seq_scanned:,} | {r.api.server_cpu_ms_per_posting:.2f}"
            f" | {r.database_cpu_ms_per_posting:.2f} | {r.busy_before:.0%} |"
        )


def _print_checks(checks: list[Check], busiest: float) -> None:
    """Each check's verdict, and a warning when other work kept the CPU busy (``busiest``:
    the highest busy share seen while the benchmark rested before a load)."""
    for check in checks:
        print(f"check {'ok' if check.ok else 'FAILED'}: {check.name}: {check.detail}")
    if busiest > BUSY_WARNING:
        print(
            f"warning: up to {busiest:.0%} of the CPU was busy with other work while the"
            " benchmark rested before a load: the numbers are noisy"
        )


def _soak(options: argparse.Namespace, stamp: str, log: Path) -> int:
    started = {"at": stamp, "load_average": os.getloadavg()[0]}
    passes = [_soak_pass(options, log, True)]
    if not options.client_ids:
        passes.append(_soak_pass(options, log, False))
    checks = []
    for soak in passes:
        _print_soak(soak, options)
        checks += [
            Check(f"{check.name} ({soak.name})", check.ok, check.detail) for check in soak.checks
        ]
        checks.append(soak.verdict)
    print()
    _print_checks(checks, max(r.busy_before for soak in passes for r in soak.rounds))
    report = {
        "started": started,
        "finished_load_average": os.getloadavg()[0],
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "options": vars(options),
        "checks": [asdict(check) for check in checks],
        "passes": [
            asdict(soak)
            | {
                "late_over_second": soak.late_over_second,
                "rss_growth_mb": soak.rss_growth_mb,
                "postings_per_s": [r.api.postings_per_s for r in soak.rounds],
            }
            for soak in passes
        ],
        "server_log": str(log.relative_to(ROOT)),
    }
    output = RESULTS / f"{stamp}-soak.json"
    output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nresults: {output.relative_to(ROOT)}")
    return 0 if all(check.ok for check in checks) else 1


@contextmanager
def _fresh_database(options: argparse.Namespace, log: Path) -> Iterator[Postgres]:
    """`CREATE DATABASE bench_<random>`, dropped when the block ends (unless --keep-db)."""
    name = f"bench_{secrets.token_hex(4)}"
    admin = Postgres(options.postgres_url)
    admin.rows(f"CREATE DATABASE {name}")
    print(f"database {name}; server log {log.relative_to(ROOT)}")
    try:
        yield Postgres(_with_database(options.postgres_url, name))
    finally:
        if not options.keep_db:
            admin.rows(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def main() -> int:
    options = _arguments()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    RESULTS.mkdir(exist_ok=True)
    log = RESULTS / f"{stamp}-server.log"
    if options.soak:
        return _soak(options, stamp, log)
    started = {"at": stamp, "load_average": os.getloadavg()[0]}
    with _fresh_database(options, log) as db:
        settings = _check_durability(db)
        _setup(db, options.accounts, log, options.server_log_level)
        phases: list[Phase] = []
        problems: list[str] = []
        for repeat in range(1, options.repeat + 1):
            for workers in options.workers:
                block = _block(db, options, log, repeat, workers)
                problems += block[0].server_log_problems
                for phase in block:
                    phases.append(phase)
                    _progress(phase, len(phases), options)
        loads = [load for phase in phases for load in (phase.warmup, phase.api) if load]
        checks = _checks(db, loads, [phase.pgbench for phase in phases], problems)
        version = db.value("SHOW server_version")
    rows = _table(phases, options)
    _print_table(rows, options)
    print()
    _print_checks(checks, max(phase.busy_before for phase in phases))
    report = {
        "started": started,
        "finished_load_average": os.getloadavg()[0],
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "postgres": {"version": version, **settings},
        "options": vars(options),
        "table": rows,
        "checks": [asdict(check) for check in checks],
        "phases": [
            asdict(phase)
            | {"api_postings_per_s": phase.api.postings_per_s}
            | {"pgbench_postings_per_s": phase.pgbench.postings_per_s}
            for phase in phases
        ],
        "server_log": str(log.relative_to(ROOT)),
    }
    output = RESULTS / f"{stamp}.json"
    output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nresults: {output.relative_to(ROOT)}")
    return 0 if all(check.ok for check in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
