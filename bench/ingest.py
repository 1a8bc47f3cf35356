"""Ingestion throughput: SYNTHETIC tickets (CSV in GBK, XLSX) and calls (JSONL).

Prints records/s for the product path (normalise, mask, dedupe, near-duplicate link, upsert)
with 1 worker process and with the configured workers, beside a bare baseline that only parses
the CSV and inserts raw rows into SQLite. Synthetic text: throughput only, never quality.

    .venv/bin/python bench/ingest.py [--tickets 100000] [--calls 10000] [--workers 2]
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ingestion.convert import ConvertOptions  # noqa: E402
from ingestion.pipeline import ingest_path  # noqa: E402
from ingestion.sample.generator import write_calls_jsonl, write_ticket_csv, write_ticket_xlsx  # noqa: E402
from search.store import Store  # noqa: E402

OPTS = ConvertOptions(secret="bench")


def _run(source: str, path: Path, workdir: Path, workers: int, tag: str) -> dict[str, object]:
    db = workdir / f"{tag}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    with Store.open(db) as store:
        started = time.perf_counter()
        report = ingest_path(source, path, store, OPTS, workers=workers, batch_size=1000)
        seconds = time.perf_counter() - started
    return {
        "case": tag,
        "read": report.read,
        "seconds": round(seconds, 2),
        "per_s": round(report.read / seconds),
        "near_duplicates": report.near_duplicates,
    }


def _baseline_csv(path: Path, workdir: Path) -> dict[str, object]:
    """Parse the CSV and insert each row as JSON: the floor any ingester pays."""
    db = workdir / "baseline.db"
    db.unlink(missing_ok=True)
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE raw (id TEXT PRIMARY KEY, body TEXT)")
    started = time.perf_counter()
    n = 0
    with path.open(encoding="gb18030", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        conn.execute("BEGIN")
        for row in reader:
            conn.execute(
                "INSERT OR REPLACE INTO raw VALUES (?, ?)", (row[0], json.dumps(dict(zip(header, row, strict=False)), ensure_ascii=False))
            )
            n += 1
        conn.execute("COMMIT")
    seconds = time.perf_counter() - started
    return {"case": "baseline: csv + raw insert", "read": n, "seconds": round(seconds, 2), "per_s": round(n / seconds)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="radar-bench-") as tmp:
        work = Path(tmp)
        t = time.perf_counter()
        csv_path = write_ticket_csv(work / "tickets.csv", args.tickets)
        xlsx_path = write_ticket_xlsx(work / "tickets.xlsx", args.tickets)
        calls_path = write_calls_jsonl(work / "calls.jsonl", args.calls)
        print(
            f"generated {args.tickets:,} tickets (CSV {csv_path.stat().st_size / 1e6:.1f} MB, XLSX "
            f"{xlsx_path.stat().st_size / 1e6:.1f} MB) and {args.calls:,} calls in {time.perf_counter() - t:.1f}s",
            flush=True,
        )
        rows = [
            _baseline_csv(csv_path, work),
            _run("tickets", csv_path, work, 1, "tickets CSV, 1 worker"),
            _run("tickets", csv_path, work, args.workers, f"tickets CSV, {args.workers} workers"),
            _run("tickets", xlsx_path, work, args.workers, f"tickets XLSX, {args.workers} workers"),
            _run("calls", calls_path, work, 1, "calls JSONL, 1 worker"),
            _run("calls", calls_path, work, args.workers, f"calls JSONL, {args.workers} workers"),
        ]
    base = rows[0]["per_s"]
    print(f"\n{'case':34} {'records':>9} {'seconds':>8} {'records/s':>10} {'vs baseline':>12}")
    for r in rows:
        print(f"{r['case']:34} {r['read']:>9,} {r['seconds']:>8} {r['per_s']:>10,} {r['per_s'] / base:>11.2f}x")  # type: ignore[operator]
    print(
        f"\npeak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB (this process); target: >= 5,000 tickets/s from CSV"
    )


if __name__ == "__main__":
    main()
