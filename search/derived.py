"""Per-record values kept outside the records table that search filters on: the customer's complaint
credit grade (insights/credit: ``credit_grades`` by customer key) and whether the record is in a
demand proposal (insights/demand: a member of a cluster that has a proposal). Read in batches for
documents sent to Elasticsearch; the embedded backend reads the same tables in SQL."""

from __future__ import annotations

from collections.abc import Sequence

from search.store import Store

__all__ = ["credit_grades", "has_table", "in_proposal"]


def has_table(store: Store, name: str) -> bool:
    return store.conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone() is not None


def credit_grades(store: Store, customer_keys: Sequence[str | None]) -> dict[str, str]:
    keys = sorted({k for k in customer_keys if k})
    if not keys or not has_table(store, "credit_grades"):
        return {}
    out: dict[str, str] = {}
    for i in range(0, len(keys), 500):
        chunk = keys[i : i + 500]
        marks = ",".join("?" * len(chunk))
        rows = store.conn.execute(f"SELECT customer_key, grade FROM credit_grades WHERE customer_key IN ({marks})", chunk)
        out.update((str(k), str(g)) for k, g in rows)
    return out


def in_proposal(store: Store, record_ids: Sequence[str]) -> set[str]:
    ids = sorted(set(record_ids))
    if not ids or not (has_table(store, "demand_members") and has_table(store, "proposals")):
        return set()
    out: set[str] = set()
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        rows = store.conn.execute(
            "SELECT m.record_id FROM demand_members m JOIN proposals p ON p.cluster_id = m.cluster_id "
            f"WHERE m.record_id IN ({','.join('?' * len(chunk))})",
            chunk,
        )
        out.update(str(r[0]) for r in rows)
    return out
