"""What the dashboard and record pages show, gathered from the store (pure reads)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from insights.demand.tables import ensure_tables
from insights.demand.trends import emerging, volumes
from radar.errors import APIError, ErrorCode

if TYPE_CHECKING:
    from api.keys import Principal
    from search.store import Store

__all__ = ["dashboard_data", "record_data"]

SPEAKERS = {"agent": "坐席", "customer": "客户", "unknown": "未知"}


def dashboard_data(store: Store) -> dict[str, Any]:
    ensure_tables(store)
    categories = volumes(store, by="demand_category", period="month")
    categories["series"] = {k: v for k, v in categories["series"].items() if "/" not in k}  # top-level categories only
    channels = volumes(store, by="channel", period="month")
    rising = []
    for by in ("demand_category", "complaint_type", "product"):
        weekly = volumes(store, by=by, period="week")
        rising += [{**e.to_dict(), "facet": by} for e in emerging(weekly["periods"], weekly["series"])]
    review = store.conn.execute("SELECT COUNT(DISTINCT record_rowid) FROM needs_review").fetchone()[0]
    proposals = dict(store.conn.execute("SELECT status, COUNT(*) FROM proposals WHERE merged_into IS NULL GROUP BY status").fetchall())
    return {
        "total": store.count(),
        "by_source": store.count_by("source"),
        "needs_review": int(review),
        "categories": categories,
        "channels": channels,
        "emerging": sorted(rising, key=lambda e: e["p_value"])[:10],
        "proposal_counts": proposals,
    }


def record_data(store: Store, record_id: str, me: Principal) -> dict[str, Any]:
    record = store.get(record_id)
    if record is None:
        raise APIError(ErrorCode.E505, record_id=record_id)
    sentiment = {row["turn"]: row for row in store.turn_sentiment(record_id)}
    turns = [
        {"speaker": SPEAKERS.get(t.speaker, t.speaker), "text": t.text, "inferred": t.inferred, "sentiment": sentiment.get(i)}
        for i, t in enumerate(record.turns)
    ]
    complaint_team = me.role in ("admin", "complaint_agent")
    return {
        "r": record,
        "turns": turns,
        "labels": {f: [lab.to_dict() for lab in labs] for f, labs in record.labels.items()},
        "entities": [dict(e) for e in store.entities(record_id)],
        "history_key": record.customer_key if complaint_team else None,
    }
