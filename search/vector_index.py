"""The embedded backend's vectors: a float16 matrix and, above a size threshold, an HNSW index (usearch),
kept in side files beside the SQLite store and in memory once per process.

Reading a million vectors out of the ``embeddings`` table took tens of seconds (1.5 KB blobs, one
row each, looked up by key); the side files open in milliseconds (memory-mapped). They are derived
data: the store stays the system of record, and the files are rebuilt from it whenever they are
missing, unreadable or made with another model.

Sync: every ``SQLiteSearchBackend.index`` appends the rowids it (re)indexed to ``search_vector_log``
and moves the store's ``vector_seq`` in the same transaction. The side files record the ``vector_seq``
they cover; a process whose copy is older reloads the files, and files older than the store are
brought forward by re-reading only the logged rowids (an incremental update: rows replaced or
appended in the matrix, keys removed and added in the HNSW graph), written atomically (temporary
files, then ``os.replace``) under a lock file, so concurrent server workers never read half a file.

Search: exact kNN (one float32 matrix product) up to ``EXACT_MAX`` vectors; HNSW above it. Filters
are a boolean mask over rowids: exact search masks the scores; HNSW oversamples by the filter's
selectivity, drops what the mask rejects and rescores the survivors exactly from the matrix, and a
very selective filter (at most ``EXACT_SUBSET`` allowed rows) is answered exactly over that subset.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from search.store import Store

__all__ = ["EXACT_MAX", "EXACT_SUBSET", "VectorIndex", "VectorIndexCache", "locked", "read_state", "side_dir"]

logger = logging.getLogger(__name__)

EXACT_MAX = 50_000  # up to this many vectors: exact kNN; above: HNSW
EXACT_SUBSET = 20_000  # a filter leaving at most this many rows: exact over the subset, whatever the size
HNSW_CONNECTIVITY = 32  # 16 lost 0.015-0.02 recall@20 on 200k real-text vectors at the same search effort
HNSW_EXPANSION_ADD = 128
HNSW_EXPANSION_SEARCH = 128
HNSW_MAX_CANDIDATES = 4096  # an oversampled search needing more candidates is answered exactly over the subset
# graph nodes searched at least. The served top 20 (the dense top 100 re-ordered by the static
# encoder's lexical channel) against an exact first stage, real-text vectors, M 32: at 1M (860k
# nodes) recall 0.931 with 1536 nodes, 0.950 with 3072, 0.959 with 4096; at 100k 0.954 with 1024,
# 0.966 with 1536, 0.980 with 3072 (HNSW p50 10 ms there). A share of the graph did not transfer.
HNSW_MIN_NODES = 3072
OVERSAMPLE = 4  # candidates searched per result wanted (after the filter)
GROUP_SIMILARITY = 0.95  # a vector this close to a graph node joins its group instead of becoming a node
GROUP_CAP = 512  # members per group, at most
JOIN_CANDIDATES = 8  # nearest nodes a new vector is compared with before it becomes a node itself
FORMAT = 3  # 3: HNSW connectivity 32
_LOG_SCHEMA = "CREATE TABLE IF NOT EXISTS search_vector_log (seq INTEGER PRIMARY KEY AUTOINCREMENT, rowid INTEGER NOT NULL)"


def side_dir(db_path: Path) -> Path:
    """Where a store's vector side files live: ``radar.db`` -> ``radar.db.vectors/``."""
    return db_path.with_name(db_path.name + ".vectors")


def ensure_log(store: Store) -> None:
    store.conn.execute(_LOG_SCHEMA)


def vector_seq(store: Store) -> int:
    """Moves in every transaction that changed which vector a record has."""
    return int(store.get_meta("vector_seq") or 0)


def log_rowids(store: Store, rowids: list[int]) -> None:
    """Note rowids whose vectors changed (call in the transaction that changed them)."""
    if not rowids:
        return
    ensure_log(store)
    store.conn.executemany("INSERT INTO search_vector_log(rowid) VALUES (?)", [(int(r),) for r in rowids])
    last = store.conn.execute("SELECT MAX(seq) FROM search_vector_log").fetchone()[0]
    store.set_meta("vector_seq", str(int(last)))


@dataclass
class VectorIndex:
    """Vectors of one store at one ``vector_seq``: rowids, their float16 rows, and the HNSW graph above EXACT_MAX."""

    model: str
    seq: int
    rowids: np.ndarray  # int64, one per matrix row; -1 marks a removed row
    matrix: np.ndarray  # float16 (n, dim), L2-normalised rows; memory-mapped from the side file
    hnsw: Any = None  # usearch Index over group leaders, or None
    group: np.ndarray | None = None  # with hnsw: per matrix row, the graph key of its group
    next_key: int = 0  # the next graph key to hand out
    _pos: np.ndarray | None = None
    _members: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # (group keys, starts, matrix rows by group)
    _exact: np.ndarray | None = None  # float32 copy for exact search of small stores
    _size: int | None = None

    @property
    def size(self) -> int:
        """Live vectors (counted once: an index's rowids never change after it is made)."""
        if self._size is None:
            self._size = int((self.rowids >= 0).sum())
        return self._size

    @property
    def dim(self) -> int:
        return int(self.matrix.shape[1]) if self.matrix.ndim == 2 else 0

    def positions(self) -> np.ndarray:
        """rowid -> matrix row (-1: none)."""
        if self._pos is None:
            top = int(self.rowids.max()) + 1 if len(self.rowids) else 0
            pos = np.full(top + 1, -1, dtype=np.int64)
            live = np.flatnonzero(self.rowids >= 0)
            pos[self.rowids[live]] = live
            self._pos = pos
        return self._pos

    def _exact_matrix(self) -> np.ndarray:
        if self._exact is None:
            self._exact = np.asarray(self.matrix, dtype=np.float32)
        return self._exact

    def vectors_of(self, rowids: np.ndarray) -> np.ndarray:
        """float32 rows of these rowids (each must have a vector)."""
        return np.asarray(self.matrix[self.positions()[rowids]], dtype=np.float32)

    def search(
        self, query: np.ndarray, k: int, *, allowed: np.ndarray | None = None, floor: float = -1.0, exact: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """(rowids, similarities) of the ``k`` nearest allowed rows with similarity >= ``floor``, best first.

        ``allowed``: a boolean mask indexed by rowid (rowids past its end are not allowed), or None for all.
        ``exact``: brute force even when there is an HNSW graph (the bench's reference)."""
        query = np.asarray(query, dtype=np.float32)
        if not len(self.rowids) or k <= 0:
            return _empty()
        if self.hnsw is None or exact:
            return self._exact_search(query, k, allowed, floor)
        if allowed is None:
            n_allowed = self.size
        else:
            n_allowed = int(allowed.sum())
        if n_allowed == 0:
            return _empty()
        if allowed is not None and n_allowed <= EXACT_SUBSET:
            return self._subset_search(query, k, allowed, floor)
        selectivity = n_allowed / max(1, self.size)
        per_node = self.size / max(1, len(self.hnsw))  # members per graph node, on average
        need = int(np.ceil(OVERSAMPLE * k / selectivity / per_node)) + 16  # nodes the filter's oversampling needs
        count = max(HNSW_MIN_NODES, need)
        while True:
            if allowed is not None and need * per_node > HNSW_MAX_CANDIDATES:  # a selective filter: exact over its subset
                return self._subset_search(query, k, allowed, floor)
            count = min(len(self.hnsw), count)
            nodes, _ = self._hnsw_candidates(query, count)
            rows = self._member_rows(nodes)
            keys = self.rowids[rows]
            if allowed is not None:
                inside = keys < len(allowed)
                rows, keys = rows[inside], keys[inside]
                ok = allowed[keys]
                rows, keys = rows[ok], keys[ok]
            # every member of the nearest groups, scored exactly from the matrix (the graph holds int8 leaders)
            sims = _dots(self.matrix[rows], query) if len(rows) else np.zeros(0, dtype=np.float32)
            if len(keys) >= 2 * k or count >= len(self.hnsw) or (len(sims) >= k and float(sims.min()) < floor):
                return _top(keys, sims, k, floor)
            count *= 4
            need *= 4

    def _hnsw_candidates(self, query: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``count`` nearest graph nodes and their (approximate) similarities, nearest first."""
        self.hnsw.expansion_search = max(HNSW_EXPANSION_SEARCH, count)  # usearch returns at most ef nodes
        found = self.hnsw.search(query, count, threads=1)
        return np.asarray(found.keys, dtype=np.int64), 1.0 - np.asarray(found.distances, dtype=np.float32)

    def _member_rows(self, nodes: np.ndarray) -> np.ndarray:
        """Matrix rows (live ones) of these graph nodes' groups."""
        if self._members is None:
            assert self.group is not None
            live = np.flatnonzero(self.rowids >= 0)
            order = live[np.argsort(self.group[live], kind="stable")]
            keys, starts = np.unique(self.group[order], return_index=True)
            self._members = (keys, np.append(starts, len(order)), order)
        keys, starts, order = self._members
        if not len(keys):
            return np.zeros(0, dtype=np.int64)
        at = np.minimum(np.searchsorted(keys, nodes), len(keys) - 1)
        at = at[keys[at] == nodes]
        lo, hi = starts[at], starts[at + 1]
        lengths = hi - lo
        if not lengths.sum():
            return np.zeros(0, dtype=np.int64)
        offsets = np.repeat(lo - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths) + np.arange(int(lengths.sum()))
        return order[offsets]

    def _exact_search(self, query: np.ndarray, k: int, allowed: np.ndarray | None, floor: float) -> tuple[np.ndarray, np.ndarray]:
        if len(self.rowids) > EXACT_MAX and allowed is not None and int(allowed.sum()) <= EXACT_SUBSET:
            return self._subset_search(query, k, allowed, floor)
        if len(self.rowids) <= EXACT_MAX:
            sims = self._exact_matrix() @ query
        else:  # the reference at scale: float32 in blocks, never a second full copy
            sims = np.concatenate([_dots(self.matrix[i : i + 65536], query) for i in range(0, len(self.rowids), 65536)])
        ok = self.rowids >= 0
        if allowed is not None:
            inside = self.rowids < len(allowed)
            ok &= inside
            ok[inside] &= allowed[self.rowids[inside]]
        ok &= sims >= floor
        sims = np.where(ok, sims, -np.inf)
        return _top(self.rowids, sims, k, floor)

    def _subset_search(self, query: np.ndarray, k: int, allowed: np.ndarray, floor: float) -> tuple[np.ndarray, np.ndarray]:
        pos = self.positions()
        wanted = np.flatnonzero(allowed[: len(pos)])
        wanted = wanted[pos[wanted] >= 0]
        if not len(wanted):
            return _empty()
        sims = _dots(self.matrix[pos[wanted]], query)
        return _top(wanted, sims, k, floor)


def _dots(rows: np.ndarray, query: np.ndarray) -> np.ndarray:
    """float16 rows . query, as float32: numkong's SIMD kernels (usearch's own dependency) read float16
    directly, 15x faster than numpy's conversion to float32 first."""
    if rows.dtype == np.float16:
        try:
            import numkong

            found = numkong.cdist(query.astype(np.float16)[None], np.ascontiguousarray(rows), metric="dot")
            sims: np.ndarray = np.asarray(found, dtype=np.float32).ravel()
            return sims
        except (ImportError, TypeError, ValueError):  # pragma: no cover - the numpy path below
            pass
    out: np.ndarray = np.asarray(rows, dtype=np.float32) @ query
    return out


def _empty() -> tuple[np.ndarray, np.ndarray]:
    return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)


def _top(keys: np.ndarray, sims: np.ndarray, k: int, floor: float) -> tuple[np.ndarray, np.ndarray]:
    """The best ``k`` at or above ``floor``, best first (ties by rowid)."""
    ok = np.flatnonzero(sims >= floor)
    if len(ok) > k:
        part = np.argpartition(-sims[ok], k - 1)[:k]
        ok = ok[part]
    order = np.lexsort((keys[ok], -sims[ok]))
    chosen = ok[order]
    return keys[chosen].astype(np.int64), sims[chosen].astype(np.float32)


# -- side files ---------------------------------------------------------------------------------


@contextmanager
def locked(directory: Path) -> Iterator[None]:
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def read_state(directory: Path, fmt: int = FORMAT) -> dict[str, Any] | None:
    """A side-file directory's ``state.json`` when it is readable and of format ``fmt``, else None."""
    try:
        state = json.loads((directory / "state.json").read_text())
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) and state.get("format") == fmt else None


def _read_state(directory: Path) -> dict[str, Any] | None:
    return read_state(directory)


def _load(directory: Path, state: dict[str, Any], *, writable: bool = False) -> VectorIndex | None:
    try:
        rowids = np.load(directory / state["rowids"])
        matrix = np.load(directory / state["matrix"], mmap_mode=None if writable else "r")
        matrix = np.asarray(matrix)  # a plain ndarray over the mapping: np.memmap slices cost a subclass view each
        hnsw, group = None, None
        if state.get("hnsw"):
            from usearch.index import Index

            hnsw = Index.restore(str(directory / state["hnsw"]), view=not writable)
            group = np.load(directory / state["group"])
            if len(group) != len(rowids):
                return None
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        logger.warning("vector side files at %s unreadable (%s): rebuilding from the store", directory, exc)
        return None
    if len(rowids) != len(matrix) or (hnsw is not None) != (int((rowids >= 0).sum()) > EXACT_MAX):
        return None
    return VectorIndex(state["model"], int(state["seq"]), rowids, matrix, hnsw, group, int(state.get("next_key", 0)))


def _write(directory: Path, index: VectorIndex) -> None:
    """New files under fresh names, then the state file replaced atomically; old files removed after."""
    tag = f"{index.seq}-{os.getpid()}-{time.monotonic_ns() % 10**9}"
    old = _read_state(directory)
    names = {"rowids": f"rowids-{tag}.npy", "matrix": f"matrix-{tag}.npy"}
    np.save(directory / names["rowids"], index.rowids)
    np.save(directory / names["matrix"], np.ascontiguousarray(index.matrix, dtype=np.float16))
    if index.hnsw is not None:
        names["hnsw"] = f"hnsw-{tag}.usearch"
        index.hnsw.save(str(directory / names["hnsw"]))
        names["group"] = f"group-{tag}.npy"
        assert index.group is not None
        np.save(directory / names["group"], index.group)
    state = {"format": FORMAT, "model": index.model, "seq": index.seq, "count": index.size, "next_key": index.next_key, **names}
    tmp = directory / f"state-{tag}.json"
    tmp.write_text(json.dumps(state))
    os.replace(tmp, directory / "state.json")
    if old:  # readers that mapped the old files keep them (unlinked files live while mapped)
        for key in ("rowids", "matrix", "hnsw", "group"):
            if old.get(key) and old[key] != state.get(key):
                (directory / old[key]).unlink(missing_ok=True)


def _new_hnsw(dim: int) -> Any:
    from usearch.index import Index

    return Index(
        ndim=dim,
        metric="cos",
        dtype="i8",
        connectivity=HNSW_CONNECTIVITY,
        expansion_add=HNSW_EXPANSION_ADD,
        expansion_search=HNSW_EXPANSION_SEARCH,
    )


def _fetch(store: Store, model: str, rowids: list[int] | None) -> tuple[np.ndarray, np.ndarray]:
    """(rowids, float16 rows, L2-normalised) of records with a stored vector: all of them, or these.

    Read in blocks straight into the float16 matrix: holding a million float32 blobs, their join and a
    float32 copy at once peaked at 3.6 GB; this peaks at the matrix plus one block."""
    sql = (
        "SELECT s.rowid, e.vector FROM search_state s JOIN embeddings e ON e.model = ? AND e.key = s.vector_key "
        "WHERE s.vector_key IS NOT NULL"
    )
    chunks = [None] if rowids is None else [rowids[i : i + 500] for i in range(0, len(rowids), 500)]
    ids: list[np.ndarray] = []
    blocks: list[np.ndarray] = []
    for chunk in chunks:
        params: list[Any] = [model]
        query = sql
        if chunk is not None:
            query += f" AND s.rowid IN ({','.join('?' * len(chunk))})"
            params += chunk
        cursor = store.conn.execute(query + " ORDER BY s.rowid", params)
        while rows := cursor.fetchmany(_FETCH_BLOCK):
            ids.append(np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)))
            flat = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), -1)
            norms = np.linalg.norm(flat, axis=1, keepdims=True)
            blocks.append((flat / np.where(norms == 0, 1, norms)).astype(np.float16))
    if not ids:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float16)
    matrix = np.concatenate(blocks) if len(blocks) > 1 else blocks[0]
    return np.concatenate(ids), matrix


_FETCH_BLOCK = 50_000


def build_full(store: Store, model: str) -> VectorIndex:
    """Every stored vector, from the store (the seq read first: never newer than what is read)."""
    started = time.perf_counter()
    seq = vector_seq(store)
    rowids, matrix = _fetch(store, model, None)
    index = VectorIndex(model, seq, rowids, matrix)
    if len(rowids) > EXACT_MAX:
        _start_graph(index)
    logger.info("vector index: %d vectors in %.1f s (hnsw: %s)", len(rowids), time.perf_counter() - started, index.hnsw is not None)
    return index


def _start_graph(index: VectorIndex) -> None:
    index.hnsw = _new_hnsw(index.matrix.shape[1])
    index.group = np.full(len(index.rowids), -1, dtype=np.int64)
    index.next_key = 0
    _add_to_graph(index, np.flatnonzero(index.rowids >= 0))


def _add_to_graph(index: VectorIndex, rows: np.ndarray) -> None:
    """Each row joins the group of its nearest graph node when that is at least GROUP_SIMILARITY close (and
    not full), else becomes a node itself: near-duplicate vectors (templated texts) share one node, so the
    graph stays navigable where thousands of vectors are almost equal; search scores every member exactly."""
    assert index.hnsw is not None and index.group is not None
    sizes: dict[int, int] = {}
    first: dict[int, int] = {}  # group key -> the matrix row of its earliest live member (the node's vector, or near it)
    if len(index.hnsw):
        live_rows = np.flatnonzero((index.rowids >= 0) & (index.group >= 0))
        keys, at, counts = np.unique(index.group[live_rows], return_index=True, return_counts=True)
        sizes = dict(zip(keys.tolist(), counts.tolist(), strict=True))
        first = dict(zip(keys.tolist(), live_rows[at].tolist(), strict=True))
    threads = os.cpu_count() or 1
    done, batch = 0, 32
    while done < len(rows):
        chunk = rows[done : done + batch]
        done += len(chunk)
        batch = min(batch * 2, 2048)  # small batches: few near copies of one vector become nodes in the same batch
        vecs = np.asarray(index.matrix[chunk], dtype=np.float32)
        join = np.zeros(len(chunk), dtype=bool)
        if len(index.hnsw):
            # a few nearest nodes (the graph is approximate among many near-equal nodes), each compared
            # exactly with its group's head: the graph's int8 distances are too coarse to decide
            wide = min(JOIN_CANDIDATES, len(index.hnsw))
            found = index.hnsw.search(vecs, wide, threads=threads)
            near = np.asarray(found.keys, dtype=np.int64).reshape(len(chunk), -1)
            best_key = np.full(len(chunk), -1, dtype=np.int64)
            best_sim = np.full(len(chunk), -1.0, dtype=np.float32)
            for j in range(near.shape[1]):
                # a full group's head is no candidate: the next nearest group with room is
                heads = np.array(
                    [first.get(int(key), -1) if sizes.get(int(key), 0) < GROUP_CAP else -1 for key in near[:, j]], dtype=np.int64
                )
                head_vecs = np.asarray(index.matrix[np.maximum(heads, 0)], dtype=np.float32)
                sims = np.where(heads >= 0, np.einsum("ij,ij->i", vecs, head_vecs), -1.0)
                better = sims > best_sim
                best_key[better], best_sim[better] = near[better, j], sims[better]
            for i in np.flatnonzero(best_sim >= GROUP_SIMILARITY):
                key = int(best_key[i])
                if sizes.get(key, 0) < GROUP_CAP + 64:  # filled during this batch: a little over the cap is fine
                    sizes[key] = sizes.get(key, 0) + 1
                    index.group[chunk[i]] = key
                    join[i] = True
        new = chunk[~join]
        if len(new):
            keys = np.arange(index.next_key, index.next_key + len(new), dtype=np.int64)
            index.next_key += len(new)
            index.group[new] = keys
            sizes.update(dict.fromkeys(keys.tolist(), 1))
            first.update(zip(keys.tolist(), new.tolist(), strict=True))
            index.hnsw.add(keys, vecs[~join], threads=threads)
    index._members = None


def apply_log(store: Store, index: VectorIndex) -> VectorIndex:
    """Bring ``index`` (writable) forward to the store's current ``vector_seq`` from the log."""
    ensure_log(store)
    seq = vector_seq(store)
    changed = sorted(
        {int(r[0]) for r in store.conn.execute("SELECT rowid FROM search_vector_log WHERE seq > ? AND seq <= ?", (index.seq, seq))}
    )
    if not changed:
        return VectorIndex(index.model, seq, index.rowids, index.matrix, index.hnsw, index.group, index.next_key)
    new_ids, new_rows = _fetch(store, index.model, changed)
    pos = index.positions()
    rowids, matrix = index.rowids.copy(), np.array(index.matrix, dtype=np.float16)
    changed_arr = np.asarray(changed, dtype=np.int64)
    known = changed_arr[changed_arr < len(pos)]
    gone = pos[known][pos[known] >= 0]
    rowids[gone] = -1  # every changed row is dropped, then the current ones appended
    if len(new_rows):
        if not len(matrix):
            matrix = np.zeros((0, new_rows.shape[1]), dtype=np.float16)
        rowids = np.concatenate([rowids, new_ids])
        matrix = np.concatenate([matrix, new_rows])
    compacted = None
    if (rowids < 0).sum() > max(1000, len(rowids) // 4):  # compact when a quarter of the rows are dead
        compacted = np.flatnonzero(rowids >= 0)
        rowids, matrix = rowids[compacted], matrix[compacted]
    out = VectorIndex(index.model, seq, rowids, matrix, index.hnsw, index.group, index.next_key)
    live_count = int((rowids >= 0).sum())
    if live_count <= EXACT_MAX:
        out.hnsw, out.group = None, None
    elif out.hnsw is None or out.group is None:
        _start_graph(out)
    else:
        # dropped rows leave their groups (an emptied node stays in the graph, leading nowhere, until a rebuild)
        out.group = np.concatenate([index.group, np.full(len(new_ids), -1, dtype=np.int64)])
        if compacted is not None:
            out.group = out.group[compacted]
        _add_to_graph(out, np.arange(len(rowids) - len(new_ids), len(rowids)))
    return out


def sync(store: Store, model: str, *, rebuild: bool = False) -> VectorIndex:
    """The side files brought up to the store's ``vector_seq`` (built when missing), and the log they cover dropped.

    Inside an open transaction nothing is written (the files only ever hold committed vectors)."""
    directory = side_dir(store.path)
    with locked(directory):
        state = None if rebuild else _read_state(directory)
        current = vector_seq(store)
        usable = state is not None and state.get("model") == model and int(state.get("seq", -1)) <= current
        if usable and state is not None and int(state["seq"]) == current:
            loaded = _load(directory, state)
            if loaded is not None:
                return loaded
            usable = False
        if store.conn.in_transaction:
            base = _load(directory, state, writable=True) if usable and state is not None else None
            return apply_log(store, base) if base is not None else build_full(store, model)
        if usable and state is not None:
            base = _load(directory, state, writable=True)
            if base is not None:
                index = apply_log(store, base)
                _write(directory, index)
                _trim_log(store, index.seq)
                return _load(directory, _read_state(directory) or {}) or index
        return _rebuild(store, model, directory)


def _rebuild(store: Store, model: str, directory: Path) -> VectorIndex:
    index = build_full(store, model)
    _write(directory, index)
    _trim_log(store, index.seq)
    state = _read_state(directory)
    return (_load(directory, state) if state else None) or index


def _trim_log(store: Store, seq: int) -> None:
    ensure_log(store)
    if not store.conn.in_transaction:
        store.conn.execute("DELETE FROM search_vector_log WHERE seq <= ?", (seq,))


class VectorIndexCache:
    """One ``VectorIndex`` per store file and model in this process, replaced when ``vector_seq`` moves."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[tuple[str, str], VectorIndex] = {}

    def get(self, store: Store, model: str) -> VectorIndex:
        key = (str(store.path.resolve()), model)
        with self._lock:
            held = self._held.get(key)
            if held is not None and held.seq == vector_seq(store):
                return held
            index = sync(store, model)
            self._held[key] = index
            return index

    def drop(self, store: Store) -> None:
        with self._lock:
            for key in [k for k in self._held if k[0] == str(store.path.resolve())]:
                del self._held[key]


# one per process: every backend over the same store shares it (the matrix is the big thing in memory)
SHARED = VectorIndexCache()
