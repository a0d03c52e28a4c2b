"""An account with a million journal entries on PostgreSQL: how long its entries, balance at a
time, statement and verification take through the API, and what the server's memory does while
the statement's CSV streams every line (issue 9: time must not grow with the history before the
range; memory must not grow with the number of lines).

`bench/run history` (see bench/README.md): a throwaway database, the server (1 worker) on it, one
account opened over HTTP, then its history written straight in SQL (COPY) as the schema stores
it: N success transactions over a year and their N chained journal entries, the hashes made by
`bank_domain.journal` itself, the account's row at the end of that journal. `bank-api verify`
then says whether the history holds together, and every measurement reads it back over HTTP.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import bench as harness  # bench/bench.py: the database, the server and the HTTP helpers

from bank_domain import AccountNumber, Money, TransactionId
from bank_domain.journal import EMPTY_CHAIN, JournalEntry, posted_at_text

ACCOUNT = "5000000000"
SPAN = timedelta(days=365)
SAMPLE_EVERY_S = 0.02


@dataclass
class Measurement:
    name: str
    status: int
    headers_ms: float
    """Until the status line and headers arrived."""
    first_line_ms: float
    """Until the first line of the body after the CSV header (JSON: the whole body)."""
    total_ms: float
    body_bytes: int
    lines: int
    server_rss_mb_before: float
    server_rss_mb_peak: float


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/run history", description=__doc__)
    parser.add_argument("--entries", type=int, default=1_000_000, help="entries (1,000,000)")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="where to CREATE DATABASE bench_<random> ($BENCH_POSTGRES_URL)",
    )
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database")
    return parser.parse_args()


def _history(entries: int, end: datetime) -> Iterator[JournalEntry]:
    """``entries`` chained entries over the year before ``end``: deposits and withdrawals of
    0.01 to 100.00 (a withdrawal only when the balance covers it), at uneven moments, some with
    a fraction of a second and some without (the hashed text differs)."""
    shuffle = random.Random(9)
    step = SPAN / entries
    number = AccountNumber(ACCOUNT)
    head, balance = EMPTY_CHAIN, Money.zero()
    moment = end - SPAN
    for index in range(entries):
        cents = shuffle.randint(1, 10_000)
        withdraw = shuffle.random() < 0.45 and balance.amount * 100 >= cents
        amount = Money(Decimal(-cents if withdraw else cents) / 100)
        moment += step
        posted = moment.replace(microsecond=0) if index % 3 == 0 else moment
        entry = JournalEntry.next(
            head,
            balance,
            account_number=number,
            transaction_id=TransactionId(f"history-{index:09d}"),
            amount=amount,
            now=posted,
        )
        head, balance = entry.head, entry.balance_after
        yield entry


def _cents(money: Money) -> int:
    return int(money.amount * 100)


def _load(db: harness.Postgres, entries: int, end: datetime) -> JournalEntry:
    """The account's history in SQL with COPY; its row then ends where the history ends."""
    started = time.monotonic()
    last: JournalEntry | None = None
    with tempfile.TemporaryDirectory() as folder:
        transactions_file = Path(folder) / "transactions.csv"
        entries_file = Path(folder) / "entries.csv"
        with (
            transactions_file.open("w", newline="") as t_out,
            entries_file.open("w", newline="") as e_out,
        ):
            transactions, journal = csv.writer(t_out), csv.writer(e_out)
            for entry in _history(entries, end):
                moment = entry.posted_at.isoformat()
                amount, after = _cents(entry.amount), _cents(entry.balance_after)
                kind = "withdrawal" if amount < 0 else "deposit"
                transactions.writerow(
                    [
                        entry.transaction_id,
                        ACCOUNT,
                        abs(amount),
                        kind,
                        "success",
                        moment,
                        moment,
                        after,
                    ]
                )
                journal.writerow(
                    [
                        ACCOUNT,
                        entry.entry_id,
                        entry.transaction_id,
                        amount,
                        after,
                        moment,
                        entry.hash,
                    ]
                )
                last = entry
        generated = time.monotonic() - started
        assert last is not None
        db.rows(
            f"\\copy transactions (transaction_id, account_number, amount_cents,"
            f' transaction_type, status, "timestamp", updated_at, balance_after_cents)'
            f" FROM '{transactions_file}' WITH (FORMAT csv)"
        )
        db.rows(
            f"\\copy journal_entries (account_number, entry_id, transaction_id, amount_cents,"
            f" balance_after_cents, posted_at, hash) FROM '{entries_file}' WITH (FORMAT csv)"
        )
    db.rows(
        f"UPDATE accounts SET balance_cents = {_cents(last.balance_after)},"
        f" version = version + {entries}, journal_entry_id = {last.entry_id},"
        f" journal_hash = '{last.hash}', journal_posted_at = '{last.posted_at.isoformat()}'"
        f" WHERE account_number = '{ACCOUNT}'"
    )
    db.rows("VACUUM ANALYZE transactions")
    db.rows("VACUUM ANALYZE journal_entries")
    print(
        f"history: {entries:,} entries generated in {generated:.0f} s,"
        f" stored in {time.monotonic() - started - generated:.0f} s more"
    )
    return last


@contextmanager
def _peak_rss(session: int) -> Iterator[list[float]]:
    """Samples the server's resident memory while the block runs: [before, peak]."""
    sample = [harness._rss_mb(session)] * 2
    done = threading.Event()

    def watch() -> None:
        while not done.wait(SAMPLE_EVERY_S):
            sample[1] = max(sample[1], harness._rss_mb(session))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield sample
    finally:
        done.set()
        watcher.join()


def _get(
    base: str, session: int, name: str, path: str, query: dict[str, str], accept: str
) -> Measurement:
    url = f"{base}{path}?{urlencode(query)}" if query else f"{base}{path}"
    headers = {"Authorization": f"Bearer {harness.MASTER_KEY}", "Accept": accept}
    request = urllib.request.Request(url, headers=headers)
    with _peak_rss(session) as rss:
        started = time.monotonic()
        with urllib.request.urlopen(request, timeout=600) as response:
            headers_at = time.monotonic()
            status = response.status
            if accept == "text/csv":
                response.readline()  # the header line
                first = response.readline()
                first_at = time.monotonic()
                size, lines = len(first), 1 if first else 0
                for line in response:
                    size += len(line)
                    lines += 1
            else:
                body = response.read()
                first_at = time.monotonic()
                size, lines = len(body), 0
        ended = time.monotonic()
    return Measurement(
        name,
        status,
        round(1000 * (headers_at - started), 1),
        round(1000 * (first_at - started), 1),
        round(1000 * (ended - started), 1),
        size,
        lines,
        round(rss[0], 1),
        round(rss[1], 1),
    )


def _measure(base: str, session: int, end: datetime) -> list[Measurement]:
    start = end - SPAN
    last_day = end - timedelta(days=1)
    middle = start + SPAN / 2
    account = f"/v1/accounts/{ACCOUNT}"

    def stamp(moment: datetime) -> str:
        return posted_at_text(moment)

    json_type, csv_type = "application/json", "text/csv"
    plan: list[tuple[str, str, dict[str, str], str]] = [
        ("entries: first page (50)", f"{account}/entries", {}, json_type),
        (
            "entries: last day, first page",
            f"{account}/entries",
            {"since": stamp(last_day)},
            json_type,
        ),
        (
            "balance at the middle of the year",
            f"{account}/balance",
            {"at": stamp(middle)},
            json_type,
        ),
        ("balance now", f"{account}/balance", {}, json_type),
        (
            "statement JSON: last day",
            f"{account}/statement",
            {"from": stamp(last_day), "to": stamp(end)},
            json_type,
        ),
        (
            "statement JSON: the whole year",
            f"{account}/statement",
            {"from": stamp(start), "to": stamp(end)},
            json_type,
        ),
        (
            "statement CSV: last day",
            f"{account}/statement",
            {"from": stamp(last_day), "to": stamp(end)},
            csv_type,
        ),
        (
            "statement CSV: the whole year",
            f"{account}/statement",
            {"from": stamp(start), "to": stamp(end)},
            csv_type,
        ),
        ("verify", f"{account}/verify", {}, json_type),
    ]
    measured = []
    for name, path, query, accept in plan:
        measurement = _get(base, session, name, path, query, accept)
        print(
            f"{name}: {measurement.status}, first line {measurement.first_line_ms:.0f} ms,"
            f" all {measurement.total_ms:.0f} ms, {measurement.lines:,} lines,"
            f" server RSS {measurement.server_rss_mb_before:.0f} ->"
            f" {measurement.server_rss_mb_peak:.0f} MB"
        )
        measured.append(measurement)
    return measured


def _print_table(measured: list[Measurement], entries: int) -> None:
    print(f"\nOne account, {entries:,} journal entries over a year, 1 worker:")
    print("| request | status | first line ms | all ms | lines | server RSS MB before -> peak |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for m in measured:
        print(
            f"| {m.name} | {m.status} | {m.first_line_ms:.0f} | {m.total_ms:.0f} |"
            f" {m.lines:,} | {m.server_rss_mb_before:.0f} -> {m.server_rss_mb_peak:.0f} |"
        )


def main() -> int:
    options = _arguments()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    harness.RESULTS.mkdir(exist_ok=True)
    log = harness.RESULTS / f"{stamp}-history-server.log"
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    with harness._fresh_database(options, log) as db:
        with harness._server(db.url, 1, log, None) as (base, _):
            status, body = harness._http(
                "POST",
                f"{base}/v1/accounts",
                {"account_number": ACCOUNT, "customer_name": "History", "account_type": "checking"},
            )
            if status != 201:
                raise RuntimeError(f"opening the account: {status} {body}")
        last = _load(db, options.entries, end)
        verified = subprocess.run(
            [str(harness.BANK_API), "--database-url", db.url, "verify"],
            capture_output=True,
            text=True,
            check=False,
        )
        print(f"bank-api verify: exit {verified.returncode}: {verified.stdout.strip()[-300:]}")
        with harness._server(db.url, 1, log, None) as (base, session):
            measured = _measure(base, session, end)
    _print_table(measured, options.entries)
    bad = [m.name for m in measured if m.status != 200]
    whole = next(m for m in measured if m.name == "statement CSV: the whole year")
    if whole.lines != options.entries:
        bad.append(f"the whole year's CSV has {whole.lines:,} lines, not {options.entries:,}")
    if verified.returncode != 0:
        bad.append("bank-api verify failed")
    report: dict[str, Any] = {
        "at": stamp,
        "entries": options.entries,
        "last_entry": {"entry_id": last.entry_id, "hash": last.hash},
        "verify_exit": verified.returncode,
        "measurements": [asdict(m) for m in measured],
        "problems": bad,
    }
    output = harness.RESULTS / f"{stamp}-history.json"
    output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nresults: {output.relative_to(harness.ROOT)}")
    for problem in bad:
        print(f"FAILED: {problem}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
