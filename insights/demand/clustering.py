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
import re
import weakref
from collections import Counter
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
    neighbours: int = 64  # nearest index entries per record whose clusters are candidates
    merge_neighbours: int = 8  # nearest centroids per changed cluster checked for a merge


@dataclass
class Cluster:
    id: str
    total: sparse.csr_matrix  # sum of member vectors (1 x N)
    members: list[str] = field(default_factory=list)  # record ids, in joining order
    _norm: tuple[weakref.ref[sparse.csr_matrix], float] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def size(self) -> int:
        return len(self.members)

    def norm(self) -> float:
        """|total|, computed once per total (a new total is a new object), with its indices sorted."""
        if self._norm is None or self._norm[0]() is not self.total:
            self.total.sort_indices()
            # a weak reference: a strong one kept every replaced total alive until the next norm()
            self._norm = (weakref.ref(self.total), float(np.sqrt(self.total.data @ self.total.data)))
        return self._norm[1]

    def dot(self, rows: sparse.csr_matrix, which: Sequence[int]) -> np.ndarray:
        """Cosines of some rows (unit vectors) with this centroid: each row's features looked up in the
        total (sorted indices), so the cost is the rows' length, not the total's."""
        norm = self.norm()
        starts, ends = rows.indptr[which], rows.indptr[np.asarray(which) + 1]
        idx = np.concatenate([rows.indices[a:b] for a, b in zip(starts, ends, strict=True)])
        vals = np.concatenate([rows.data[a:b] for a, b in zip(starts, ends, strict=True)])
        owner = np.repeat(np.arange(len(which)), ends - starts)
        if not len(idx) or not self.total.nnz or norm == 0:
            return np.zeros(len(which))
        pos = np.minimum(np.searchsorted(self.total.indices, idx), self.total.nnz - 1)
        prod = np.where(self.total.indices[pos] == idx, self.total.data[pos] * vals, 0.0)
        return np.bincount(owner, weights=prod, minlength=len(which)) / norm


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


@lru_cache(maxsize=1 << 17)  # ~25 MB; 397k entries took 80 MB at 100k demands, and the hit rate stays high
def _feature_index(feature: str) -> int:
    # a memo, not state: the index is a pure function of the feature, and hashing dominated vectorising
    return int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "little") % N_FEATURES


_HAN_RUN = re.compile(r"[\u4e00-\u9fff]{2,}")


def _bigrams(text: str) -> list[str]:
    return [run[i : i + 2] for run in _HAN_RUN.findall(text) for i in range(len(run) - 1)]


def _features(words: Sequence[str], text: str) -> list[str]:
    return ["w:" + w for w in words] + ["g:" + g for g in _bigrams(text)]


def vectorize(items: Sequence[tuple[list[str], str]], idf: Callable[[str], float] | None = None) -> sparse.csr_matrix:
    """l2-normalised sparse rows: sublinear counts, times IDF of the words (bigrams weigh 0.5)."""
    weights: dict[str, float] = {}  # idf once per distinct word of the call
    indptr: list[int] = [0]
    cols: list[int] = []
    counts: list[int] = []
    scale: list[float] = []
    for words, text in items:
        tally = Counter(map(_feature_index, _features(words, text)))
        word_weight: dict[int, float] = {}
        for w in set(words):
            if w not in weights:
                weights[w] = idf(w) if idf else 1.0
            # two words hashed to one column keep the larger weight: a set's order changes from one
            # process to the next (string hashing is salted), and the vector must not
            column = _feature_index("w:" + w)
            word_weight[column] = max(weights[w], word_weight.get(column, 0.0))
        cols += tally.keys()
        counts += tally.values()
        scale += [word_weight.get(i, 0.5) for i in tally]
        indptr.append(len(cols))
    data = (1.0 + np.log(np.asarray(counts, dtype=np.float64))) * np.asarray(scale, dtype=np.float64)
    matrix = sparse.csr_matrix((data, np.asarray(cols, dtype=np.int32), np.asarray(indptr)), shape=(len(items), N_FEATURES))
    matrix.sort_indices()
    norms = np.sqrt(matrix.multiply(matrix).sum(axis=1)).A1
    norms[norms == 0] = 1.0
    # float32 from here on: cluster totals are sums of these rows, and at a million demands their
    # float64 copies alone took a few hundred MB for no difference a threshold can see
    return sparse.csr_matrix(sparse.diags((1.0 / norms).astype(np.float32)) @ matrix.astype(np.float32))


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
    # Python floats, not NumPy scalars: a float64 scalar would promote the float32 rows
    scaled = (dense * float(np.sqrt(weight))).astype(np.float32, copy=False)
    return sparse.hstack([lexical * float(np.sqrt(1 - weight)), sparse.csr_matrix(scaled)], dtype=np.float32).tocsr()


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

    def _best_existing(self, state: ClusterState, block: sparse.csr_matrix) -> list[tuple[str | None, float]]:
        """Each row's most similar existing cluster and the cosine: among all clusters while there are
        few, else among the approximate index's candidates (ties: the smallest id, either way)."""
        if state.candidates is None and len(state.clusters) <= self.params.exact_limit:
            cids = sorted(state.clusters)
            if not cids:
                return [(None, -1.0)] * block.shape[0]
            sims = (block @ _normalised(state, cids, block.shape[1]).T).toarray()
            best = np.argmax(sims, axis=1)
            return [(cids[j], float(sims[i, j])) for i, j in enumerate(best)]
        if state.candidates is None:  # warm it with today's centroids; records are appended from now on
            ids = sorted(state.clusters)
            sketches = self._sketch(_normalised(state, ids, block.shape[1]))
            state.candidates = CandidateIndex(sketches.shape[1], self.params.neighbours)
            state.candidates.add(ids, sketches, clusters=True)
            logger.info("clustering: %d clusters, candidates from an approximate index from now on", len(ids))
        by_cluster: dict[str, list[int]] = {}
        for i, cids in enumerate(state.candidates.candidates(self._sketch(block), state.assignment, state.clusters)):
            for cid in cids:
                by_cluster.setdefault(cid, []).append(i)
        out: list[tuple[str | None, float]] = [(None, -1.0)] * block.shape[0]
        for cid in sorted(by_cluster):
            rows = by_cluster[cid]
            for i, sim in zip(rows, state.clusters[cid].dot(block, rows), strict=True):
                if sim > out[i][1]:
                    out[i] = (cid, float(sim))
        return out

    def _assign_batch(self, state: ClusterState, ids: list[str], block: sparse.csr_matrix, touched: set[str]) -> list[ClusterEvent]:
        best_old = self._best_existing(state, block)
        within = (block @ block.T).toarray()
        new_here: list[tuple[str, int]] = []  # (cluster id, seed row) created in this batch
        joined: dict[str, list[int]] = {}  # centroids move once, after the batch, as every row saw them before it
        events = []
        for i, rid in enumerate(ids):
            best_id, best = best_old[i]
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
            # a cluster that doubled gets an entry of its centroid as it is now: members find the
            # records near them, the centroid entry finds records near the theme as a whole
            doubled = sorted(c for c, rows in joined.items() if _doubled(state.clusters[c].size, len(rows)))
            if doubled:
                state.candidates.add(doubled, self._sketch(_normalised(state, doubled, block.shape[1])), clusters=True)
        return events

    def _merge(self, state: ClusterState, touched: set[str]) -> list[ClusterEvent]:
        """Merge clusters whose centroids reach ``merge``, in rounds: only clusters that changed are
        compared with the others (all of them, or the approximate nearest when there are many), best
        pairs first, each cluster merged at most once a round."""
        events = []
        frontier = sorted(touched & set(state.clusters))
        sketches: _CentroidSketches | None = None  # the approximate path's, kept across rounds
        while frontier and len(state.clusters) > 1:
            if len(state.clusters) <= self.params.exact_limit:
                pairs = self._exact_pairs(state, frontier)
            else:
                sketches = sketches or _CentroidSketches(state, self._sketch)
                pairs = self._near_pairs(state, sketches.near(frontier, self.params.merge_neighbours))
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
                if sketches is not None:
                    sketches.drop(gone.id)
            frontier = sorted(nxt)
            if sketches is not None:
                sketches.refresh(state, frontier)
        return events

    def _exact_pairs(self, state: ClusterState, frontier: list[str]) -> list[tuple[float, str, str]]:
        """(-cosine, frontier cluster, other) for every centroid pair reaching ``merge``, best first."""
        cids = sorted(state.clusters)
        position = {c: i for i, c in enumerate(cids)}
        centroids = _normalised(state, cids, state.clusters[cids[0]].total.shape[1])
        rows = [position[c] for c in frontier]
        sims = (centroids[rows] @ centroids.T).toarray()
        hits = [(k, int(j)) for k, j in np.argwhere(sims >= self.params.merge) if rows[k] != j]
        return _best_first([(-float(sims[k, j]), frontier[k], cids[j]) for k, j in hits])

    def _near_pairs(self, state: ClusterState, near: list[tuple[str, str]]) -> list[tuple[float, str, str]]:
        """The same for candidate pairs, each scored exactly (the shorter total looked up in the longer)."""
        found = []
        for a, b in near:
            small, big = sorted((state.clusters[a], state.clusters[b]), key=lambda c: c.total.nnz)
            norm = small.norm()
            sim = float(big.dot(small.total, [0])[0]) / norm if norm else 0.0
            if sim >= self.params.merge:
                found.append((-sim, a, b))
        return _best_first(found)

    def _split(self, state: ClusterState, touched: set[str], loader: Callable[[list[str]], sparse.csr_matrix | None]) -> list[ClusterEvent]:
        events = []
        for cid in sorted(touched):
            cluster = state.clusters.get(cid)
            if cluster is None or cluster.size < 2 * self.params.min_size:
                continue
            # members are unit vectors summing to ``total``, so their mean cosine to the centroid is
            # |total| / size: only clusters this screens in (repeats count in size, not in total, so it
            # never screens too few) have their members' vectors loaded
            if cluster.norm() / cluster.size >= self.params.split_cohesion:
                continue
            rows = loader(list(cluster.members))
            if rows is None:
                continue
            rows = sparse.csr_matrix(rows)
            centroid = cluster.total / max(1e-9, cluster.norm())
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


def _doubled(size: int, added: int) -> bool:
    """Did the size pass a power of two (4, 8, 16, ...) when ``added`` members joined?"""
    return size >= 4 and (size - added).bit_length() < size.bit_length()


def _best_first(pairs: list[tuple[float, str, str]]) -> list[tuple[float, str, str]]:
    return sorted(pairs, key=lambda p: (p[0], *sorted(p[1:])))


class _CentroidSketches:
    """Sketches of every centroid for the merge rounds of one build: made once, then only the
    clusters a round merged are sketched again, and merged-away ones dropped."""

    BRUTE_FORCE = 2048  # frontiers up to this size are compared with every sketch, in slices

    def __init__(self, state: ClusterState, sketch: Callable[[sparse.csr_matrix], np.ndarray]) -> None:
        self.sketch, self.cids = sketch, sorted(state.clusters)
        self.row = {c: i for i, c in enumerate(self.cids)}
        width = state.clusters[self.cids[0]].total.shape[1]
        self.matrix = np.vstack([sketch(_normalised(state, self.cids[i : i + 4096], width)) for i in range(0, len(self.cids), 4096)])
        self.alive = np.ones(len(self.cids), dtype=bool)

    def drop(self, cid: str) -> None:
        self.alive[self.row[cid]] = False

    def refresh(self, state: ClusterState, cids: list[str]) -> None:
        if cids:
            width = state.clusters[cids[0]].total.shape[1]
            self.matrix[[self.row[c] for c in cids]] = self.sketch(_normalised(state, cids, width))

    def near(self, frontier: list[str], neighbours: int) -> list[tuple[str, str]]:
        """(frontier cluster, other live cluster) pairs whose sketches are nearest."""
        live = np.flatnonzero(self.alive)
        if len(frontier) > self.BRUTE_FORCE:
            at = {int(r): k for k, r in enumerate(live)}
            pairs = nearest_pairs(self.matrix[live], [at[self.row[c]] for c in frontier], neighbours)
            return [(self.cids[live[a]], self.cids[live[b]]) for a, b in pairs]
        out = []
        for start in range(0, len(frontier), 256):
            part = frontier[start : start + 256]
            sims = self.matrix[[self.row[c] for c in part]] @ self.matrix[live].T
            for c, row in zip(part, sims, strict=True):
                row[live == self.row[c]] = -np.inf
                top = np.argpartition(-row, min(neighbours, len(row) - 1))[:neighbours]
                out += [(c, self.cids[live[j]]) for j in top if np.isfinite(row[j])]
        return out


def _row_sum(matrix: sparse.csr_matrix, rows: list[int]) -> sparse.csr_matrix:
    """The sum of some rows, kept sparse (a dense 2^18-wide sum per cluster and batch would dominate)."""
    if len(rows) == 1:
        return matrix[rows[0]]
    return sparse.csr_matrix(sparse.csr_matrix(np.ones((1, len(rows)), dtype=matrix.dtype)) @ matrix[rows])


def _normalised(state: ClusterState, cids: Sequence[str], width: int) -> sparse.csr_matrix:
    """The clusters' centroids (totals scaled to unit length), one row each."""
    if not cids:
        return sparse.csr_matrix((0, width))
    totals = sparse.vstack([state.clusters[c].total for c in cids]).tocsr()
    norms = np.array([state.clusters[c].norm() for c in cids])
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
