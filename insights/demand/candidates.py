"""Candidate clusters for a batch of demands, when there are too many clusters to compare each
record with every centroid.

Clustering vectors are wide and sparse (2^18 hashed words and bigrams, plus the embedding), so they
are first *sketched*: the lexical part by a sparse random projection (each feature adds ±1/2 to four
of 256 coordinates, seeded, so the sketch is a pure function of the vector), the embedding part kept
as it is. The dot product of two sketches estimates the cosine of the two vectors (with a standard
error of about 0.06 on the lexical share), which is good enough to *find* candidates; the clusterer
then scores the candidates exactly.

The index (usearch HNSW over int8 sketches, in memory, for one build) holds two kinds of entries:

- the centroids of the clusters that existed when it was warmed (a loaded state, or the moment the
  cluster count passed the exact limit);
- every record assigned since, appended after its batch.

A record's candidates are the current clusters of its nearest entries: a record near a cluster's
members is near that cluster. Entries are only ever added (never moved), so the index needs no
updates as centroids drift; entries are added single-threaded, so the same data gives the same
graph and the same clusters.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import sparse

__all__ = ["CandidateIndex", "Sketcher", "nearest_pairs"]

logger = logging.getLogger(__name__)

LEXICAL_DIM = 256
SPREAD = 4  # coordinates each lexical feature lands on
SEED = 20261206


class Sketcher:
    """Projects clustering vectors (``lexical_width`` hashed columns, then the dense embedding
    columns, if any) to small dense float32 rows of unit length."""

    def __init__(self, lexical_width: int, width: int) -> None:
        self.lexical_width, self.width = lexical_width, width
        self.dim = LEXICAL_DIM + (width - lexical_width)
        rng = np.random.default_rng(SEED)
        cols = rng.integers(0, LEXICAL_DIM, size=(lexical_width, SPREAD))
        signs = rng.choice(np.array([-1.0, 1.0], dtype=np.float32), size=(lexical_width, SPREAD)) / np.sqrt(SPREAD)
        dense = width - lexical_width
        rows = np.concatenate([np.repeat(np.arange(lexical_width), SPREAD), np.arange(lexical_width, width)])
        self._projection = sparse.csr_matrix(
            (
                np.concatenate([signs.ravel(), np.ones(dense, dtype=np.float32)]),
                (rows, np.concatenate([cols.ravel(), LEXICAL_DIM + np.arange(dense)])),
            ),
            shape=(width, self.dim),
            dtype=np.float32,
        )

    def __call__(self, vectors: sparse.csr_matrix) -> np.ndarray:
        out = np.asarray((vectors.astype(np.float32) @ self._projection).toarray(), dtype=np.float32)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1.0, norms)


class CandidateIndex:
    """Approximate nearest entries (centroids or records) of a batch, resolved to current clusters."""

    def __init__(self, dim: int, neighbours: int) -> None:
        self.neighbours = neighbours
        self._index: Any = _new_index(dim, neighbours)
        self._owners: list[str] = []  # entry key -> record id or cluster id
        self._is_cluster: list[bool] = []

    def __len__(self) -> int:
        return len(self._owners)

    def add(self, owners: Sequence[str], sketches: np.ndarray, *, clusters: bool) -> None:
        if not len(owners):
            return
        keys = np.arange(len(self._owners), len(self._owners) + len(owners), dtype=np.uint64)
        self._index.add(keys, sketches, threads=1)  # one thread: the same graph every time
        self._owners += owners
        self._is_cluster += [clusters] * len(owners)

    def candidates(self, sketches: np.ndarray, assignment: dict[str, str], alive: Any) -> list[list[str]]:
        """Each row's candidate cluster ids, sorted (``alive`` is the current clusters mapping)."""
        if not self._owners:
            return [[] for _ in range(len(sketches))]
        found = self._index.search(sketches, min(self.neighbours, len(self._owners)), threads=2)
        out = []
        for row in _found(found):
            near: set[str] = set()
            for key in row:
                owner = self._owners[int(key)]
                cid = owner if self._is_cluster[int(key)] else assignment.get(owner)
                if cid is not None and cid in alive:
                    near.add(cid)
            out.append(sorted(near))
        return out


def nearest_pairs(sketches: np.ndarray, frontier: Sequence[int], neighbours: int) -> list[tuple[int, int]]:
    """(frontier position, other position) pairs of approximate nearest sketches, self excluded."""
    index = _new_index(sketches.shape[1], neighbours)
    index.add(np.arange(len(sketches), dtype=np.uint64), sketches, threads=1)
    found = index.search(sketches[list(frontier)], min(neighbours + 1, len(sketches)), threads=2)
    pairs = []
    for position, row in zip(frontier, _found(found), strict=True):
        pairs += [(position, int(k)) for k in row if int(k) != position]
    return pairs


def _new_index(dim: int, neighbours: int) -> Any:
    from usearch.index import Index  # lazily: importing insights must not load native libraries

    # int8 cosine: twice f16's insert speed on these CPUs (no native f16), and candidates found no worse;
    # a sparser graph (12 links, 32 at insert) lost 3 % of best clusters on 10,000 real demands
    return Index(ndim=dim, metric="cos", dtype="i8", connectivity=16, expansion_add=64, expansion_search=max(128, 2 * neighbours))


def _found(found: Any) -> list[np.ndarray]:
    """Each query's keys: usearch answers one query with ``Matches`` and several with ``BatchMatches``."""
    if not hasattr(found, "counts"):
        return [np.asarray(found.keys)]
    return [row[:count] for row, count in zip(found.keys, found.counts, strict=True)]
