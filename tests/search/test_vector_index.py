"""The vector side index: exact and HNSW kNN with filters as masks, and side files that follow the
store incrementally (only logged rowids are re-read) and are rebuilt when missing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import search.vector_index as vi
from search.store import Store

DIM = 32


def _vectors(n: int, seed: int = 0) -> np.ndarray:
    """Clustered unit vectors (like text embeddings: many near neighbours, not uniform noise)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(max(1, n // 50), DIM))
    out = centres[rng.integers(0, len(centres), n)] + 0.35 * rng.normal(size=(n, DIM))
    return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


def _exact(matrix: np.ndarray, rowids: np.ndarray, q: np.ndarray, k: int, allowed: np.ndarray | None = None) -> set[int]:
    sims = matrix.astype(np.float32) @ q
    if allowed is not None:
        sims = np.where(allowed[rowids], sims, -np.inf)
    return {int(rowids[i]) for i in np.argsort(-sims)[:k] if np.isfinite(sims[i])}


def _blobs(n: int, bases: int, seed: int = 5) -> np.ndarray:
    """Like the bench's synthetic vectors: a few real ones, each copied many times with small noise."""
    rng = np.random.default_rng(seed)
    base = _vectors(bases, seed=seed)
    out = base[rng.integers(0, bases, n)] + rng.normal(0.0, 0.03, (n, DIM))
    return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


def _index(n: int, hnsw: bool, matrix: np.ndarray | None = None) -> vi.VectorIndex:
    rowids = np.arange(1, n + 1, dtype=np.int64)
    index = vi.VectorIndex("m", 0, rowids, (_vectors(n) if matrix is None else matrix).astype(np.float16))
    if hnsw:
        vi._start_graph(index)
    return index


def test_exact_search_ranks_and_masks_like_brute_force() -> None:
    index = _index(2000, hnsw=False)
    queries = _vectors(20, seed=1)
    allowed = np.zeros(2001, dtype=bool)
    allowed[::3] = True
    for q in queries:
        ids, sims = index.search(q, 20)
        assert set(ids.tolist()) == _exact(index.matrix, index.rowids, q, 20)
        assert np.all(np.diff(sims) <= 0)
        masked, _ = index.search(q, 20, allowed=allowed)
        assert set(masked.tolist()) == _exact(index.matrix, index.rowids, q, 20, allowed)
        floored, fsims = index.search(q, 20, floor=float(sims[5]))
        assert len(floored) >= 6 and np.all(fsims >= sims[5])


@pytest.mark.parametrize("blobs", [False, True])  # spread out, or thousands of near copies of a few vectors
@pytest.mark.parametrize("share", [1.0, 0.3, 0.005])  # no filter, a broad one (oversampled), a selective one (exact subset)
def test_hnsw_recall_at_20_with_and_without_filters(share: float, blobs: bool) -> None:
    index = _index(6000, hnsw=True, matrix=_blobs(6000, 60) if blobs else None)
    assert index.hnsw is not None and (len(index.hnsw) < 1000 if blobs else len(index.hnsw) > 2000)
    rng = np.random.default_rng(2)
    allowed = None if share == 1.0 else rng.random(6001) < share
    recalls = []
    for q in _vectors(30, seed=3):
        ids, _ = index.search(q, 20, allowed=allowed)
        exact = _exact(index.matrix, index.rowids, q, 20, allowed)
        assert allowed is None or all(allowed[i] for i in ids)
        recalls.append(len(set(ids.tolist()) & exact) / len(exact))
    assert np.mean(recalls) >= 0.95


def _store(path: Path) -> Store:
    store = Store.open(path)
    store.conn.execute(
        "CREATE TABLE IF NOT EXISTS search_state (rowid INTEGER PRIMARY KEY, content_hash TEXT, dict_version TEXT, vector_key TEXT)"
    )
    return store


def _put(store: Store, items: dict[int, np.ndarray | None]) -> None:
    """Index records (rowid -> vector, None: deleted from the index), logged as the backend does."""
    with store.transaction():
        for rowid, vec in items.items():
            if vec is None:
                store.conn.execute("DELETE FROM search_state WHERE rowid = ?", (rowid,))
                continue
            key = f"k{rowid}-{hash(vec.tobytes())}"
            store.conn.execute("INSERT OR REPLACE INTO search_state VALUES (?, 'h', 'd', ?)", (rowid, key))
            store.put_vectors("m", {key: vec})
        vi.log_rowids(store, list(items))


def _check(index: vi.VectorIndex, expected: dict[int, np.ndarray]) -> None:
    live = index.rowids >= 0
    assert sorted(index.rowids[live].tolist()) == sorted(expected)
    for rowid, vec in expected.items():
        np.testing.assert_allclose(index.vectors_of(np.array([rowid]))[0], vec, atol=2e-3)


@pytest.mark.parametrize("hnsw", [False, True])
def test_side_files_follow_the_store_incrementally(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hnsw: bool) -> None:
    if hnsw:  # a small threshold: the graph is built, updated and reloaded like at a million
        monkeypatch.setattr(vi, "EXACT_MAX", 100)
    store = _store(tmp_path / "r.db")
    vecs = _vectors(400, seed=4)
    expected = {i + 1: vecs[i] for i in range(300)}
    _put(store, dict(expected))
    cache = vi.VectorIndexCache()
    first = cache.get(store, "m")
    _check(first, expected)
    assert (first.hnsw is not None) == hnsw
    assert cache.get(store, "m") is first  # same seq: the process keeps its copy
    assert store.conn.execute("SELECT COUNT(*) FROM search_vector_log").fetchone()[0] == 0  # covered by the files: trimmed
    # change 10, add 100, drop 5: only these are re-read
    changes: dict[int, np.ndarray | None] = {i: vecs[300 + i] for i in range(1, 11)}
    changes.update({i + 1: vecs[i] for i in range(300, 400)})
    changes.update(dict.fromkeys(range(50, 55)))
    _put(store, changes)
    for rowid, vec in changes.items():
        if vec is None:
            expected.pop(rowid)
        else:
            expected[rowid] = vec
    fetched: list[int] = []
    real_fetch = vi._fetch
    monkeypatch.setattr(vi, "_fetch", lambda s, m, rowids: (fetched.append(len(rowids or [])), real_fetch(s, m, rowids))[1])
    second = cache.get(store, "m")
    assert fetched == [len(changes)]
    _check(second, expected)
    if hnsw:
        ids, _ = second.search(vecs[350], 5)
        assert 351 in ids.tolist() and not set(ids.tolist()) & set(range(50, 55))
    # another process (a fresh cache) opens the files as they are, reading nothing from the store
    fetched.clear()
    _check(vi.VectorIndexCache().get(store, "m"), expected)
    assert fetched == []
    # the files gone: rebuilt from the store
    for f in vi.side_dir(store.path).iterdir():
        f.unlink()
    _check(vi.VectorIndexCache().get(store, "m"), expected)
    store.close()


def test_another_model_rebuilds(tmp_path: Path) -> None:
    store = _store(tmp_path / "r.db")
    _put(store, {1: _vectors(1)[0]})
    assert vi.VectorIndexCache().get(store, "m").size == 1
    assert vi.VectorIndexCache().get(store, "other").size == 0
    store.close()


def test_full_groups_overflow_into_few_new_nodes(monkeypatch: pytest.MonkeyPatch) -> None:
    """More near copies than a group holds: they fill nodes and overflow into new ones, not one node per copy."""
    monkeypatch.setattr(vi, "GROUP_CAP", 50)
    index = _index(12000, hnsw=True, matrix=_blobs(12000, 60))  # 200 copies of each of 60 vectors
    assert index.hnsw is not None and index.group is not None
    assert len(index.hnsw) <= 12000 // 4  # most copies joined a group
    assert np.bincount(index.group).max() <= 50 + 64  # a group fills past its cap only within one batch
