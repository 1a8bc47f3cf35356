"""Per-record values kept outside the records table that search filters on: the customer's complaint
credit grade (insights/credit: ``credit_grades`` by customer key) and whether the record is in a
demand proposal (insights/demand: a member of a cluster that has a proposal). Read in batches for
documents sent to Elasticsearch; the embedded backend reads the same tables in SQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from search.store import Store
from search.stores import StoreProtocol

if TYPE_CHECKING:  # SQLAlchemy is imported only when a URL store is opened
    from search.sql_store import SQLStore

__all__ = ["credit_grades", "has_table", "in_proposal"]


def has_table(store: StoreProtocol, name: str) -> bool:
    if not isinstance(store, Store):  # the SQLAlchemy store inspects its own engine
        return cast("SQLStore", store).has_table(name)
    return store.conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone() is not None


def credit_grades(store: StoreProtocol, customer_keys: Sequence[str | None]) -> dict[str, str]:
    keys = sorted({k for k in customer_keys if k})
    # the insights tables are written on the SQLite store only: a PostgreSQL store has none (no grades, no proposals)
    if not keys or not has_table(store, "credit_grades") or not isinstance(store, Store):
        return {}
    out: dict[str, str] = {}
    for i in range(0, len(keys), 500):
        chunk = keys[i : i + 500]
        marks = ",".join("?" * len(chunk))
        rows = store.conn.execute(f"SELECT customer_key, grade FROM credit_grades WHERE customer_key IN ({marks})", chunk)
        out.update((str(k), str(g)) for k, g in rows)
    return out


def in_proposal(store: StoreProtocol, record_ids: Sequence[str]) -> set[str]:
    ids = sorted(set(record_ids))
    if not ids or not isinstance(store, Store) or not (has_table(store, "demand_members") and has_table(store, "proposals")):
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
