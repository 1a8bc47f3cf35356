"""Near-duplicate collapsing: hits that repeat one original (an exact repeat or a SimHash near
duplicate, linked by ``records.duplicate_of`` at ingest) become one hit, the best-ranked of them,
with the size of its group. The rowid -> group array is built once per store epoch per process."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from search.store import Store
from search.stores import StoreProtocol

if TYPE_CHECKING:  # SQLAlchemy is imported only when a URL store is opened
    from search.sql_store import SQLStore

__all__ = ["collapse", "duplicate_groups"]

_lock = threading.Lock()
_held: dict[str, tuple[str, np.ndarray]] = {}


def _links(store: StoreProtocol) -> tuple[int, list[Any]]:
    """The highest rowid and the (repeat, original) rowid pairs."""
    if not isinstance(store, Store):  # the SQLAlchemy store answers in its own SQL
        top, pairs = cast("SQLStore", store).duplicate_links()
        return top, list(pairs)
    top = int(store.conn.execute("SELECT COALESCE(MAX(rowid), 0) FROM records").fetchone()[0])
    rows = store.conn.execute(
        "SELECT r.rowid, o.rowid FROM records r JOIN records o ON o.id = r.duplicate_of WHERE r.duplicate_of IS NOT NULL"
    ).fetchall()
    return top, rows


def _build(store: StoreProtocol) -> np.ndarray:
    top, rows = _links(store)
    groups = np.arange(top + 1, dtype=np.int64)
    if rows:
        pairs = np.array(rows, dtype=np.int64)
        groups[pairs[:, 0]] = pairs[:, 1]
        for _ in range(8):  # a repeat of a repeat: follow the links to the original
            nxt = groups[groups]
            if np.array_equal(nxt, groups):
                break
            groups = nxt
    return groups


def duplicate_groups(store: StoreProtocol) -> np.ndarray:
    """rowid -> the rowid of the original it repeats (itself for an original)."""
    key = str(store.path.resolve()) if isinstance(store, Store) else str(getattr(store, "location", id(store)))
    epoch = store.search_epoch()
    with _lock:
        held = _held.get(key)
        if held is None or held[0] != epoch:
            held = (epoch, _build(store))
            _held[key] = held
        return held[1]


def collapse(rowids: np.ndarray, scores: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The first (best-ranked) hit of each group, in the original order, and each group's size among the hits."""
    inside = rowids < len(groups)
    keys = np.where(inside, groups[np.minimum(rowids, len(groups) - 1)], -1 - rowids)  # unknown rowids: their own group
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    sizes = np.bincount(inverse.ravel())
    order = np.argsort(first, kind="stable")
    kept = first[order]
    return rowids[kept], scores[kept], sizes[order]
