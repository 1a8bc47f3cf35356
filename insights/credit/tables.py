"""The credit-grading tables beside the records in the store (created on first use)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from insights.credit.events import ContactEvent
from radar.fastjson import dumps
from search.stores import require_sqlite

if TYPE_CHECKING:
    from insights.credit.grading import CustomerGrade
    from search.store import Store

__all__ = ["ensure_tables", "iter_customer_events", "open_anonymous_complaints", "stored_factors", "upsert_events", "write_grades"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS contact_events (
    record_rowid INTEGER PRIMARY KEY REFERENCES records(rowid) ON DELETE CASCADE,
    customer_key TEXT, record_id TEXT NOT NULL, at TEXT, source TEXT NOT NULL, channel TEXT, region TEXT,
    complaint INTEGER NOT NULL, complaint_type TEXT, founded INTEGER, escalated INTEGER NOT NULL,
    compensation INTEGER NOT NULL, dissatisfied INTEGER NOT NULL, intensity REAL NOT NULL, open INTEGER NOT NULL,
    value REAL NOT NULL, tenure_years REAL NOT NULL, text TEXT NOT NULL,
    labelled_hash TEXT, label_version TEXT
);
CREATE INDEX IF NOT EXISTS contact_events_by_customer ON contact_events(customer_key, at);
CREATE INDEX IF NOT EXISTS contact_events_open ON contact_events(open, complaint);
CREATE TABLE IF NOT EXISTS credit_dirty (customer_key TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS credit_grades (
    customer_key TEXT PRIMARY KEY, grade TEXT NOT NULL, score REAL NOT NULL, factors TEXT NOT NULL,
    scorecard_version TEXT NOT NULL, as_of TEXT NOT NULL, computed_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS credit_grade_history (
    customer_key TEXT NOT NULL, grade TEXT NOT NULL, score REAL NOT NULL, scorecard_version TEXT NOT NULL,
    as_of TEXT NOT NULL, computed_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS credit_grade_history_by_customer ON credit_grade_history(customer_key, computed_at);
CREATE TABLE IF NOT EXISTS triage_items (
    record_id TEXT PRIMARY KEY, customer_key TEXT, created_at TEXT NOT NULL, grade TEXT NOT NULL, grade_level REAL NOT NULL,
    risk_static REAL NOT NULL, reasons TEXT NOT NULL, resolution_hours REAL NOT NULL, response_hours REAL NOT NULL,
    value REAL NOT NULL, region TEXT, channel TEXT, complaint_type TEXT, source TEXT NOT NULL, text TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS triage_items_by_customer ON triage_items(customer_key);
CREATE TABLE IF NOT EXISTS triage_claims (
    record_id TEXT PRIMARY KEY, claimed_by TEXT NOT NULL, claimed_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS credit_audit (
    at TEXT NOT NULL, viewer TEXT NOT NULL, action TEXT NOT NULL, customer_key TEXT, record_id TEXT, detail TEXT
);
"""

_EVENT_COLUMNS = (
    "customer_key, record_id, at, source, channel, region, complaint, complaint_type, founded, escalated, "
    "compensation, dissatisfied, intensity, open, value, tenure_years, text"
)


def ensure_tables(store: Store) -> None:
    # every entry point of the credit service starts here: a PostgreSQL store stops with E307, not in SQL
    require_sqlite(store, "Complaint credit grading and the triage queue (insights.credit)").conn.executescript(SCHEMA)


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat(timespec="seconds") if dt else None


def _event_values(event: ContactEvent) -> tuple[Any, ...]:
    founded = None if event.founded is None else int(event.founded)
    return (
        event.customer_key,
        event.record_id,
        _iso(event.at),
        event.source,
        event.channel,
        event.region,
        int(event.complaint),
        event.complaint_type,
        founded,
        int(event.escalated),
        int(event.compensation),
        int(event.dissatisfied),
        event.intensity,
        int(event.open),
        event.value,
        event.tenure_years,
        event.text,
    )


def upsert_events(store: Store, pairs: Iterable[tuple[int, ContactEvent | None]]) -> None:
    """Write events (``None``: the record has no usable customer key or date; remembered so it is
    not re-read) and mark their customers for re-grading. Call inside ``transaction()``."""
    conn = store.conn
    for rowid, event in pairs:
        old = conn.execute("SELECT customer_key FROM contact_events WHERE record_rowid = ?", (rowid,)).fetchone()
        values = _event_values(event) if event else (None, "", None, "", None, None, 0, None, None, 0, 0, 0, 0.0, 0, 0.0, 0.0, "")
        conn.execute(
            f"INSERT OR REPLACE INTO contact_events(record_rowid, {_EVENT_COLUMNS}, labelled_hash, label_version) "
            f"VALUES (?, {', '.join('?' * len(values))}, "
            "(SELECT labelled_hash FROM records WHERE rowid = ?), (SELECT label_version FROM records WHERE rowid = ?))",
            (rowid, *values, rowid, rowid),
        )
        keys = {k for k in (old[0] if old else None, event.customer_key if event else None) if k}
        conn.executemany("INSERT OR IGNORE INTO credit_dirty(customer_key) VALUES (?)", [(k,) for k in keys])


def _event(row: Sequence[Any]) -> ContactEvent:
    # positional would be faster still, but names keep this safe against column reorderings
    return ContactEvent(
        customer_key=row[0],
        record_id=row[1],
        at=datetime.fromisoformat(row[2]),
        source=row[3],
        channel=row[4],
        region=row[5],
        complaint=bool(row[6]),
        complaint_type=row[7],
        founded=None if row[8] is None else bool(row[8]),
        escalated=bool(row[9]),
        compensation=bool(row[10]),
        dissatisfied=bool(row[11]),
        intensity=row[12],
        open=bool(row[13]),
        value=row[14],
        tenure_years=row[15],
        text=row[16],
    )


def iter_customer_events(store: Store, *, only_dirty: bool, customer_key: str | None = None) -> Iterator[tuple[str, list[ContactEvent]]]:
    """Each customer's events in time order, one customer at a time (streamed: constant memory)."""
    where = "WHERE e.at IS NOT NULL AND e.customer_key IS NOT NULL"
    params: tuple[str, ...] = ()
    if customer_key is not None:
        where, params = where + " AND e.customer_key = ?", (customer_key,)
    join = "JOIN credit_dirty d ON d.customer_key = e.customer_key" if only_dirty else ""
    columns = ", ".join("e." + c.strip() for c in _EVENT_COLUMNS.split(","))
    rows = store.conn.execute(f"SELECT {columns} FROM contact_events e {join} {where} ORDER BY e.customer_key, e.at, e.record_id", params)
    key: str | None = None
    events: list[ContactEvent] = []
    while chunk := rows.fetchmany(5000):
        for row in chunk:
            if row[0] != key:
                if key is not None:
                    yield key, events
                key, events = row[0], []
            events.append(_event(row))
    if key is not None:
        yield key, events


def open_anonymous_complaints(store: Store) -> list[ContactEvent]:
    """Open complaint tickets that carry no customer key."""
    rows = store.conn.execute(
        f"SELECT {_EVENT_COLUMNS} FROM contact_events WHERE customer_key IS NULL AND open = 1 AND complaint = 1 AND at IS NOT NULL"
    ).fetchall()
    return [_event(r) for r in rows]


def write_grades(store: Store, grades: Sequence[CustomerGrade], computed_at: str) -> int:
    """Store current grades; a grade or score that changed is appended to the history. Returns the changes.

    Factors are stored compactly (name, value, points): weights and descriptions belong to the
    scorecard version the row names."""
    conn = store.conn
    old: dict[str, tuple[str, float, str]] = {}
    keys = [g.customer_key for g in grades]
    for i in range(0, len(keys), 500):
        chunk = keys[i : i + 500]
        marks = ",".join("?" * len(chunk))
        for row in conn.execute(
            f"SELECT customer_key, grade, score, scorecard_version FROM credit_grades WHERE customer_key IN ({marks})", chunk
        ):
            old[row[0]] = (row[1], round(row[2], 2), row[3])
    current = []
    changed = []
    for g in grades:
        as_of = g.as_of.isoformat(timespec="seconds")
        factors = dumps([[f.name, round(f.value, 4), round(f.points, 4)] for f in g.factors])
        current.append((g.customer_key, g.grade, g.score, factors, g.scorecard_version, as_of, computed_at))
        if old.get(g.customer_key) != (g.grade, round(g.score, 2), g.scorecard_version):
            changed.append((g.customer_key, g.grade, g.score, g.scorecard_version, as_of, computed_at))
    conn.executemany(
        "INSERT OR REPLACE INTO credit_grades(customer_key, grade, score, factors, scorecard_version, as_of, computed_at) "
        "VALUES (?,?,?,?,?,?,?)",
        current,
    )
    conn.executemany(
        "INSERT INTO credit_grade_history(customer_key, grade, score, scorecard_version, as_of, computed_at) VALUES (?,?,?,?,?,?)", changed
    )
    return len(changed)


def stored_factors(raw: str, scorecard_factors: dict[str, Any]) -> list[dict[str, Any]]:
    """The compact stored factors, with weights and descriptions from the scorecard."""
    out = []
    for name, value, points in json.loads(raw):
        spec = scorecard_factors.get(name)
        out.append(
            {
                "factor": name,
                "value": value,
                "points": points,
                "weight": getattr(spec, "weight", None),
                "description": getattr(spec, "description", ""),
            }
        )
    return out
