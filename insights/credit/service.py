"""Grading runs, the triage queue, claims, potential complainants and contact history over a store.

The grade supports differentiated service; it is not a blacklist. Every read of a customer's
grade through ``contact_history`` and every claim or release is written to ``credit_audit``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from insights.credit.events import ContactEvent, refresh_events
from insights.credit.grading import CustomerGrade, grade_customer, repeat_links
from insights.credit.risk import combine, static_risk
from insights.credit.scorecard import Scorecard
from insights.credit.tables import ensure_tables, iter_customer_events, open_anonymous_complaints, stored_factors, write_grades
from radar.errors import ErrorCode, InsightsError

if TYPE_CHECKING:
    from search.store import Store

__all__ = [
    "GradeRunReport",
    "TRIAGE_FILTERS",
    "audit",
    "claim",
    "contact_history",
    "grade_store",
    "potential_complainants",
    "release",
    "triage_queue",
]

logger = logging.getLogger(__name__)

TRIAGE_FILTERS = ("region", "complaint_type", "grade", "channel", "source", "claimed_by")
_META_KEY = "credit_scorecard"
_BATCH = 5000


@dataclass
class GradeRunReport:
    events_refreshed: int = 0
    customers_graded: int = 0
    grades_changed: int = 0
    open_complaints: int = 0
    full: bool = False
    seconds: float = 0.0
    grade_counts: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {k: round(v, 3) if isinstance(v, float) else v for k, v in self.__dict__.items()}


def _now() -> datetime:
    return datetime.now().replace(microsecond=0)


def _iso(dt: datetime) -> str:
    return dt.isoformat(timespec="seconds")


def grade_store(store: Store, scorecard: Scorecard, *, as_of: datetime | None = None, full: bool = False) -> GradeRunReport:
    """Refresh events from labelled records, re-grade the customers whose events changed (all of
    them with ``full`` or when the scorecard changed), keep grade history, rebuild their triage items."""
    started = time.perf_counter()
    ensure_tables(store)
    as_of = as_of or _now()
    report = GradeRunReport(events_refreshed=refresh_events(store, scorecard))
    stamp = f"{scorecard.version}:{scorecard.fingerprint}"
    report.full = full or store.get_meta(_META_KEY) != stamp
    computed_at = _iso(_now())
    with store.transaction():
        if report.full:
            store.conn.execute("DELETE FROM triage_items")
        pending: list[CustomerGrade] = []
        for key, events in iter_customer_events(store, only_dirty=not report.full):
            grade = grade_customer(key, events, scorecard, as_of)
            pending.append(grade)
            report.open_complaints += _rebuild_items(store, key, events, grade.grade, scorecard, clear=not report.full)
            if len(pending) >= _BATCH:
                report.grades_changed += write_grades(store, pending, computed_at)
                report.customers_graded += len(pending)
                pending = []
        report.grades_changed += write_grades(store, pending, computed_at)
        report.customers_graded += len(pending)
        report.open_complaints += _rebuild_anonymous_items(store, scorecard)
        store.conn.execute("DELETE FROM credit_dirty")
        store.set_meta(_META_KEY, stamp)
    report.grade_counts = dict(store.conn.execute("SELECT grade, COUNT(*) FROM credit_grades GROUP BY grade ORDER BY grade").fetchall())
    report.seconds = time.perf_counter() - started
    return report


def _item_row(event: ContactEvent, history: Sequence[ContactEvent], grade: str, scorecard: Scorecard) -> tuple[Any, ...]:
    spec = scorecard.by_grade(grade)
    risk = static_risk(event, history, grade, scorecard)
    reasons = json.dumps(risk.reasons, ensure_ascii=False)
    return (
        event.record_id,
        event.customer_key,
        _iso(event.at),
        grade,
        spec.level,
        risk.value,
        reasons,
        spec.guidance.resolution_hours,
        spec.guidance.response_hours,
        max((e.value for e in history), default=event.value),
        event.region,
        event.channel,
        event.complaint_type,
        event.source,
        event.text[:120],
    )


_INSERT_ITEM = "INSERT OR REPLACE INTO triage_items VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"


def _rebuild_items(store: Store, key: str, events: Sequence[ContactEvent], grade: str, scorecard: Scorecard, *, clear: bool) -> int:
    if clear:  # a full run emptied the table already
        store.conn.execute("DELETE FROM triage_items WHERE customer_key = ?", (key,))
    rows = [_item_row(e, events, grade, scorecard) for e in events if e.complaint and e.open]
    store.conn.executemany(_INSERT_ITEM, rows)
    return len(rows)


def _rebuild_anonymous_items(store: Store, scorecard: Scorecard) -> int:
    """Open tickets with no customer key: the neutral grade, risk from their own text only."""
    store.conn.execute("DELETE FROM triage_items WHERE customer_key IS NULL")
    items = [_item_row(ev, [ev], scorecard.neutral_grade, scorecard) for ev in open_anonymous_complaints(store)]
    store.conn.executemany(_INSERT_ITEM, items)
    return len(items)


def _filter_sql(filters: Sequence[tuple[str, str]]) -> tuple[str, dict[str, Any]]:
    clauses, params = [], {}
    for i, (name, value) in enumerate(filters):
        if name not in TRIAGE_FILTERS:
            raise InsightsError(
                ErrorCode.E401,
                feature="triage filter",
                reason=f"unknown filter '{name}'",
                fix=f"Filter on one of: {', '.join(TRIAGE_FILTERS)}.",
            )
        if name == "claimed_by" and value in ("", "none", "nobody"):
            clauses.append("c.claimed_by IS NULL")
            continue
        clauses.append(f"{'c' if name == 'claimed_by' else 't'}.{name} = :f{i}")
        params[f"f{i}"] = value
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def triage_queue(
    store: Store,
    scorecard: Scorecard,
    *,
    now: datetime | None = None,
    filters: Sequence[tuple[str, str]] = (),
    limit: int = 50,
    viewer: str | None = None,
) -> dict[str, Any]:
    """Open complaints, highest priority first. priority = grade level, escalation risk (with the
    time limit used), time limit used and customer value, weighted by the scorecard's ``priority``;
    ties go to the earlier deadline, then the record id, so the order is deterministic. With
    ``viewer``, the view is audited."""
    ensure_tables(store)
    now = now or _now()
    p, w = scorecard.priority, scorecard.risk
    where, params = _filter_sql(filters)
    used = "MIN(1.0, MAX(0.0, (julianday(:now) - julianday(t.created_at)) * 24.0 / t.resolution_hours))"
    risk = f"(1.0 - (1.0 - t.risk_static) * (1.0 - {w.overdue} * {used}))"
    priority = f"({p.grade} * t.grade_level + {p.risk} * {risk} + {p.urgency} * {used} + {p.customer_value} * t.value)"
    sql = (
        f"SELECT t.*, c.claimed_by, c.claimed_at, {risk} AS risk, {priority} AS priority, {used} AS used "
        f"FROM triage_items t LEFT JOIN triage_claims c ON c.record_id = t.record_id {where} "
        "ORDER BY priority DESC, julianday(t.created_at) + t.resolution_hours / 24.0, t.record_id LIMIT :limit"
    )
    rows = store.conn.execute(sql, {**params, "now": _iso(now), "limit": limit}).fetchall()
    total = store.conn.execute(
        f"SELECT COUNT(*) FROM triage_items t LEFT JOIN triage_claims c ON c.record_id = t.record_id {where}", params
    ).fetchone()[0]
    if viewer is not None:  # the queue shows grades: who looked is audited like any other view
        with store.transaction():
            audit(store, viewer, "view_queue", detail=json.dumps(list(filters), ensure_ascii=False))
    return {"now": _iso(now), "total": total, "items": [_item(r, scorecard, now) for r in rows]}


def _item(row: Any, scorecard: Scorecard, now: datetime) -> dict[str, Any]:
    created = datetime.fromisoformat(row["created_at"])
    deadline = created + timedelta(hours=row["resolution_hours"])
    reasons = [{"reason": r, "part": v} for r, v in json.loads(row["reasons"])]
    if row["used"] > 0:
        reasons.append({"reason": f"已用处理时限 {row['used']:.0%}", "part": round(scorecard.risk.overdue * row["used"], 4)})
    guidance = scorecard.by_grade(row["grade"]).guidance.model_dump()
    return {
        "record_id": row["record_id"],
        "customer_key": row["customer_key"],
        "grade": row["grade"],
        "risk": round(combine(row["risk"]), 4),
        "priority": round(row["priority"], 4),
        "deadline": _iso(deadline),
        "response_deadline": _iso(created + timedelta(hours=row["response_hours"])),
        "overdue": now > deadline,
        "guidance": guidance,
        "reasons": reasons,
        "region": row["region"],
        "channel": row["channel"],
        "complaint_type": row["complaint_type"],
        "source": row["source"],
        "created_at": row["created_at"],
        "claimed_by": row["claimed_by"],
        "text": row["text"],
    }


def audit(
    store: Store, viewer: str, action: str, *, customer_key: str | None = None, record_id: str | None = None, detail: str = ""
) -> None:
    """One audit row; the tables must exist (no DDL here: it would end the caller's transaction)."""
    store.conn.execute(
        "INSERT INTO credit_audit(at, viewer, action, customer_key, record_id, detail) VALUES (?,?,?,?,?,?)",
        (_iso(_now()), viewer, action, customer_key, record_id, detail),
    )


def claim(store: Store, record_id: str, who: str, *, force: bool = False) -> dict[str, Any]:
    ensure_tables(store)
    if store.conn.execute("SELECT 1 FROM triage_items WHERE record_id = ?", (record_id,)).fetchone() is None:
        raise InsightsError(ErrorCode.E404, record_id=record_id)
    with store.transaction():
        held = store.conn.execute("SELECT claimed_by FROM triage_claims WHERE record_id = ?", (record_id,)).fetchone()
        if held is not None and held[0] != who and not force:
            raise InsightsError(ErrorCode.E405, record_id=record_id, holder=held[0])
        store.conn.execute("INSERT OR REPLACE INTO triage_claims VALUES (?, ?, ?)", (record_id, who, _iso(_now())))
        audit(store, who, "claim", record_id=record_id, detail=f"taken from {held[0]}" if held and held[0] != who else "")
    return {"record_id": record_id, "claimed_by": who}


def release(store: Store, record_id: str, who: str, *, force: bool = False) -> dict[str, Any]:
    ensure_tables(store)
    with store.transaction():
        held = store.conn.execute("SELECT claimed_by FROM triage_claims WHERE record_id = ?", (record_id,)).fetchone()
        if held is None:
            raise InsightsError(ErrorCode.E404, record_id=record_id)
        if held[0] != who and not force:
            raise InsightsError(ErrorCode.E405, record_id=record_id, holder=held[0])
        store.conn.execute("DELETE FROM triage_claims WHERE record_id = ?", (record_id,))
        audit(store, who, "release", record_id=record_id)
    return {"record_id": record_id, "claimed_by": None}


def potential_complainants(store: Store, scorecard: Scorecard, *, as_of: datetime | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """潜在投诉客户: clearly dissatisfied in calls, posts or forms, with no ticket in the window."""
    ensure_tables(store)
    rule = scorecard.potential
    since = _iso((as_of or _now()) - timedelta(days=rule.window_days))
    until = _iso(as_of or _now())
    rows = store.conn.execute(
        "SELECT customer_key, COUNT(*) AS n, MAX(intensity) AS peak, GROUP_CONCAT(record_id, ' ') AS ids FROM ("
        "  SELECT customer_key, intensity, record_id FROM contact_events"
        "  WHERE customer_key IS NOT NULL AND source != 'tickets' AND dissatisfied = 1 AND intensity >= ? AND at >= ? AND at <= ?"
        "  ORDER BY at) "
        "GROUP BY customer_key HAVING n >= ? AND customer_key NOT IN ("
        "  SELECT customer_key FROM contact_events WHERE source = 'tickets' AND customer_key IS NOT NULL AND at >= ? AND at <= ?) "
        "ORDER BY n DESC, peak DESC, customer_key LIMIT ?",
        (rule.min_intensity, since, until, rule.min_dissatisfied, since, until, limit),
    ).fetchall()
    out = []
    for r in rows:
        ids = r["ids"].split()
        marks = ",".join("?" * len(ids))
        texts = dict(store.conn.execute(f"SELECT record_id, text FROM contact_events WHERE record_id IN ({marks})", ids).fetchall())
        out.append(
            {
                "customer_key": r["customer_key"],
                "dissatisfied_contacts": r["n"],
                "peak_intensity": round(r["peak"], 4),
                "evidence": [{"record_id": i, "quote": texts.get(i, "")[:80]} for i in ids[:5]],
            }
        )
    return out


def contact_history(store: Store, scorecard: Scorecard, customer_key: str, *, viewer: str) -> dict[str, Any]:
    """客户接触信息视图: every contact in time order with labels, repeat links, the current grade with
    its factors and guidance, and the grade's history. The view is audited."""
    ensure_tables(store)
    events = next((evs for key, evs in iter_customer_events(store, only_dirty=False, customer_key=customer_key)), [])
    links = repeat_links(events, scorecard)
    known = store.lookup([e.record_id for e in events])
    records = {r.id: r for r in store.get_by_rowids([rowid for rowid, _ in known.values()])}
    contacts = []
    for event, repeat_of in zip(events, links, strict=True):
        rec = records.get(event.record_id)
        contacts.append(
            {
                "record_id": event.record_id,
                "at": _iso(event.at),
                "source": event.source,
                "channel": event.channel,
                "complaint": event.complaint,
                "complaint_type": event.complaint_type,
                "repeat": repeat_of is not None,
                "repeat_of": repeat_of,
                "founded": event.founded,
                "escalated": event.escalated,
                "open": event.open,
                "sentiment": rec.label_names("sentiment") if rec else [],
                "intent": rec.label_names("intent") if rec else [],
                "text": event.text[:160],
            }
        )
    grade = store.conn.execute("SELECT * FROM credit_grades WHERE customer_key = ?", (customer_key,)).fetchone()
    history = store.conn.execute(
        "SELECT grade, score, scorecard_version, as_of, computed_at FROM credit_grade_history WHERE customer_key = ? ORDER BY computed_at",
        (customer_key,),
    ).fetchall()
    with store.transaction():
        audit(store, viewer, "view_grade", customer_key=customer_key)
    current = None
    if grade is not None:
        current = {
            "grade": grade["grade"],
            "score": grade["score"],
            "factors": stored_factors(grade["factors"], scorecard.factors),
            "guidance": scorecard.by_grade(grade["grade"]).guidance.model_dump(),
            "scorecard_version": grade["scorecard_version"],
        }
    return {"customer_key": customer_key, "grade": current, "grade_history": [dict(h) for h in history], "contacts": contacts}
