"""How postings/s grows with API processes, straight to PostgreSQL and through PgBouncer.

One throwaway database (bench.py's setup: 10,000 spread accounts), one private PgBouncer in
transaction mode in front of the same server (tests/support/pgbouncer.py), then for each repeat
and each worker count: `bank-api serve --workers N` straight to the database, and again through
PgBouncer (which of the two goes first alternates by repeat), each loaded by wrk on the spread
mix. During each load it reads, from /proc and pg_stat_wal: the API's CPU, the CPU of the
database's backends and of the server's WAL writer, checkpointer and background writer, of
PgBouncer, the machine's busy share, and the WAL bytes and flushes (pg_stat_wal counts the whole
server, other databases' work included: the server is shared). Medians per (N, way),
the ledger's checks, and bench/results/<timestamp>-scaling.json. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bench as b

sys.path.insert(0, str(b.ROOT))
from tests.support.pgbouncer import PgBouncer, running_pgbouncer

AUX = ("walwriter", "checkpointer", "background writer")
WAL_COLUMNS = ("wal_records", "wal_bytes", "wal_write", "wal_sync")


@dataclass
class Sample:
    """One measured load."""

    way: str
    workers: int
    repeat: int
    postings_per_s: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    """Answers neither 2xx nor 409 (a withdrawal beyond the balance, rare on 1,000,000.00)."""
    socket_errors: int
    api_cpu_ms_per_posting: float
    database_backends_cpu_ms_per_posting: float
    postgres_cpu_cores: float
    """CPU seconds per second of the database's backends and the server's WAL writer,
    checkpointer and background writer (2.0 would be both cores)."""
    pgbouncer_cpu_ms_per_posting: float
    machine_busy: float
    wal_syncs_per_s: float
    postings_per_wal_sync: float
    wal_kb_per_posting: float
    server_connections: int
    """The database's backends the API had (through PgBouncer, its pool's) after the load."""


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per load (10)")
    parser.add_argument("--repeat", type=int, default=2, help="runs per (workers, way) (2)")
    parser.add_argument("--workers", default="1,2,3,4", help="server worker counts (1,2,3,4)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (32)")
    parser.add_argument("--pool-size", type=int, default=8, help="PgBouncer's pool (8)")
    parser.add_argument("--accounts", type=int, default=10_000, help="spread accounts (10000)")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of unmeasured load (2)")
    parser.add_argument("--pause", type=float, default=2.0, help="seconds between loads (2)")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="a server where the benchmark may create a database",
    )
    options = parser.parse_args()
    options.workers = [int(n) for n in options.workers.split(",")]
    return options


def _server_processes_cpu_seconds() -> float:
    """CPU time used so far by the server's own long-lived processes (the WAL writer, the
    checkpointer, the background writer): with the database's backends, what PostgreSQL spends
    on the load. (Other databases' backends are left out: they come and go with the other
    users of the shared server, and a process that exits takes its count with it.)"""
    return b.postgres_cpu_seconds(lambda command: command.rstrip().endswith(AUX))


def _wal(db: b.Postgres) -> dict[str, float]:
    row = db.rows(f"SELECT {', '.join(WAL_COLUMNS)} FROM pg_stat_wal")[0]
    return dict(zip(WAL_COLUMNS, map(float, row), strict=True))


def _readings(db: b.Postgres, session: int, bouncer: PgBouncer) -> tuple[Any, ...]:
    """What a load is measured by, read before it and after: the CPU seconds of the API, the
    database's backends, the server's own processes and PgBouncer; the machine's CPU times;
    the server's WAL counters."""
    return (
        b._cpu_seconds(session),
        b._database_cpu_seconds(db.url),
        _server_processes_cpu_seconds(),
        b.pid_cpu_seconds(bouncer.pid),
        b._cpu_times(),
        _wal(db),
    )


def _connections(db: b.Postgres, bouncer: b.Postgres, way: str) -> int:
    """The database's backends that serve the API: PgBouncer's server connections to it
    (``SHOW SERVERS`` on its admin console) through PgBouncer; straight, the database's
    ``bank-ledger`` backends but those (PgBouncer keeps its idle ones open between loads)."""
    name = db.url.rsplit("/", 1)[1]
    rows = bouncer.rows("SHOW SERVERS")
    pooled = sum(1 for row in rows if name in row)
    if way == "pgbouncer":
        return pooled
    backends = int(
        db.value(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = 'bank-ledger'"
        )
    )
    return backends - pooled


def _load(
    db: b.Postgres,
    url: str,
    way: str,
    workers: int,
    repeat: int,
    options: argparse.Namespace,
    log: Path,
    bouncer: PgBouncer,
) -> list[b.Load]:
    """The warm-up's load and the measured one (both store postings the checks count)."""
    spread = (b.FIRST_SPREAD_ACCOUNT, b.FIRST_SPREAD_ACCOUNT + options.accounts - 1)
    tag = f"{way}-w{workers}-r{repeat}"
    with b._server(url, workers, log, None) as (base, session):
        db.settle(options.pause)
        warmups = []
        if options.warmup > 0:
            warmups.append(b._wrk(base, options.warmup, spread, f"scaling {tag} warm-up", None))
        before = _readings(db, session, bouncer)
        load = b._wrk(base, options.duration, spread, f"scaling {tag}", None)
        after = _readings(db, session, bouncer)
        admin = b.Postgres(f"postgresql://postgres@127.0.0.1:{bouncer.port}/pgbouncer")
        connections = _connections(db, admin, way)
    seconds = load.duration_us / 1e6
    postings = max(load.postings, 1)
    wal = {name: after[5][name] - before[5][name] for name in WAL_COLUMNS}
    sample = Sample(
        way=way,
        workers=workers,
        repeat=repeat,
        postings_per_s=load.postings_per_s,
        p50_ms=load.p50_us / 1000,
        p99_ms=load.p99_us / 1000,
        non_2xx=load.status_other,
        socket_errors=load.socket_errors,
        api_cpu_ms_per_posting=1000 * (after[0] - before[0]) / postings,
        database_backends_cpu_ms_per_posting=1000 * (after[1] - before[1]) / postings,
        postgres_cpu_cores=(after[1] - before[1] + after[2] - before[2]) / seconds,
        pgbouncer_cpu_ms_per_posting=1000 * (after[3] - before[3]) / postings,
        machine_busy=b._busy_share(before[4], after[4]),
        wal_syncs_per_s=wal["wal_sync"] / seconds,
        postings_per_wal_sync=postings / max(wal["wal_sync"], 1),
        wal_kb_per_posting=wal["wal_bytes"] / 1024 / postings,
        server_connections=connections,
    )
    _SAMPLES.append(sample)
    print(
        f"  {tag}: {sample.postings_per_s:,.0f} postings/s, p99 {sample.p99_ms:.1f} ms,"
        f" API {sample.api_cpu_ms_per_posting:.2f} + backends"
        f" {sample.database_backends_cpu_ms_per_posting:.2f} + pgbouncer"
        f" {sample.pgbouncer_cpu_ms_per_posting:.2f} ms CPU/posting, PostgreSQL"
        f" {sample.postgres_cpu_cores:.2f} cores, machine {sample.machine_busy:.0%} busy,"
        f" {sample.wal_syncs_per_s:,.0f} WAL flushes/s ({sample.postings_per_wal_sync:.1f}"
        f" postings each), {sample.server_connections} server connections",
        flush=True,
    )
    return [*warmups, load]


_SAMPLES: list[Sample] = []


def _table(options: argparse.Namespace) -> list[dict[str, Any]]:
    rows = []
    for workers in options.workers:
        for way in ("direct", "pgbouncer"):
            runs = [s for s in _SAMPLES if s.workers == workers and s.way == way]
            if not runs:
                continue
            row: dict[str, Any] = {"workers": workers, "way": way}
            for name in asdict(runs[0]):
                if name not in ("way", "workers", "repeat"):
                    row[name] = statistics.median(getattr(s, name) for s in runs)
            rows.append(row)
    return rows


def _print_table(rows: list[dict[str, Any]]) -> None:
    columns = (
        ("workers", "workers", "{}"),
        ("way", "way", "{}"),
        ("postings/s", "postings_per_s", "{:,.0f}"),
        ("p99 ms", "p99_ms", "{:.1f}"),
        ("API CPU ms/posting", "api_cpu_ms_per_posting", "{:.2f}"),
        ("backends CPU ms/posting", "database_backends_cpu_ms_per_posting", "{:.2f}"),
        ("pgbouncer CPU ms/posting", "pgbouncer_cpu_ms_per_posting", "{:.3f}"),
        ("PostgreSQL cores", "postgres_cpu_cores", "{:.2f}"),
        ("machine busy", "machine_busy", "{:.0%}"),
        ("WAL flushes/s", "wal_syncs_per_s", "{:,.0f}"),
        ("postings/flush", "postings_per_wal_sync", "{:.1f}"),
        ("WAL KB/posting", "wal_kb_per_posting", "{:.2f}"),
        ("server connections", "server_connections", "{:.0f}"),
    )
    print("\n| " + " | ".join(title for title, _, _ in columns) + " |")
    print("| " + " | ".join("---" for _ in columns) + " |")
    for row in rows:
        print("| " + " | ".join(form.format(row[key]) for _, key, form in columns) + " |")


def main() -> int:
    options = _arguments()
    b.CONNECTIONS = options.connections
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    b.RESULTS.mkdir(exist_ok=True)
    log = b.RESULTS / f"{stamp}-scaling-server.log"
    log.touch()
    with b._fresh_database(options, log) as db:
        settings = b._check_durability(db)
        b._setup(db, options.accounts, log, None)
        loads = []
        with running_pgbouncer(options.postgres_url, pool_size=options.pool_size) as bouncer:
            ways = {"direct": db.url, "pgbouncer": bouncer.url_for(db.url)}
            for repeat in range(options.repeat):
                for workers in options.workers:
                    order = list(ways) if (repeat + workers) % 2 == 0 else list(reversed(ways))
                    for way in order:
                        loads += _load(db, ways[way], way, workers, repeat, options, log, bouncer)
        checks = b._checks(db, loads, [], b._log_problems(log, 0))
    rows = _table(options)
    _print_table(rows)
    for check in checks:
        print(f"{'ok  ' if check.ok else 'FAIL'} {check.name}: {check.detail}")
    output = b.RESULTS / f"{stamp}-scaling.json"
    report = {
        "started": stamp,
        "options": {k: v for k, v in vars(options).items() if k != "postgres_url"},
        "cpus": os.cpu_count(),
        "postgres_settings": settings,
        "rows": rows,
        "samples": [asdict(s) for s in _SAMPLES],
        "checks": [asdict(c) for c in checks],
        "server_log": str(log.relative_to(b.ROOT)),
    }
    output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nresults: {output.relative_to(b.ROOT)}")
    return 0 if all(check.ok for check in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
