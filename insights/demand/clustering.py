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

Scale: a join adds to its centroid once per batch, a split is screened by |total| / size before any
member is loaded, and beyond ``exact_limit`` clusters candidates (for joins and merges) come from an
approximate index (``insights.demand.candidates``) and are then scored exactly.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy import sparse

from insights.demand.candidates import CandidateIndex, Sketcher, nearest_pairs

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
    exact_limit: int = 4096  # beyond this many clusters, candidates come from an approximate index
    neighbours: int = 32  # nearest index entries per record whose clusters are candidates
    merge_neighbours: int = 8  # nearest centroids per changed cluster checked for a merge


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
    candidates: CandidateIndex | None = field(default=None, repr=False)  # for many clusters; never stored

    def themes(self, min_size: int) -> list[Cluster]:
        return sorted((c for c in self.clusters.values() if c.size >= min_size), key=lambda c: (-c.size, c.id))

    def outliers(self, min_size: int) -> list[str]:
        return sorted(r for c in self.clusters.values() if c.size < min_size for r in c.members)


@lru_cache(maxsize=1 << 20)
def _feature_index(feature: str) -> int:
    # a memo, not state: the index is a pure function of the feature, and hashing dominated vectorising
    return int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "little") % N_FEATURES


def _bigrams(text: str) -> list[str]:
    return [text[i : i + 2] for i in range(len(text) - 1) if "\u4e00" <= text[i] <= "\u9fff" and "\u4e00" <= text[i + 1] <= "\u9fff"]


def hashed_features(words: Sequence[str], text: str) -> dict[int, float]:
    """Feature index -> count for content words and character bigrams of the text's Han characters."""
    counts: dict[int, float] = {}
    for feat in [*("w:" + w for w in words), *("g:" + g for g in _bigrams(text))]:
        idx = _feature_index(feat)
        counts[idx] = counts.get(idx, 0.0) + 1.0
    return counts


def vectorize(items: Sequence[tuple[list[str], str]], idf: Callable[[str], float] | None = None) -> sparse.csr_matrix:
    """l2-normalised sparse rows: sublinear counts, times IDF of the words (bigrams weigh 0.5)."""
    rows, cols, vals = [], [], []
    for r, (words, text) in enumerate(items):
        word_weight = {_feature_index("w:" + w): (idf(w) if idf else 1.0) for w in set(words)}
        for idx, count in hashed_features(words, text).items():
            rows.append(r)
            cols.append(idx)
            vals.append((1.0 + np.log(count)) * word_weight.get(idx, 0.5))
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
    """Assigns records to clusters incrementally (see the module docstring).

    Up to ``exact_limit`` clusters, each batch is compared with every centroid. Beyond it, each batch
    is compared exactly with the candidate clusters an approximate index finds (see
    ``insights.demand.candidates``), and merges are looked for among approximate nearest centroids:
    cost grows with records x candidates instead of records x clusters."""

    def __init__(self, params: ClusterParams | None = None) -> None:
        self.params = params or ClusterParams()
        self._sketcher: Sketcher | None = None

    def run(
        self,
        state: ClusterState,
        record_ids: Sequence[str],
        vectors: sparse.csr_matrix,
        loader: Callable[[list[str]], sparse.csr_matrix] | None = None,
    ) -> list[ClusterEvent]:
        """Add records (already in their fixed order) with their vectors; returns what happened.

        ``loader`` gives vectors of earlier members, so a cluster that drifted apart can be split."""
        touched: set[str] = set()
        events = self.assign(state, record_ids, vectors, touched)
        current = {rid: i for i, rid in enumerate(record_ids)}

        def load(ids: list[str]) -> sparse.csr_matrix | None:
            if all(r in current for r in ids):
                return vectors[[current[r] for r in ids]]
            return loader(ids) if loader is not None else None

        return events + self.settle(state, touched, load)

    def assign(self, state: ClusterState, record_ids: Sequence[str], vectors: sparse.csr_matrix, touched: set[str]) -> list[ClusterEvent]:
        """Only the joining and seeding, a batch at a time: call it chunk by chunk (chunks a multiple of
        ``batch`` long give the same clusters as one call), then ``settle`` once."""
        events: list[ClusterEvent] = []
        for start in range(0, len(record_ids), self.params.batch):
            rows = [i for i in range(start, min(start + self.params.batch, len(record_ids))) if record_ids[i] not in state.assignment]
            if rows:
                events += self._assign_batch(state, [record_ids[i] for i in rows], vectors[rows], touched)
        return events

    def settle(self, state: ClusterState, touched: set[str], loader: Callable[[list[str]], sparse.csr_matrix | None]) -> list[ClusterEvent]:
        """Merges and splits among the clusters ``assign`` touched; ``loader`` gives members' vectors."""
        events = self._merge(state, touched)
        events += self._split(state, touched, loader)
        state.changed |= touched | {e.other_id for e in events if e.other_id}
        return events

    def _sketch(self, vectors: sparse.csr_matrix) -> np.ndarray:
        if self._sketcher is None or self._sketcher.width != vectors.shape[1]:
            self._sketcher = Sketcher(N_FEATURES, vectors.shape[1])
        return self._sketcher(vectors)

    def _candidates(self, state: ClusterState, block: sparse.csr_matrix) -> list[str]:
        """Every cluster while there are few; else the approximate index's candidates."""
        if state.candidates is None and len(state.clusters) <= self.params.exact_limit:
            return sorted(state.clusters)
        if state.candidates is None:  # warm it with today's centroids; records are appended from now on
            ids = sorted(state.clusters)
            sketches = self._sketch(_normalised(state, ids, block.shape[1]))
            state.candidates = CandidateIndex(sketches.shape[1], self.params.neighbours)
            state.candidates.add(ids, sketches, clusters=True)
            logger.info("clustering: %d clusters, candidates from an approximate index from now on", len(ids))
        return state.candidates.candidates(self._sketch(block), state.assignment, state.clusters)

    def _assign_batch(self, state: ClusterState, ids: list[str], block: sparse.csr_matrix, touched: set[str]) -> list[ClusterEvent]:
        cids = self._candidates(state, block)
        centroids = _normalised(state, cids, block.shape[1]) if cids else None
        to_old = (block @ centroids.T).toarray() if centroids is not None else np.zeros((len(ids), 0))
        within = (block @ block.T).toarray()
        new_here: list[tuple[str, int]] = []  # (cluster id, seed row) created in this batch
        joined: dict[str, list[int]] = {}  # centroids move once, after the batch, as every row saw them before it
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
                joined.setdefault(best_id, []).append(i)
                state.clusters[best_id].members.append(rid)
            else:
                best_id = cluster_id_for(rid)
                state.clusters[best_id] = Cluster(best_id, block[i].copy(), [rid])
                new_here.append((best_id, i))
                events.append(ClusterEvent("new", best_id, detail=rid))
            state.assignment[rid] = best_id
            touched.add(best_id)
        for cid, rows in joined.items():
            state.clusters[cid].total = state.clusters[cid].total + _row_sum(block, rows)
        if state.candidates is not None:
            state.candidates.add(ids, self._sketch(block), clusters=False)
        return events

    def _merge(self, state: ClusterState, touched: set[str]) -> list[ClusterEvent]:
        """Merge clusters whose centroids reach ``merge``, in rounds: only clusters that changed are
        compared with the others (all of them, or the approximate nearest when there are many), best
        pairs first, each cluster merged at most once a round."""
        events = []
        frontier = sorted(touched & set(state.clusters))
        while frontier and len(state.clusters) > 1:
            done: set[str] = set()
            nxt: set[str] = set()
            for neg, a, b in self._merge_pairs(state, frontier):
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

    def _merge_pairs(self, state: ClusterState, frontier: list[str]) -> list[tuple[float, str, str]]:
        """(-cosine, frontier cluster, other) for centroid pairs reaching ``merge``, best first."""
        cids = sorted(state.clusters)
        width = state.clusters[cids[0]].total.shape[1]
        position = {c: i for i, c in enumerate(cids)}
        if len(cids) <= self.params.exact_limit:
            centroids = _normalised(state, cids, width)
            rows = [position[c] for c in frontier]
            sims = (centroids[rows] @ centroids.T).toarray()
            hits = [(k, int(j)) for k, j in np.argwhere(sims >= self.params.merge) if rows[k] != j]
            found = [(-float(sims[k, j]), frontier[k], cids[j]) for k, j in hits]
        else:
            found = []
            sketches = np.vstack([self._sketch(_normalised(state, cids[i : i + 4096], width)) for i in range(0, len(cids), 4096)])
            near = nearest_pairs(sketches, [position[c] for c in frontier], self.params.merge_neighbours)
            for start in range(0, len(near), 8192):  # exact cosines of the candidate pairs, a slice at a time
                part = near[start : start + 8192]
                left = _normalised(state, [cids[a] for a, _ in part], width)
                right = _normalised(state, [cids[b] for _, b in part], width)
                sims = np.asarray(left.multiply(right).sum(axis=1)).ravel()
                found += [(-float(s), cids[a], cids[b]) for (a, b), s in zip(part, sims, strict=True) if s >= self.params.merge]
        return sorted(found, key=lambda p: (p[0], *sorted(p[1:])))

    def _split(self, state: ClusterState, touched: set[str], loader: Callable[[list[str]], sparse.csr_matrix | None]) -> list[ClusterEvent]:
        events = []
        for cid in sorted(touched):
            cluster = state.clusters.get(cid)
            if cluster is None or cluster.size < 2 * self.params.min_size:
                continue
            # members are unit vectors summing to ``total``, so their mean cosine to the centroid is
            # |total| / size: only clusters this screens in (repeats count in size, not in total, so it
            # never screens too few) have their members' vectors loaded
            if float(np.sqrt(cluster.total.multiply(cluster.total).sum())) / cluster.size >= self.params.split_cohesion:
                continue
            rows = loader(list(cluster.members))
            if rows is None:
                continue
            rows = sparse.csr_matrix(rows)
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
            cluster.total = _row_sum(rows, big)
            state.clusters[new_id] = Cluster(new_id, _row_sum(rows, small), moved)
            if state.candidates is not None:  # its members may all predate the index: give it an entry
                state.candidates.add([new_id], self._sketch(state.clusters[new_id].total), clusters=True)
            touched.add(new_id)
            for rid in moved:
                state.assignment[rid] = new_id
            events.append(ClusterEvent("split", cid, new_id, f"cohesion {cohesion:.2f}"))
        return events


def _row_sum(matrix: sparse.csr_matrix, rows: list[int]) -> sparse.csr_matrix:
    """The sum of some rows, kept sparse (a dense 2^18-wide sum per cluster and batch would dominate)."""
    if len(rows) == 1:
        return matrix[rows[0]]
    return sparse.csr_matrix(sparse.csr_matrix(np.ones((1, len(rows)))) @ matrix[rows])


def _normalised(state: ClusterState, cids: Sequence[str], width: int) -> sparse.csr_matrix:
    """The clusters' centroids (totals scaled to unit length), one row each."""
    if not cids:
        return sparse.csr_matrix((0, width))
    totals = sparse.vstack([state.clusters[c].total for c in cids]).tocsr()
    norms = np.sqrt(totals.multiply(totals).sum(axis=1)).A1
    norms[norms == 0] = 1.0
    return sparse.csr_matrix(sparse.diags(1.0 / norms) @ totals)


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
