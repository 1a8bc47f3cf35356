"""Saved searches, and rules made from them: a rule tags and counts matching records as they arrive
(as the operator's precision-marketing platform matched incoming text against seed messages)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from insights.demand.tables import ensure_tables

if TYPE_CHECKING:
    from search.backends.base import SearchBackend
    from search.store import Store

__all__ = ["apply_rules", "list_searches", "rule_counts", "save_search"]


def save_search(store: Store, name: str, query: str, filters: Sequence[tuple[str, str]] = (), *, rule: bool = False) -> dict[str, Any]:
    ensure_tables(store)
    with store.transaction():
        store.conn.execute(
            "INSERT OR REPLACE INTO saved_searches(name, query, filters, rule, created_at) VALUES (?, ?, ?, ?, ?)",
            (name, query, json.dumps(list(filters), ensure_ascii=False), int(rule), datetime.now().replace(microsecond=0).isoformat()),
        )
    return {"name": name, "query": query, "filters": [list(f) for f in filters], "rule": rule}


def list_searches(store: Store) -> list[dict[str, Any]]:
    ensure_tables(store)
    rows = store.conn.execute("SELECT * FROM saved_searches ORDER BY name").fetchall()
    return [{**dict(r), "filters": json.loads(r["filters"]), "rule": bool(r["rule"])} for r in rows]


def apply_rules(store: Store, backend: SearchBackend, *, page: int = 500) -> dict[str, int]:
    """Run every rule over the index; records it matches for the first time are tagged. Returns
    the new matches per rule. Keyword mode: a rule means its words, not a vague similarity."""
    from search.backends.base import SearchRequest

    ensure_tables(store)
    now = datetime.now().replace(microsecond=0).isoformat()
    added: dict[str, int] = {}
    for saved in (s for s in list_searches(store) if s["rule"]):
        cursor: str | None = None
        ids: list[str] = []
        while True:
            response = backend.search(
                SearchRequest(
                    query=saved["query"], filters=[tuple(f) for f in saved["filters"]], limit=page, cursor=cursor, mode="keyword", facets=()
                )
            )
            ids += [h.record.id for h in response.hits]
            cursor = response.next_cursor
            if not cursor or response.relaxed:
                break
        if response.relaxed:  # no record held every word: a rule matches all its words or nothing
            ids = []
        with store.transaction():
            before = store.conn.total_changes
            store.conn.executemany(
                "INSERT OR IGNORE INTO rule_hits(rule, record_id, at) VALUES (?, ?, ?)", [(saved["name"], i, now) for i in ids]
            )
            added[saved["name"]] = store.conn.total_changes - before
    return added


def rule_counts(store: Store, period: str = "month") -> dict[str, dict[str, int]]:
    """Matches per rule per period of the records' own time."""
    ensure_tables(store)
    width = {"day": 10, "month": 7}.get(period, 7)
    rows = store.conn.execute(
        f"SELECT h.rule, substr(r.created_at, 1, {width}) AS p, COUNT(*) FROM rule_hits h JOIN records r ON r.id = h.record_id "
        "WHERE r.created_at IS NOT NULL GROUP BY h.rule, p ORDER BY h.rule, p"
    ).fetchall()
    out: dict[str, dict[str, int]] = {}
    for rule, p, n in rows:
        out.setdefault(rule, {})[p] = n
    return out
