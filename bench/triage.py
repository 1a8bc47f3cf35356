"""Complaint credit grading and the triage queue at operator scale, on GENERATED histories.

    .venv/bin/python bench/triage.py [--customers 1000000] [--events 5000000] [--open 100000]

Writes synthetic contact events straight into a temporary store's ``contact_events`` table
(the grading input; records themselves are not generated, so the bench turns the store's
foreign keys off for its connection), then prints:

- a full grading run: customers/s and the total against the 10-minute target, beside a naive
  baseline that queries each customer's events one by one (timed on a sample, extrapolated);
- the triage queue over the open complaints: the ranked query against the 1-second target,
  beside a naive baseline that loads every open item and ranks it in Python.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from insights.credit.grading import grade_customer  # noqa: E402
from insights.credit.scorecard import load_scorecard  # noqa: E402
from insights.credit.service import grade_store, triage_queue  # noqa: E402
from insights.credit.tables import _event, ensure_tables  # noqa: E402
from search.store import Store  # noqa: E402

NOW = datetime(2026, 11, 24, 12, 0)
TYPES = ["网络质量", "费用争议", "业务办理", "业务使用", "服务质量", "营销活动", "不知情定制", "信息安全", "终端", "其他"]
REGIONS = ["广州", "深圳", "佛山", "东莞", "珠海", "汕头", "江门", "湛江", "茂名", "惠州"]
COLUMNS = (
    "record_rowid, customer_key, record_id, at, source, channel, region, complaint, complaint_type, founded, escalated, "
    "compensation, dissatisfied, intensity, open, value, tenure_years, text"
)


def _rows(customers: int, events: int, open_tickets: int, seed: int = 7):  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    opened = 0
    for i in range(events):
        source = rng.choices(("tickets", "calls", "forms", "forum"), (0.55, 0.3, 0.1, 0.05))[0]
        complaint = source == "tickets" or rng.random() < 0.2
        is_open = source == "tickets" and opened < open_tickets and rng.random() < 0.1
        opened += is_open
        at = NOW - timedelta(minutes=rng.randrange(0 if not is_open else 0, (3 if is_open else 400) * 24 * 60))
        yield (
            i + 1,
            f"c{rng.randrange(customers):07d}",
            f"{source}:{i}",
            at.isoformat(timespec="seconds"),
            source,
            rng.choice(("10086", "营业厅", "APP")),
            rng.choice(REGIONS),
            int(complaint),
            rng.choice(TYPES) if complaint else None,
            rng.choice((1, 0, None)) if source == "tickets" else None,
            int(complaint and rng.random() < 0.05),
            int(complaint and rng.random() < 0.08),
            int(rng.random() < 0.3),
            round(rng.random(), 3),
            int(is_open),
            round(rng.random(), 2),
            0.0,
            "",
        )


def _fill(store: Store, customers: int, events: int, open_tickets: int) -> float:
    started = time.perf_counter()
    store.conn.execute("PRAGMA foreign_keys = OFF")
    ensure_tables(store)
    store.conn.execute("BEGIN")
    store.conn.executemany(f"INSERT INTO contact_events({COLUMNS}) VALUES ({','.join('?' * 18)})", _rows(customers, events, open_tickets))
    store.conn.execute("INSERT OR IGNORE INTO credit_dirty SELECT DISTINCT customer_key FROM contact_events")
    store.conn.execute("COMMIT")
    return time.perf_counter() - started


def _naive_grading(store: Store, card, sample: int) -> float:  # type: ignore[no-untyped-def]
    """customers/s for a first script: per customer, one query for its events, grade, one insert."""
    keys = [r[0] for r in store.conn.execute("SELECT DISTINCT customer_key FROM contact_events LIMIT ?", (sample,))]
    cols = COLUMNS.split(", ", 1)[1]
    store.conn.execute("CREATE TEMP TABLE naive_grades (customer_key TEXT PRIMARY KEY, grade TEXT, score REAL, factors TEXT)")
    started = time.perf_counter()
    for key in keys:
        rows = store.conn.execute(f"SELECT {cols} FROM contact_events WHERE customer_key = ? ORDER BY at, record_id", (key,)).fetchall()
        g = grade_customer(key, [_event(r) for r in rows], card, NOW)
        factors = json.dumps(g.to_dict()["factors"])
        store.conn.execute("INSERT OR REPLACE INTO naive_grades VALUES (?,?,?,?)", (key, g.grade, g.score, factors))
    store.conn.commit()
    return len(keys) / (time.perf_counter() - started)


def _naive_queue(store: Store, card) -> float:  # type: ignore[no-untyped-def]
    """Seconds to rank every open item in Python (load all, score, sort)."""
    started = time.perf_counter()
    rows = store.conn.execute("SELECT * FROM triage_items").fetchall()
    p = card.priority
    ranked = []
    for r in rows:
        used = min(1.0, max(0.0, (NOW - datetime.fromisoformat(r["created_at"])).total_seconds() / 3600 / r["resolution_hours"]))
        risk = 1 - (1 - r["risk_static"]) * (1 - card.risk.overdue * used)
        ranked.append((-(p.grade * r["grade_level"] + p.risk * risk + p.urgency * used + p.customer_value * r["value"]), r["record_id"]))
    ranked.sort()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--open", type=int, default=100_000)
    args = parser.parse_args()
    card = load_scorecard()
    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp) / "bench.db") as store:
        fill = _fill(store, args.customers, args.events, args.open)
        n_customers = store.conn.execute("SELECT COUNT(*) FROM credit_dirty").fetchone()[0]
        n_open = store.conn.execute("SELECT COUNT(*) FROM contact_events WHERE open = 1").fetchone()[0]
        print(f"GENERATED: {args.events:,} events of {n_customers:,} customers, {n_open:,} open complaints (written in {fill:.0f} s)")
        naive = _naive_grading(store, card, 20_000)
        report = grade_store(store, card, as_of=NOW, full=True)
        rate = report.customers_graded / report.seconds
        print(f"{'naive: one query per customer':40} {naive:>9,.0f} customers/s  -> {n_customers / naive / 60:6.1f} min (extrapolated)")
        print(
            f"{'radar credit grade --full (streamed)':40} {rate:>9,.0f} customers/s  -> {report.seconds / 60:6.1f} min  "
            f"{rate / naive:4.1f}x   target <= 10 min"
        )
        print(f"grades: {report.grade_counts}; open complaints queued: {report.open_complaints:,}")
        base = _naive_queue(store, card)
        for label, filters in (("triage queue, top 50", []), ("triage queue, region=深圳", [("region", "深圳")])):
            started = time.perf_counter()
            doc = triage_queue(store, card, now=NOW, filters=filters, limit=50)
            took = time.perf_counter() - started
            print(f"{label:40} {took:9.3f} s over {doc['total']:,} items   target <= 1 s")
        print(f"{'naive queue: load all, rank in Python':40} {base:9.3f} s")


if __name__ == "__main__":
    main()
