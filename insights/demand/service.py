"""Demand proposals over a store: filter, cluster incrementally, draft, route, track.

Filtering never deletes: every record keeps its verdict and reason in ``demand_verdicts``.
Re-clustering never loses a proposal's history: a proposal keeps its id and its audit trail in
``proposal_events``; when its cluster is merged into another, it follows (or, when the other
cluster has a proposal too, is marked ``merged_into`` it, with an event).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from scipy import sparse

from insights.demand.clustering import Clusterer, ClusterEvent, ClusterState, combine, vectorize
from insights.demand.config import ProposalConfig
from insights.demand.filtering import demand_verdict
from insights.demand.proposals import Draft, Member, draft_proposal, member_from_record
from insights.demand.tables import ensure_tables, load_state, proposal_row, save_state
from insights.demand.workflow import STATUSES, TRANSITIONS, allowed
from nlp.keywords import IdfTable, candidate_words
from radar.errors import ErrorCode, InsightsError
from radar.records import embedded_text

if TYPE_CHECKING:
    from nlp.embedders.base import Embedder
    from nlp.tokenizer import Tokenizer
    from search.store import Store
    from taxonomy.schema import Taxonomy

__all__ = ["BuildReport", "build_proposals", "get_proposal", "list_proposals", "set_status"]

logger = logging.getLogger(__name__)


@dataclass
class BuildReport:
    judged: int = 0
    demands: int = 0
    clustered: int = 0
    themes: int = 0
    outliers: int = 0
    outlier_share: float = 0.0
    events: dict[str, int] = field(default_factory=dict)
    drafted: int = 0
    updated: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in self.__dict__.items()}


def _now() -> str:
    return datetime.now().replace(microsecond=0).isoformat()


def _judge(store: Store, threshold: float, batch: int = 2000) -> int:
    """Verdicts for records labelled since their last verdict."""
    rowids = [
        r[0]
        for r in store.conn.execute(
            "SELECT r.rowid FROM records r LEFT JOIN demand_verdicts v ON v.record_rowid = r.rowid "
            "WHERE r.labelled_hash IS NOT NULL AND (v.record_rowid IS NULL OR v.labelled_hash IS NOT r.labelled_hash) ORDER BY r.rowid"
        )
    ]
    for i in range(0, len(rowids), batch):
        chunk = rowids[i : i + batch]
        with store.transaction():
            for rowid, record in zip(chunk, store.get_by_rowids(chunk), strict=True):
                v = demand_verdict(record, threshold)
                store.conn.execute(
                    "INSERT OR REPLACE INTO demand_verdicts VALUES (?, ?, ?, ?, (SELECT labelled_hash FROM records WHERE rowid = ?))",
                    (rowid, int(v.is_demand), v.score, v.reason, rowid),
                )
    return len(rowids)


# words every ticket and call carries: they say nothing about the theme
BOILERPLATE = frozenset("坐席 客户 用户 反映 要求 来电 表示 您好 你好 请问 谢谢 问题 情况 一下 处理 工单 尽快 解决".split())


class _Text:
    """Content words for clustering and titles: the project tokenizer, stopwords and boilerplate out."""

    def __init__(self, tokenizer: Tokenizer, stopwords: frozenset[str]) -> None:
        self.tokenizer, self.stopwords = tokenizer, stopwords | BOILERPLATE

    def words(self, text: str) -> list[str]:
        return candidate_words(self.tokenizer.words(text), self.stopwords)

    def many(self, texts: Sequence[str]) -> list[list[str]]:
        return [candidate_words(ws, self.stopwords) for ws in self.tokenizer.words_many(texts)]


def _clause(record: Any) -> str:
    """What a record is about: the title and the start of the customer's own words."""
    said = record.customer_text()
    return said[:400] if record.title and said.startswith(record.title) else _joined(record.title, said)


def _joined(title: str | None, said: str) -> str:
    return f"{title}。{said[:400]}" if title else said[:400]


def build_proposals(
    store: Store,
    *,
    tokenizer: Tokenizer,
    taxonomy: Taxonomy,
    config: ProposalConfig,
    stopwords: frozenset[str],
    idf: Callable[[Iterable[str]], IdfTable] | None = None,
    embedder: Embedder | None = None,
    as_of: datetime | None = None,
) -> BuildReport:
    """Judge new records, cluster the new demands, and draft or refresh proposals for grown themes."""
    started = time.perf_counter()
    ensure_tables(store)
    report = BuildReport(judged=_judge(store, config.demand_threshold))
    text = _Text(tokenizer, stopwords)
    weight = config.clustering.embedding_weight if embedder is not None else 0.0
    kind = f"lexical+{embedder.name}@{weight}:{embedder.dim}" if embedder is not None and weight > 0 else "lexical"
    state = load_state(store, kind)
    rowids = _demand_rowids(store, every=not state.clusters and kind != "lexical")  # new vectors: all again
    table = IdfTable()
    clusterer = Clusterer(config.clustering.params())
    chunk = CHUNK_BATCHES * clusterer.params.batch
    touched: set[str] = set()
    events: list[ClusterEvent] = []
    center = None
    for start in range(0, len(rowids), chunk):  # a chunk at a time: memory stays flat as the store grows
        new = _demands(store, rowids[start : start + chunk])
        words = text.many([t for _, t, _ in new])
        _extend(table, idf({w for ws in words for w in ws} - table.df.keys()) if idf else IdfTable(), words)
        vectors = vectorize([(ws, t) for ws, (_, t, _) in zip(words, new, strict=True)], table.idf)
        if weight > 0 and embedder is not None:
            embedded = embedder.embed([t for _, _, t in new])
            center = _center(store, kind, embedded) if center is None else center
            vectors = combine(vectors, embedded, weight, center)
        events += clusterer.assign(state, [rid for rid, _, _ in new], vectors, touched)
        del new, words, vectors  # before the next chunk is read, not after: two chunks never coexist
        logger.info("clustering: %d of %d demands assigned, %d clusters", min(start + chunk, len(rowids)), len(rowids), len(state.clusters))
    events += clusterer.settle(state, touched, _loader(store, text, table, embedder if weight > 0 else None, weight, center))
    _attach_repeats(store, state)
    report.clustered = len(rowids)
    report.events = {k: sum(e.kind == k for e in events) for k in ("new", "merge", "split")}
    now = _now()
    with store.transaction():
        save_state(store, state, state.changed, now)
        store.conn.executemany(
            "INSERT INTO demand_cluster_events(at, kind, cluster_id, other_id, detail) VALUES (?,?,?,?,?)",
            [(now, e.kind, e.cluster_id, e.other_id, e.detail) for e in events if e.kind != "new"],
        )
        _follow_merges(store, events, now)
    newest = store.conn.execute("SELECT MAX(created_at) FROM records").fetchone()[0]
    reference = as_of or (datetime.fromisoformat(newest) if newest else datetime.now().replace(microsecond=0))
    _draft(store, state, config, taxonomy, text, table, reference, report, now)
    report.demands = store.conn.execute("SELECT COUNT(*) FROM demand_verdicts WHERE is_demand = 1").fetchone()[0]
    report.themes = len(state.themes(config.clustering.min_size))
    report.outliers = len(state.outliers(config.clustering.min_size))
    report.outlier_share = report.outliers / max(1, len(state.assignment))
    report.seconds = time.perf_counter() - started
    return report


# clustering batches read per chunk: a chunk is whole batches, so chunking never changes a cluster
CHUNK_BATCHES = 40


def _demand_rowids(store: Store, *, every: bool) -> list[int]:
    """Demand records not in a cluster yet (or all of them), in clustering order (time, then id)."""
    unclustered = "" if every else "AND m.record_id IS NULL"
    return [
        r[0]
        for r in store.conn.execute(
            "SELECT r.rowid FROM records r JOIN demand_verdicts v ON v.record_rowid = r.rowid "
            f"LEFT JOIN demand_members m ON m.record_id = r.id WHERE v.is_demand = 1 {unclustered} ORDER BY r.created_at, r.id"
        )
    ]


def _demands(store: Store, rowids: Sequence[int]) -> list[tuple[str, str, str]]:
    """(record id, text, indexed text) of these records, in this order. The indexed text is what
    semantic indexing embedded: its vectors are cached."""
    return [
        (rec.id, _clause(rec), embedded_text(rec.title, rec.text))
        for i in range(0, len(rowids), 2000)
        for rec in store.get_by_rowids(list(rowids[i : i + 2000]))
    ]


def _extend(table: IdfTable, part: IdfTable, words: Sequence[Sequence[str]]) -> None:
    """Add a chunk's document frequencies (from the index) to the run's one table. A store whose
    index is empty has none: the table then counts the demands themselves, chunk by chunk."""
    if part.docs:
        table.docs = part.docs
        table.df.update(part.df)
        return
    fitted = IdfTable.fit(words)
    table.docs += fitted.docs
    for word, df in fitted.df.items():
        table.df[word] = table.df.get(word, 0) + df


def _attach_repeats(store: Store, state: ClusterState) -> None:
    """Repeats are filtered out of clustering (they would only pull centroids), but they are the
    volume of a theme: each joins its original's cluster as evidence, without moving the centroid."""
    rows = store.conn.execute(
        "SELECT r.id, r.duplicate_of FROM records r JOIN demand_verdicts v ON v.record_rowid = r.rowid "
        "LEFT JOIN demand_members m ON m.record_id = r.id WHERE r.duplicate_of IS NOT NULL AND m.record_id IS NULL ORDER BY r.id"
    ).fetchall()
    for record_id, original in rows:
        cluster_id = state.assignment.get(original)
        if cluster_id is not None and record_id not in state.assignment:
            state.clusters[cluster_id].members.append(record_id)
            state.assignment[record_id] = cluster_id
            state.changed.add(cluster_id)


def _center(store: Store, kind: str, embedded: Any) -> Any:
    """The corpus mean the embeddings are centred on: taken from the first clustering run with these
    vectors and kept, so later runs centre the same way (and cluster ids stay stable)."""
    import numpy as np

    key = f"demand_center:{kind}"
    saved = store.get_meta(key)
    if saved is not None:
        return np.asarray(json.loads(saved), dtype=np.float32)
    center = np.asarray(embedded, dtype=np.float32).mean(axis=0)
    store.set_meta(key, json.dumps([round(float(x), 6) for x in center]))
    return center


def _loader(
    store: Store, text: _Text, table: IdfTable, embedder: Embedder | None, weight: float, center: Any
) -> Callable[[list[str]], sparse.csr_matrix]:
    def vectors(record_ids: list[str]) -> sparse.csr_matrix:
        rows = {r.id: r for r in _records(store, record_ids)}
        texts = [_clause(rows[i]) if i in rows else "" for i in record_ids]
        lexical = vectorize(list(zip(text.many(texts), texts, strict=True)), table.idf)
        if embedder is None:
            return lexical
        indexed = [embedded_text(rows[i].title, rows[i].text) if i in rows else "" for i in record_ids]
        return combine(lexical, embedder.embed(indexed), weight, center)

    def load(record_ids: list[str]) -> sparse.csr_matrix:
        # a read at a time: the members of a big theme are never all records in memory at once
        parts = [vectors(record_ids[i : i + READ]) for i in range(0, len(record_ids), READ)] or [vectors([])]
        return parts[0] if len(parts) == 1 else sparse.vstack(parts).tocsr()

    return load


def _follow_merges(store: Store, events: Sequence[ClusterEvent], now: str) -> None:
    for e in events:
        if e.kind != "merge" or e.other_id is None:
            continue
        gone = store.conn.execute("SELECT id, status FROM proposals WHERE cluster_id = ? AND merged_into IS NULL", (e.other_id,)).fetchone()
        if gone is None:
            continue
        kept = store.conn.execute("SELECT id FROM proposals WHERE cluster_id = ? AND merged_into IS NULL", (e.cluster_id,)).fetchone()
        if kept is None:
            store.conn.execute("UPDATE proposals SET cluster_id = ?, updated_at = ? WHERE id = ?", (e.cluster_id, now, gone["id"]))
            note = f"its cluster {e.other_id} merged into {e.cluster_id}; the proposal follows"
        else:
            store.conn.execute("UPDATE proposals SET merged_into = ?, updated_at = ? WHERE id = ?", (kept["id"], now, gone["id"]))
            note = f"merged into {kept['id']} with cluster {e.cluster_id}"
        _event(store, gone["id"], "system", "cluster_merged", gone["status"], gone["status"], note, now)


def _event(store: Store, pid: str, actor: str, action: str, old: str | None, new: str | None, note: str, now: str) -> None:
    store.conn.execute("INSERT INTO proposal_events VALUES (?,?,?,?,?,?,?)", (pid, now, actor, action, old, new, note))


def _label_departments(taxonomy: Taxonomy) -> dict[str, str]:
    out = {}
    for facet in taxonomy.facets:
        for lab in facet.labels:
            if lab.department:
                out[facet.path(lab.id)] = lab.department
    return out


def _feedback(store: Store) -> dict[tuple[str, str], float]:
    return {(r[0], r[1]): r[2] for r in store.conn.execute("SELECT label, department, weight FROM routing_feedback")}


def _draft(
    store: Store,
    state: ClusterState,
    config: ProposalConfig,
    taxonomy: Taxonomy,
    text: _Text,
    table: IdfTable,
    as_of: datetime,
    report: BuildReport,
    now: str,
) -> None:
    from nlp.entities import load_places

    themes = [c for c in state.themes(config.clustering.min_size) if c.size >= config.draft.min_size]
    existing = {r["cluster_id"]: r for r in store.conn.execute("SELECT * FROM proposals WHERE merged_into IS NULL")}
    todo = [c for c in themes if c.id in state.changed or c.id not in existing]
    if not todo:
        return
    max_volume = max(_volumes(store, themes))
    departments, feedback, places = _label_departments(taxonomy), _feedback(store), load_places()
    with store.transaction():
        for cluster in todo:
            d = draft_proposal(
                cluster.id,
                _members(store, cluster.members),
                config=config,
                words=text.words,
                idf=table.idf,
                label_departments=departments,
                feedback=feedback,
                province_of=places,
                as_of=as_of,
                max_volume=max_volume,
            )
            if d.priority < config.draft.min_priority:
                continue
            old = existing.get(cluster.id)
            _save_draft(store, d, old, config.version, now)
            report.drafted += old is None
            report.updated += old is not None


def _volumes(store: Store, themes: Sequence[Any], per_read: int = 20_000) -> list[float]:
    """Each theme's volume (records, plus the square root of their likes), its members read a group
    of themes at a time rather than all at once."""
    out: list[float] = []
    group: list[Any] = []
    for i, cluster in enumerate(themes):
        group.append(cluster)
        if i + 1 < len(themes) and sum(c.size for c in group) < per_read:
            continue
        likes = {r.id: member_from_record(r).likes for r in _records(store, [m for c in group for m in c.members])}
        out += [sum(m in likes for m in c.members) + sum(likes.get(m, 0) for m in c.members) ** 0.5 for c in group]
        group = []
    return out


# records hydrated at a time when a theme's members are read (drafts, volumes, splits): a record
# with its labels weighs some kilobytes, and the biggest theme of a million records holds tens of thousands
READ = 2000


def _records(store: Store, record_ids: Sequence[str]) -> Iterator[Any]:
    """The records, in the given order, ``READ`` at a time (one lookup and one hydration per read)."""
    for i in range(0, len(record_ids), READ):
        part = record_ids[i : i + READ]
        known = store.lookup(part)
        by_id = {r.id: r for r in store.get_by_rowids([rowid for rowid, _ in known.values()])}
        yield from (by_id[r] for r in part if r in by_id)


def _members(store: Store, record_ids: Sequence[str]) -> list[Member]:
    return [member_from_record(r) for r in _records(store, record_ids)]


def _save_draft(store: Store, d: Draft, old: Any, version: str, now: str) -> None:
    content = (
        d.title,
        d.summary,
        json.dumps(d.keywords, ensure_ascii=False),
        d.size,
        d.tier,
        d.tier_reason,
        d.priority,
        json.dumps(d.dimensions),
        json.dumps(d.evidence, ensure_ascii=False),
        json.dumps(d.department_scores, ensure_ascii=False),
    )
    if old is None:
        pid = "P-" + d.cluster_id[1:]
        store.conn.execute(
            "INSERT INTO proposals(id, cluster_id, title, summary, keywords, size, tier, tier_reason, priority, dimensions, evidence, "
            "department_scores, status, department, config_version, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (pid, d.cluster_id, *content, "draft", d.department, version, now, now),
        )
        _event(store, pid, "system", "drafted", None, "draft", f"{d.size} records, priority {d.priority:.2f}", now)
        return
    department = old["department"] if old["department_set_by"] else d.department  # a reviewer's routing stands
    store.conn.execute(
        "UPDATE proposals SET title = ?, summary = ?, keywords = ?, size = ?, tier = ?, tier_reason = ?, priority = ?, dimensions = ?, "
        "evidence = ?, department_scores = ?, department = ?, config_version = ?, updated_at = ? WHERE id = ?",
        (*content, department, version, now, old["id"]),
    )
    if d.size != old["size"]:
        _event(store, old["id"], "system", "refreshed", old["status"], old["status"], f"{old['size']} -> {d.size} records", now)


def list_proposals(store: Store, *, status: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    ensure_tables(store)
    where, params = "WHERE merged_into IS NULL", []
    if status:
        where, params = where + " AND status = ?", [status]
    rows = store.conn.execute(f"SELECT * FROM proposals {where} ORDER BY priority DESC, id LIMIT ?", [*params, limit]).fetchall()
    return [proposal_row(r) for r in rows]


def get_proposal(store: Store, proposal_id: str) -> dict[str, Any]:
    ensure_tables(store)
    row = store.conn.execute("SELECT * FROM proposals WHERE id = ?", (proposal_id,)).fetchone()
    if row is None:
        raise InsightsError(ErrorCode.E408, proposal_id=proposal_id)
    out = proposal_row(row)
    out["history"] = [
        dict(e) for e in store.conn.execute("SELECT * FROM proposal_events WHERE proposal_id = ? ORDER BY rowid", (proposal_id,))
    ]
    return out


def set_status(
    store: Store,
    proposal_id: str,
    status: str | None,
    *,
    actor: str,
    note: str = "",
    assignee: str | None = None,
    due: str | None = None,
    department: str | None = None,
) -> dict[str, Any]:
    """Move a proposal along the workflow and/or set assignee, due date, department; all audited.
    Accepting, rejecting or re-routing teaches the routing (``routing_feedback``)."""
    current = get_proposal(store, proposal_id)
    now = _now()
    with store.transaction():
        if status and status != current["status"]:
            if status not in STATUSES or not allowed(current["status"], status):
                raise InsightsError(
                    ErrorCode.E407,
                    proposal_id=proposal_id,
                    current=current["status"],
                    wanted=status,
                    allowed=", ".join(TRANSITIONS.get(current["status"], ())) or "none (final)",
                )
            store.conn.execute("UPDATE proposals SET status = ?, updated_at = ? WHERE id = ?", (status, now, proposal_id))
            _event(store, proposal_id, actor, "status", current["status"], status, note, now)
            if status in ("accepted", "rejected"):
                _teach(store, current, current["department"], 1.0 if status == "accepted" else -0.5)
        for column, value in (("assignee", assignee), ("due", due)):
            if value is not None and value != current[column]:
                store.conn.execute(f"UPDATE proposals SET {column} = ?, updated_at = ? WHERE id = ?", (value, now, proposal_id))
                _event(
                    store,
                    proposal_id,
                    actor,
                    column,
                    None,
                    None,
                    f"{column}: {value}. {note}".strip(),
                    now,
                )
        if department and department != current["department"]:
            store.conn.execute(
                "UPDATE proposals SET department = ?, department_set_by = ?, updated_at = ? WHERE id = ?",
                (department, actor, now, proposal_id),
            )
            _event(store, proposal_id, actor, "department", None, None, f"{current['department']} -> {department}. {note}".strip(), now)
            _teach(store, current, current["department"], -1.0)
            _teach(store, current, department, 1.0)
    return get_proposal(store, proposal_id)


def _teach(store: Store, proposal: dict[str, Any], department: str, weight: float) -> None:
    labels = {**proposal["evidence"].get("demand_category", {}), **proposal["evidence"].get("complaint_type", {})}
    for label in labels:
        store.conn.execute(
            "INSERT INTO routing_feedback(label, department, weight) VALUES (?, ?, ?) "
            "ON CONFLICT(label, department) DO UPDATE SET weight = weight + excluded.weight",
            (label, department, weight),
        )
