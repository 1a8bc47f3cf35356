"""The embedded keyword index at scale: the FTS5 table's words and character bigrams as numpy postings.

SQLite FTS5 stays the index of record (it shares the store's transactions), and below
``KEYWORD_MIN_DOCS`` records it answers every query alone. Above that, FTS5 cost grows with the
number of matches, not the page: at 1,000,000 records an any-term query over common words matched
100,000+ rows and took 200-500 ms to rank them all, while the search contract needs every match
(total, facets over the full filtered set, cursor paging). This module holds the same text as
postings (term -> sorted rowids and term frequencies, per column), memory-mapped from side files
beside the store, and scores a query in numpy: dense accumulators over the rowid space, so a query
costs a few passes over its postings and one over the records, whatever it matches.

Scores are FTS5's own ``bm25()`` (k1 = 1.2, b = 0.75, idf = ln((N - n + 0.5) / (n + 0.5)) floored at
1e-6, summed over the query's phrases), over the same unicode61 tokens. One difference, stated: a
phrase of several tokens (a word FTS5 would split, a query chunk's character bigrams) matches a
record holding all its tokens, without checking they are adjacent; its frequency is the least of
its tokens' frequencies. Queries that need exact adjacency (a user's quoted phrase, a multi-token
exclusion) are left to FTS5 by the caller (``evaluate`` returns None).

Freshness: ``SQLiteSearchBackend.index`` logs every rowid it writes to ``search_keyword_log`` and
moves the store's ``keyword_seq`` in the same transaction. The side files cover one ``keyword_seq``;
rows logged after it form a small in-memory delta segment (read back from FTS5) whose rowids mask
the side files' postings, so a search never sees stale text. When the delta outgrows
``DELTA_MAX`` (or a tenth of the store) the side files are rebuilt (``sync``; the indexer calls it
after each indexing run, so a search does not wait for it).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain, count
from pathlib import Path
from typing import Any

import numpy as np

from search.store import Store
from search.vector_index import locked, read_state

__all__ = [
    "KEYWORD_MIN_DOCS",
    "Chunk",
    "KeywordIndex",
    "KeywordIndexCache",
    "KeywordQuery",
    "fts_tokens",
    "keyword_side_dir",
    "log_keyword_rowids",
]

logger = logging.getLogger(__name__)

KEYWORD_MIN_DOCS = 50_000  # below: FTS5 alone (at 100,000 records FTS5's hybrid + filters p95 was 63 ms, over the 1M figure)
DELTA_MIN, DELTA_MAX = 1000, 100_000  # rows changed since the side files before they are rebuilt (a tenth of the store, within these)
BUILD_CHUNK = 50_000  # records read and cut per step of a build
K1, B = 1.2, 0.75
FORMAT = 1
COLUMNS = ("tokens", "grams")
_TOKEN = re.compile(r"[^\W_]+")  # FTS5 unicode61: runs of letters and digits, '_' separates
_LOG_SCHEMA = "CREATE TABLE IF NOT EXISTS search_keyword_log (seq INTEGER PRIMARY KEY AUTOINCREMENT, rowid INTEGER NOT NULL)"


def fts_tokens(text: str) -> list[str]:
    """``text`` as FTS5's unicode61 tokenizer (remove_diacritics 0) cuts and folds it."""
    return _TOKEN.findall(text.lower())


def term_hash(term: str) -> int:
    """A stable 63-bit key per term: the side files hold sorted keys, not a dictionary of strings."""
    return int.from_bytes(hashlib.blake2b(term.encode("utf-8"), digest_size=8).digest(), "little") >> 1


def keyword_side_dir(db_path: Path) -> Path:
    """``radar.db`` -> ``radar.db.keywords/``."""
    return db_path.with_name(db_path.name + ".keywords")


def keyword_seq(store: Store) -> int:
    return int(store.get_meta("keyword_seq") or 0)


def log_keyword_rowids(store: Store, rowids: Sequence[int]) -> None:
    """Note rowids whose indexed text changed or went (call in the transaction that changed them)."""
    if not rowids:
        return
    store.conn.execute(_LOG_SCHEMA)
    store.conn.executemany("INSERT INTO search_keyword_log(rowid) VALUES (?)", [(int(r),) for r in rowids])
    last = store.conn.execute("SELECT MAX(seq) FROM search_keyword_log").fetchone()[0]
    store.set_meta("keyword_seq", str(int(last)))


# -- postings ---------------------------------------------------------------------------------------


@dataclass
class Column:
    """One FTS5 column's postings: term keys sorted, and per term its rowids (ascending) and frequencies."""

    keys: np.ndarray  # int64, sorted term hashes
    offsets: np.ndarray  # int64, len(keys) + 1
    rowids: np.ndarray  # int32
    tfs: np.ndarray  # uint8 (capped at 255)

    def postings(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        key = term_hash(term)
        at = int(np.searchsorted(self.keys, key))
        if at >= len(self.keys) or int(self.keys[at]) != key:
            return _NONE_IDS, _NONE_TFS
        lo, hi = int(self.offsets[at]), int(self.offsets[at + 1])
        return np.asarray(self.rowids[lo:hi]), np.asarray(self.tfs[lo:hi])


_NONE_IDS = np.zeros(0, dtype=np.int32)
_NONE_TFS = np.zeros(0, dtype=np.uint8)


@dataclass
class Segment:
    columns: dict[str, Column]
    docs: int  # records in the segment
    rows: np.ndarray  # int64, the segment's rowids
    lengths: np.ndarray  # int32 by rowid: tokens in the record, every column (bm25's document length)


def _cut(texts: Iterable[str], vocab: defaultdict[str, int], rowids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(term ids, rowids, frequencies) of every distinct (term, record), sorted by term then rowid; and each record's length."""
    splits = [fts_tokens(t or "") for t in texts]
    lengths = np.fromiter(map(len, splits), dtype=np.int64, count=len(splits))
    ids = np.fromiter(map(vocab.__getitem__, chain.from_iterable(splits)), dtype=np.int64, count=int(lengths.sum()))
    pairs = (ids << 32) | np.repeat(rowids, lengths)
    unique, freq = np.unique(pairs, return_counts=True)
    return (unique >> 32), (unique & 0xFFFFFFFF).astype(np.int32), np.minimum(freq, 255).astype(np.uint8), lengths


def _column(parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]], vocab: dict[str, int]) -> Column:
    """Chunks (each sorted by term id, rowids ascending chunk after chunk) into one column sorted by term key."""
    keys = np.fromiter(map(term_hash, vocab), dtype=np.int64, count=len(vocab))
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    if len(keys) > 1 and bool((np.diff(keys) == 0).any()):  # pragma: no cover - a 63-bit collision
        raise ValueError("two terms share a hash key")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    terms = np.concatenate([rank[p[0]] for p in parts]) if parts else np.zeros(0, dtype=np.int64)
    rowids = np.concatenate([p[1] for p in parts]) if parts else _NONE_IDS
    tfs = np.concatenate([p[2] for p in parts]) if parts else _NONE_TFS
    del parts[:]
    by_term = np.argsort(terms, kind="stable")  # stable: rowids stay ascending within a term
    offsets = np.concatenate(([0], np.cumsum(np.bincount(terms, minlength=len(keys))))).astype(np.int64)
    return Column(keys, offsets, rowids[by_term], tfs[by_term])


def build_segment(rows: Iterable[tuple[int, str, str]], max_rowid: int) -> Segment:
    """A segment over ``(rowid, tokens, grams)`` rows in ascending rowid order (read in chunks)."""
    vocabs: dict[str, defaultdict[str, int]] = {c: defaultdict(count().__next__) for c in COLUMNS}
    parts: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {c: [] for c in COLUMNS}
    lengths = np.zeros(max_rowid + 1, dtype=np.int32)
    seen: list[np.ndarray] = []
    iterator = iter(rows)
    while True:
        batch = [row for _, row in zip(range(BUILD_CHUNK), iterator, strict=False)]
        if not batch:
            break
        ids = np.fromiter((r[0] for r in batch), dtype=np.int64, count=len(batch))
        seen.append(ids)
        for name, texts in zip(COLUMNS, ([r[1] for r in batch], [r[2] for r in batch]), strict=True):
            terms, rowids, tfs, lens = _cut(texts, vocabs[name], ids)
            parts[name].append((terms, rowids, tfs))
            lengths[ids] += lens.astype(np.int32)
    columns = {name: _column(parts[name], vocabs[name]) for name in COLUMNS}
    rows_arr = np.concatenate(seen) if seen else np.zeros(0, dtype=np.int64)
    return Segment(columns, len(rows_arr), rows_arr, lengths)


# -- queries ----------------------------------------------------------------------------------------


@dataclass
class Chunk:
    """One query chunk: its words (each a phrase of FTS5 tokens) and its character bigrams (one phrase)."""

    words: list[list[str]]
    grams: list[str] = field(default_factory=list)


@dataclass
class KeywordQuery:
    """The positive part as FTS5 would get it from ``SQLiteSearchBackend._match_expression``: alternatives
    (OR) of chunks (AND, or OR when relaxed); ``excludes``: single tokens whose records are dropped."""

    alternatives: list[list[Chunk]]
    relaxed: bool = False
    excludes: list[str] = field(default_factory=list)


class KeywordIndex:
    """The side files' segment plus the delta since them, queried together."""

    def __init__(self, seq: int, main: Segment | None, delta: Segment | None, changed: np.ndarray) -> None:
        self.seq = seq
        self.main = main
        self.delta = delta
        tops = [len(s.lengths) for s in (main, delta) if s is not None] + [int(changed.max()) + 1 if len(changed) else 0]
        self.size = max(tops)  # the dense accumulators' length: every rowid either segment holds
        self.dead = np.zeros(self.size, dtype=bool)  # the side files' postings of these rowids are stale
        self.dead[changed] = True
        self.docs, self.avgdl = self._stats()

    def _stats(self) -> tuple[int, float]:
        """Records and mean record length (every column), as FTS5's bm25 reads them from its own totals."""
        docs, total = 0, 0.0
        if self.main is not None:
            alive = self.main.rows[~self.dead[self.main.rows]]
            docs, total = len(alive), float(self.main.lengths[alive].sum())
        if self.delta is not None:
            docs, total = docs + self.delta.docs, total + float(self.delta.lengths.sum())
        return docs, (total / docs if docs else 1.0)

    def _phrase(self, column: str, pieces: Sequence[str]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """A phrase's matches per segment: (rowids, frequencies, those records' lengths)."""
        out = []
        for segment, is_main in ((self.main, True), (self.delta, False)):
            if segment is None or not pieces:
                continue
            col = segment.columns[column]
            ids, tfs = col.postings(pieces[0])
            for piece in pieces[1:]:
                if not len(ids):
                    break
                more, more_tfs = col.postings(piece)
                ids, a, b = np.intersect1d(ids, more, assume_unique=True, return_indices=True)
                tfs = np.minimum(tfs[a], more_tfs[b])
            if is_main and len(ids):
                keep = ~self.dead[ids]
                ids, tfs = ids[keep], tfs[keep]
            if len(ids):
                out.append((ids.astype(np.int64), tfs, segment.lengths[ids]))
        return out

    def _bm25(self, found: list[tuple[np.ndarray, np.ndarray, np.ndarray]], scores: np.ndarray) -> np.ndarray:
        """Add the phrase's bm25 to ``scores`` (FTS5's formula); return the rowids holding it."""
        n = sum(len(ids) for ids, _, _ in found)
        if not n:
            return np.zeros(0, dtype=np.int64)
        idf = math.log((self.docs - n + 0.5) / (n + 0.5))
        idf = idf if idf > 0 else 1e-6
        for ids, tfs, lengths in found:
            tf = tfs.astype(np.float64)
            scores[ids] += idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * lengths / self.avgdl))
        return np.concatenate([ids for ids, _, _ in found])

    def evaluate(self, query: KeywordQuery, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(rowids, BM25 scores) of every match passing ``allowed`` (a boolean mask by rowid), unordered."""
        scores = np.zeros(self.size, dtype=np.float64)
        matched = np.zeros(self.size, dtype=bool)
        for alternative in query.alternatives:
            matched |= self._alternative(alternative, query.relaxed, scores)
        for term in query.excludes:
            for ids in (f[0] for f in self._phrase("tokens", [term])):
                matched[ids] = False
        if allowed is not None:
            n = min(len(allowed), self.size)
            matched[:n] &= allowed[:n]
            matched[n:] = False
        ids = np.flatnonzero(matched)
        return ids, scores[ids]

    def _alternative(self, chunks: list[Chunk], relaxed: bool, scores: np.ndarray) -> np.ndarray:
        result: np.ndarray | None = None
        for chunk in chunks:
            one = self._chunk(chunk, relaxed, scores)
            result = one if result is None else (result | one if relaxed else result & one)
        return result if result is not None else np.zeros(self.size, dtype=bool)

    def _chunk(self, chunk: Chunk, relaxed: bool, scores: np.ndarray) -> np.ndarray:
        held = np.zeros(self.size, dtype=np.int32)  # how many of the chunk's words each record holds
        for word in chunk.words:
            held[self._bm25(self._phrase("tokens", word), scores)] += 1
        out = held > 0 if relaxed else held == len(chunk.words)
        if chunk.grams:
            out[self._bm25(self._phrase("grams", chunk.grams), scores)] = True
        return out


# -- side files -------------------------------------------------------------------------------------

_ARRAYS = ("keys", "offsets", "rowids", "tfs")


def _write(directory: Path, segment: Segment, seq: int) -> None:
    tag = f"{seq}-{os.getpid()}-{time.monotonic_ns() % 10**9}"
    old = _read_state(directory)
    files: dict[str, str] = {}
    for name, column in segment.columns.items():
        for array in _ARRAYS:
            files[f"{name}.{array}"] = f"{name}-{array}-{tag}.npy"
            np.save(directory / files[f"{name}.{array}"], getattr(column, array))
    for array in ("rows", "lengths"):
        files[array] = f"{array}-{tag}.npy"
        np.save(directory / files[array], getattr(segment, array))
    state = {"format": FORMAT, "seq": seq, "docs": segment.docs, "files": files}
    tmp = directory / f"state-{tag}.json"
    tmp.write_text(json.dumps(state))
    os.replace(tmp, directory / "state.json")
    if old:  # readers that mapped the old files keep them (unlinked files live while mapped)
        for name in old["files"].values():
            if name not in files.values():
                (directory / name).unlink(missing_ok=True)


def _read_state(directory: Path) -> dict[str, Any] | None:
    return read_state(directory, FORMAT)


def _mapped(path: Path) -> np.ndarray:
    """A side file memory-mapped, as a plain read-only ndarray: slicing a ``np.memmap`` costs a subclass
    view per slice (a third of a query's time at 1,000,000 records)."""
    return np.asarray(np.load(path, mmap_mode="r"))


def _load(directory: Path, state: dict[str, Any]) -> Segment | None:
    try:
        files = state["files"]
        columns = {name: Column(**{array: _mapped(directory / files[f"{name}.{array}"]) for array in _ARRAYS}) for name in COLUMNS}
        rows = np.load(directory / files["rows"])
        lengths = _mapped(directory / files["lengths"])
    except (OSError, ValueError, KeyError) as exc:
        logger.warning("keyword side files at %s unreadable (%s): rebuilding from the store", directory, exc)
        return None
    return Segment(columns, int(state["docs"]), rows, lengths)


def _all_rows(store: Store) -> Iterator[tuple[int, str, str]]:
    """Every FTS5 row in rowid order, streamed (a million rows of text would be gigabytes as a list)."""
    for rowid, tokens, grams in store.conn.execute("SELECT rowid, tokens, grams FROM search_fts ORDER BY rowid"):
        yield int(rowid), tokens, grams


def _some_rows(store: Store, rowids: Sequence[int]) -> list[tuple[int, str, str]]:
    rows: list[tuple[int, str, str]] = []
    for i in range(0, len(rowids), 500):
        chunk = list(rowids[i : i + 500])
        marks = ",".join("?" * len(chunk))
        sql = f"SELECT rowid, tokens, grams FROM search_fts WHERE rowid IN ({marks})"
        rows += [(int(r[0]), r[1], r[2]) for r in store.conn.execute(sql, chunk)]
    return sorted(rows)


def _top_rowid(store: Store) -> int:
    return int(store.conn.execute("SELECT COALESCE(MAX(rowid), 0) FROM search_fts").fetchone()[0])


def _indexed(store: Store) -> int:
    return int(store.conn.execute("SELECT COUNT(*) FROM search_state").fetchone()[0])


def build_main(store: Store, directory: Path) -> int:
    """Side files over every FTS5 row (the seq read first: never newer than what is read). Returns the seq."""
    started = time.perf_counter()
    seq = keyword_seq(store)
    segment = build_segment(_all_rows(store), _top_rowid(store))
    _write(directory, segment, seq)
    store.conn.execute(_LOG_SCHEMA)
    if not store.conn.in_transaction:
        store.conn.execute("DELETE FROM search_keyword_log WHERE seq <= ?", (seq,))
    logger.info("keyword index: %d records in %.1f s", segment.docs, time.perf_counter() - started)
    return seq


def load(store: Store, *, rebuild: bool = False) -> KeywordIndex:
    """The index at the store's current ``keyword_seq``: side files (built or rebuilt when missing,
    unreadable or too far behind) and the delta logged since them."""
    directory = keyword_side_dir(store.path)
    with locked(directory):
        store.conn.execute(_LOG_SCHEMA)
        current = keyword_seq(store)
        state = None if rebuild else _read_state(directory)
        main = _load(directory, state) if state is not None and int(state["seq"]) <= current else None
        if main is not None and state is not None:
            base = int(state["seq"])
            changed = [
                int(r[0])
                for r in store.conn.execute("SELECT DISTINCT rowid FROM search_keyword_log WHERE seq > ? AND seq <= ?", (base, current))
            ]
            if len(changed) <= max(DELTA_MIN, min(DELTA_MAX, main.docs // 10)):
                rows = _some_rows(store, changed)
                delta = build_segment(rows, rows[-1][0]) if rows else None
                return KeywordIndex(current, main, delta, np.asarray(changed, dtype=np.int64))
        if store.conn.in_transaction:  # nothing is written inside a transaction: an in-memory index
            return KeywordIndex(current, build_segment(_all_rows(store), _top_rowid(store)), None, np.zeros(0, dtype=np.int64))
        seq = build_main(store, directory)
        state = _read_state(directory)
        main = _load(directory, state) if state is not None else None
        return KeywordIndex(seq, main, None, np.zeros(0, dtype=np.int64))


class KeywordIndexCache:
    """One ``KeywordIndex`` per store file in this process, replaced when ``keyword_seq`` moves; None
    (FTS5 answers alone) below ``min_docs`` indexed records."""

    def __init__(self, min_docs: int = KEYWORD_MIN_DOCS) -> None:
        self.min_docs = min_docs
        self._lock = threading.Lock()
        self._held: dict[str, KeywordIndex | None] = {}
        self._seqs: dict[str, int] = {}

    def get(self, store: Store) -> KeywordIndex | None:
        key = str(store.path.resolve())
        seq = keyword_seq(store)
        with self._lock:
            if key in self._held and self._seqs[key] == seq:
                return self._held[key]
            index = load(store) if _indexed(store) >= self.min_docs else None
            self._held[key], self._seqs[key] = index, seq
            return index

    def drop(self, store: Store, *, rebuild: bool = False) -> None:
        """Forget this store's index; ``rebuild``: its side files too (the next search rebuilds them)."""
        with self._lock:
            self._held.pop(str(store.path.resolve()), None)
            self._seqs.pop(str(store.path.resolve()), None)
            if rebuild:
                (keyword_side_dir(store.path) / "state.json").unlink(missing_ok=True)


SHARED = KeywordIndexCache()
