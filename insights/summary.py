"""A readable summary of a labelled store: volumes per source and per label, review load."""

from __future__ import annotations

from dataclasses import dataclass, field

from search.store import Store
from search.stores import require_sqlite

__all__ = ["SUMMARY_FACETS", "StoreSummary", "summarize"]

SUMMARY_FACETS = ("demand_category", "complaint_type", "intent", "sentiment", "product", "channel", "escalation")


@dataclass
class StoreSummary:
    records: dict[str, int]
    labels: dict[str, dict[str, int]]
    needs_review: int
    quarantined: int
    top_themes: list[dict[str, object]] = field(default_factory=list)


def summarize(store: Store, top: int = 8) -> StoreSummary:
    require_sqlite(store, "The store summary (insights.summary)")
    by_source = store.count_by("source")
    records = {s: by_source.get(s, 0) for s in ("forum", "calls", "tickets", "forms")}
    counts = store.label_counts()
    labels = {f: counts.get(f, {}) for f in SUMMARY_FACETS}
    needs_review = int(store.conn.execute("SELECT COUNT(DISTINCT record_rowid) FROM needs_review").fetchone()[0])
    return StoreSummary(records, labels, needs_review, store.count("quarantine"), _top_themes(store, top))


def _top_themes(store: Store, top: int) -> list[dict[str, object]]:
    """Largest demand sub-labels with their complaint and negative share: where proposals will come from."""
    rows = store.conn.execute(
        """
        SELECT l.label AS theme, COUNT(*) AS n,
               SUM(EXISTS (SELECT 1 FROM labels s WHERE s.record_rowid = l.record_rowid
                           AND s.facet = 'sentiment' AND s.label = '负面')) AS negative,
               COUNT(DISTINCT r.region) AS regions
        FROM labels l JOIN records r ON r.rowid = l.record_rowid
        WHERE l.facet = 'demand_category' AND instr(l.label, '/') > 0
        GROUP BY l.label ORDER BY n DESC, theme LIMIT ?
        """,
        (top,),
    ).fetchall()
    return [
        {"theme": r["theme"], "records": int(r["n"]), "negative_share": round(r["negative"] / r["n"], 2), "regions": int(r["regions"])}
        for r in rows
    ]
