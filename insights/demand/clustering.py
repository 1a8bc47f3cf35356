"""Incremental, deterministic clustering of demands into themes, with stable cluster ids.

Vectors: hashed content words and character bigrams (stateless, so a vector never changes when
the corpus grows), weighted by IDF from the index and l2-normalised; optionally concatenated with
the record's cached embedding. Records are taken in a fixed order (time, then id) in mini-batches:

- a record joins the most similar cluster when the cosine to its centroid reaches ``join``;
  otherwise it seeds a new cluster whose id derives from its record id (``K`` + hash), so the same
  data always yields the same ids and a cluster keeps its id as records join it later;
- after each run, clusters whose centroids reach ``merge`` are merged into the larger (older on a
  tie), and a cluster whose members have drifted apart is split in two by 2-means; both are
  recorded as events, and the surviving id is kept;
- clusters below ``min_size`` are not themes: their members are reported as outliers.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

__all__ = ["ClusterEvent", "ClusterParams", "ClusterState", "Clusterer", "cluster_id_for", "combine", "vectorize"]

logger = logging.getLogger(__name__)

N_FEATURES = 2**18


def cluster_id_for(record_id: str) -> str:
    return "K" + hashlib.sha1(record_id.encode()).hexdigest()[:10]


@dataclass(frozen=True)
class ClusterParams:
    join: float = 0.25
    merge: float = 0.5
    split_cohesion: float = 0.2  # mean member-to-centroid cosine below this: try a split
    min_size: int = 3
    batch: int = 256
    embedding_weight: float = 0.5  # share of the cosine from embeddings, when there are any


@dataclass
class Cluster:
    id: str
    total: sparse.csr_matrix  # sum of member vectors (1 x N)
    members: list[str] = field(default_factory=list)  # record ids, in joining order

    @property
    def size(self) -> int:
        return len(self.members)


@dataclass(frozen=True)
class ClusterEvent:
    kind: str  # new | merge | split
    cluster_id: str
    other_id: str | None = None
    detail: str = ""


@dataclass
class ClusterState:
    clusters: dict[str, Cluster] = field(default_factory=dict)
    assignment: dict[str, str] = field(default_factory=dict)  # record id -> cluster id
    changed: set[str] = field(default_factory=set)  # cluster ids created, grown, merged (away) or split since loading

    def themes(self, min_size: int) -> list[Cluster]:
        return sorted((c for c in self.clusters.values() if c.size >= min_size), key=lambda c: (-c.size, c.id))

    def outliers(self, min_size: int) -> list[str]:
        return sorted(r for c in self.clusters.values() if c.size < min_size for r in c.members)


def hashed_features(words: Sequence[str], text: str) -> dict[int, float]:
    """Feature index -> count for content words and character bigrams of the text's Han characters."""
    counts: dict[int, float] = {}
    grams = [text[i : i + 2] for i in range(len(text) - 1) if "\u4e00" <= text[i] <= "\u9fff" and "\u4e00" <= text[i + 1] <= "\u9fff"]
    for feat in [*("w:" + w for w in words), *("g:" + g for g in grams)]:
        idx = int.from_bytes(hashlib.blake2b(feat.encode(), digest_size=8).digest(), "little") % N_FEATURES
        counts[idx] = counts.get(idx, 0.0) + 1.0
    return counts


def vectorize(items: Sequence[tuple[list[str], str]], idf: Callable[[str], float] | None = None) -> sparse.csr_matrix:
    """l2-normalised sparse rows: sublinear counts, times IDF of the words (bigrams weigh 0.5)."""
    rows, cols, vals = [], [], []
    for r, (words, text) in enumerate(items):
        weights = {w: (idf(w) if idf else 1.0) for w in set(words)}
        feats = hashed_features(words, text)
        word_idx = {int.from_bytes(hashlib.blake2b(("w:" + w).encode(), digest_size=8).digest(), "little") % N_FEATURES: w for w in weights}
        for idx, count in feats.items():
            weight = weights[word_idx[idx]] if idx in word_idx else 0.5
            rows.append(r)
            cols.append(idx)
            vals.append((1.0 + np.log(count)) * weight)
    matrix = sparse.csr_matrix((vals, (rows, cols)), shape=(len(items), N_FEATURES), dtype=np.float64)
    norms = np.sqrt(matrix.multiply(matrix).sum(axis=1)).A1
    norms[norms == 0] = 1.0
    return sparse.csr_matrix(sparse.diags(1.0 / norms) @ matrix)


def combine(
    lexical: sparse.csr_matrix, embeddings: np.ndarray | None, weight: float, center: np.ndarray | None = None
) -> sparse.csr_matrix:
    """Lexical and embedding vectors side by side, scaled so that the cosine of two combined rows is
    ``(1 - weight) * lexical cosine + weight * embedding cosine``.

    E5 similarities are compressed (unrelated Chinese texts score about 0.9), so embeddings are
    first centred on ``center``, a fixed corpus mean, which spreads them over the full range."""
    if embeddings is None or weight <= 0:
        return lexical
    dense = embeddings - center if center is not None else embeddings
    norms = np.linalg.norm(dense, axis=1, keepdims=True)
    dense = dense / np.where(norms == 0, 1.0, norms)
    return sparse.hstack([lexical * np.sqrt(1 - weight), sparse.csr_matrix(dense * np.sqrt(weight))]).tocsr()


class Clusterer:
    """Assigns records to clusters incrementally (see the module docstring)."""

    def __init__(self, params: ClusterParams | None = None) -> None:
        self.params = params or ClusterParams()

    def run(
        self,
        state: ClusterState,
        record_ids: Sequence[str],
        vectors: sparse.csr_matrix,
        loader: Callable[[list[str]], sparse.csr_matrix] | None = None,
    ) -> list[ClusterEvent]:
        """Add records (already in their fixed order) with their vectors; returns what happened.

        ``loader`` gives vectors of earlier members, so a grown cluster can be checked for a split."""
        events: list[ClusterEvent] = []
        touched: set[str] = set()
        vectors_by_id = {rid: vectors[i] for i, rid in enumerate(record_ids)}
        for start in range(0, len(record_ids), self.params.batch):
            ids = [r for r in record_ids[start : start + self.params.batch] if r not in state.assignment]
            if ids:
                block = sparse.vstack([vectors_by_id[r] for r in ids]).tocsr()
                events += self._assign_batch(state, ids, block, touched)
        events += self._merge(state, touched)
        events += self._split(state, touched, vectors_by_id, loader)
        state.changed |= touched | {e.other_id for e in events if e.other_id}
        return events

    def _centroids(self, state: ClusterState) -> tuple[list[str], sparse.csr_matrix | None]:
        ids = sorted(state.clusters)
        if not ids:
            return ids, None
        totals = sparse.vstack([state.clusters[i].total for i in ids]).tocsr()
        norms = np.sqrt(totals.multiply(totals).sum(axis=1)).A1
        norms[norms == 0] = 1.0
        return ids, sparse.csr_matrix(sparse.diags(1.0 / norms) @ totals)

    def _assign_batch(self, state: ClusterState, ids: list[str], block: sparse.csr_matrix, touched: set[str]) -> list[ClusterEvent]:
        cids, centroids = self._centroids(state)
        to_old = (block @ centroids.T).toarray() if centroids is not None else np.zeros((len(ids), 0))
        within = (block @ block.T).toarray()
        new_here: list[tuple[str, int]] = []  # (cluster id, seed row) created in this batch
        events = []
        for i, rid in enumerate(ids):
            best_id, best = None, -1.0
            if to_old.shape[1]:
                j = int(np.argmax(to_old[i]))
                best_id, best = cids[j], float(to_old[i, j])
            for cid, row in new_here:  # clusters seeded earlier in this batch: compare with their seed
                if within[i, row] > best:
                    best_id, best = cid, float(within[i, row])
            if best_id is not None and best >= self.params.join:
                cluster = state.clusters[best_id]
                cluster.total = cluster.total + block[i]
                cluster.members.append(rid)
            else:
                best_id = cluster_id_for(rid)
                state.clusters[best_id] = Cluster(best_id, block[i].copy(), [rid])
                new_here.append((best_id, i))
                events.append(ClusterEvent("new", best_id, detail=rid))
            state.assignment[rid] = best_id
            touched.add(best_id)
        return events

    def _merge(self, state: ClusterState, touched: set[str]) -> list[ClusterEvent]:
        """Merge clusters whose centroids reach ``merge``, in rounds: only clusters that changed are
        compared with all others, best pairs first, each cluster merged at most once a round."""
        events = []
        frontier = sorted(touched & set(state.clusters))
        while frontier:
            cids, centroids = self._centroids(state)
            if centroids is None or len(cids) < 2:
                break
            position = {c: i for i, c in enumerate(cids)}
            rows = [position[c] for c in frontier]
            sims = (centroids[rows] @ centroids.T).toarray()
            for k, row in enumerate(rows):
                sims[k, row] = 0.0
            hits = np.argwhere(sims >= self.params.merge)
            pairs = sorted(((-sims[k, j], frontier[k], cids[j]) for k, j in hits), key=lambda p: (p[0], *sorted(p[1:])))
            done: set[str] = set()
            nxt: set[str] = set()
            for neg, a, b in pairs:
                if a in done or b in done:
                    continue
                keep, gone = sorted((state.clusters[a], state.clusters[b]), key=lambda c: (-c.size, c.id))
                keep.total = keep.total + gone.total
                keep.members += gone.members
                for rid in gone.members:
                    state.assignment[rid] = keep.id
                del state.clusters[gone.id]
                done |= {a, b}
                nxt.add(keep.id)
                touched.add(keep.id)
                events.append(ClusterEvent("merge", keep.id, gone.id, f"cosine {-neg:.2f}"))
            frontier = sorted(nxt)
        return events

    def _split(
        self,
        state: ClusterState,
        touched: set[str],
        vectors: dict[str, sparse.csr_matrix],
        loader: Callable[[list[str]], sparse.csr_matrix] | None,
    ) -> list[ClusterEvent]:
        events = []
        for cid in sorted(touched):
            cluster = state.clusters.get(cid)
            if cluster is None or cluster.size < 2 * self.params.min_size:
                continue
            missing = [r for r in cluster.members if r not in vectors]
            if missing and loader is None:
                continue
            if missing and loader is not None:
                vectors.update(zip(missing, loader(missing), strict=True))
            rows = sparse.vstack([vectors[r] for r in cluster.members]).tocsr()
            centroid = cluster.total / max(1e-9, float(np.sqrt(cluster.total.multiply(cluster.total).sum())))
            cohesion = float((rows @ centroid.T).toarray().mean())
            if cohesion >= self.params.split_cohesion:
                continue
            halves = _two_means(rows)
            if halves is None or min(len(h) for h in halves) < self.params.min_size:
                continue
            big, small = sorted(halves, key=lambda h: (-len(h), h[0]))
            moved = [cluster.members[i] for i in small]
            new_id = cluster_id_for(moved[0])
            cluster.members = [cluster.members[i] for i in big]
            cluster.total = sparse.csr_matrix(rows[big].sum(axis=0))
            state.clusters[new_id] = Cluster(new_id, sparse.csr_matrix(rows[small].sum(axis=0)), moved)
            touched.add(new_id)
            for rid in moved:
                state.assignment[rid] = new_id
            events.append(ClusterEvent("split", cid, new_id, f"cohesion {cohesion:.2f}"))
        return events


def _two_means(rows: sparse.csr_matrix, iterations: int = 10) -> tuple[list[int], list[int]] | None:
    """Deterministic 2-means: seeds are the member least like the mean and the one least like it."""
    mean = np.asarray(rows.mean(axis=0))
    first = int(np.argmin(rows @ mean.T))
    second = int(np.argmin((rows @ rows[first].T).toarray()))
    if first == second:
        return None
    seeds = sparse.vstack([rows[first], rows[second]]).tocsr()
    labels = np.zeros(rows.shape[0], dtype=int)
    for _ in range(iterations):
        labels = np.argmax((rows @ seeds.T).toarray(), axis=1)
        if labels.min() == labels.max():
            return None
        seeds = sparse.csr_matrix(np.vstack([np.asarray(rows[labels == k].mean(axis=0)) for k in (0, 1)]))
    return [int(i) for i in np.where(labels == 0)[0]], [int(i) for i in np.where(labels == 1)[0]]
