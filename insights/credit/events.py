"""Contact events: the compact view of a record that complaint grading needs.

One event per record that has a customer key. Building one is a pure function of the record and
its labels; ``refresh_events`` keeps the store's ``contact_events`` table in step with records
labelled since (new or re-labelled records only).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from radar.records import Record, Source

if TYPE_CHECKING:
    from insights.credit.scorecard import Scorecard
    from search.store import Store

__all__ = ["ContactEvent", "event_from_record", "refresh_events"]

logger = logging.getLogger(__name__)

COMPLAINT_INTENT = "投诉"
_TENURE_KEYS = ("tenure_years", "在网年限", "网龄")
_VALUE_KEYS = ("value", "customer_value", "价值")
_YEARS = re.compile(r"(\d+(?:\.\d+)?)")


@dataclass(frozen=True, slots=True)
class ContactEvent:
    customer_key: str | None  # None only for a ticket without one: it still enters the triage queue
    record_id: str
    at: datetime
    source: str
    channel: str | None = None
    region: str | None = None
    complaint: bool = False  # a ticket, or a call/post/form whose intent is 投诉
    complaint_type: str | None = None
    founded: bool | None = None  # the ticket's 是否属实, when it says
    escalated: bool = False  # an upgraded ticket, or threat cues in the text
    compensation: bool = False
    dissatisfied: bool = False  # clearly negative sentiment
    intensity: float = 0.0
    open: bool = False  # a ticket not closed yet
    value: float = 0.0  # customer value 0..1 (brand, 星级, value fields)
    tenure_years: float = 0.0
    text: str = ""  # the start of the customer's words: links repeats when types are missing


def _top(record: Record, facet: str) -> str | None:
    labels = record.labels.get(facet)
    return labels[0].label.split("/")[0] if labels else None


def _customer_value(record: Record, scorecard: Scorecard) -> float:
    values = [0.0]
    ticket = record.ticket
    if ticket and ticket.brand:
        values += [v for k, v in scorecard.brand_value.items() if k in ticket.brand]
    if ticket and ticket.star:
        values += [v for k, v in scorecard.star_value.items() if k in ticket.star]
    for key in _VALUE_KEYS:
        raw = record.extra.get(key)
        if isinstance(raw, int | float) or (isinstance(raw, str) and _YEARS.fullmatch(raw.strip())):
            values.append(min(1.0, max(0.0, float(raw))))
    return max(values)


def _tenure(record: Record) -> float:
    for key in _TENURE_KEYS:
        raw = record.extra.get(key)
        m = _YEARS.search(str(raw)) if raw is not None else None
        if m:
            return float(m.group(1))
    return 0.0


def event_from_record(record: Record, scorecard: Scorecard) -> ContactEvent | None:
    """The record as a contact event; ``None`` without a date, or without a customer key unless it is a ticket."""
    if record.created_at is None or (not record.customer_key and record.source != Source.TICKETS):
        return None
    ticket = record.ticket
    is_ticket = record.source == Source.TICKETS
    complaint = is_ticket or _top(record, "intent") == COMPLAINT_INTENT
    sentiment = record.labels.get("sentiment", [])
    text = record.customer_text()
    return ContactEvent(
        customer_key=record.customer_key,
        record_id=record.id,
        at=record.created_at,
        source=record.source.value,
        channel=record.channel,
        region=record.region,
        complaint=complaint,
        complaint_type=_top(record, "complaint_type") if complaint else None,
        founded=ticket.founded if ticket else None,
        escalated=bool(ticket and ticket.escalated) or "escalation" in record.labels,
        compensation=any(cue in text for cue in scorecard.compensation_cues),
        dissatisfied=bool(sentiment) and sentiment[0].label == "负面",
        intensity=_intensity(record),
        open=is_ticket and (ticket is None or ticket.closed_at is None),
        value=_customer_value(record, scorecard),
        tenure_years=_tenure(record),
        text=text[:200],
    )


def _intensity(record: Record) -> float:
    """Sentiment intensity is not stored on the label; its confidence tracks |score| (0.5 + |s|/2)."""
    sentiment = record.labels.get("sentiment", [])
    if not sentiment or sentiment[0].label != "负面":
        return 0.0
    return round(min(1.0, max(0.0, (sentiment[0].score - 0.5) * 2)), 4)


def refresh_events(store: Store, scorecard: Scorecard, batch: int = 2000) -> int:
    """Bring ``contact_events`` up to date with the labelled records; returns how many changed."""
    from insights.credit.tables import ensure_tables, upsert_events

    ensure_tables(store)
    rowids = [
        r[0]
        for r in store.conn.execute(
            "SELECT r.rowid FROM records r LEFT JOIN contact_events e ON e.record_rowid = r.rowid "
            "WHERE (r.customer_key IS NOT NULL OR r.source = 'tickets') AND r.labelled_hash IS NOT NULL "
            "AND (e.record_rowid IS NULL OR e.labelled_hash IS NOT r.labelled_hash OR e.label_version IS NOT r.label_version) "
            "ORDER BY r.rowid"
        )
    ]
    for i in range(0, len(rowids), batch):
        chunk = rowids[i : i + batch]
        pairs = [(rowid, event_from_record(rec, scorecard)) for rowid, rec in zip(chunk, store.get_by_rowids(chunk), strict=True)]
        with store.transaction():
            upsert_events(store, pairs)
    return len(rowids)
