"""A static Chinese sentence encoder: one stored vector per vocabulary unit, a weighted mean per text.

The tables are distilled from the bundled multilingual-e5-small (``training/static_embedder.py``
builds them; ``radar embedder build`` runs it). A text is cut with the project tokenizer (the
rjieba fast path, with the telecom dictionary stored beside the vectors), each word maps to its
unit ids (the word itself, else its characters; or the teacher's sub-word pieces for a
``subwords`` artefact), and the text's vector is the weighted sum of those rows, L2-normalised.
There is no network to run, so it embeds thousands of texts per second on a CPU.

Artefact layout (one directory): ``vectors.npy`` (float16, units x dims), ``weights.npy``
(float32, one SIF weight per unit), ``vocab.json`` (the units, and the teacher's piece scores
for ``subwords``), ``dictionary.json`` (the tokenizer's telecom dictionary), ``meta.json``
(teacher, sources, settings, build date, content hash).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from importlib import resources
from itertools import repeat
from pathlib import Path
from typing import Any

import numpy as np

from nlp.embedders.base import Kind
from radar.errors import ErrorCode, NLPError

__all__ = ["ARTEFACT_FILES", "StaticEmbedder", "UnitMap", "bundled_path", "read_meta"]

logger = logging.getLogger(__name__)

ARTEFACT_FILES = ("vectors.npy", "weights.npy", "vocab.json", "dictionary.json", "meta.json")
_WORD_CACHE = 500_000  # words -> unit ids; a corpus has far fewer distinct words than this
_EXTRA_ROWS = 50_000  # rows for tokens of several units: 50 MB at 256 dimensions
_INDEX_LIMIT = 1_000_000  # distinct raw tokens remembered


def bundled_path() -> Path:
    """The artefact shipped in the package (``nlp/data/static_embedder``)."""
    return Path(str(resources.files("nlp").joinpath("data/static_embedder")))


def read_meta(path: Path) -> dict[str, Any]:
    """The artefact's ``meta.json``, or E206 when the directory is not a complete artefact."""
    missing = [name for name in ARTEFACT_FILES if not (path / name).is_file()]
    if missing:
        raise NLPError(ErrorCode.E206, path=path)
    meta: dict[str, Any] = json.loads((path / "meta.json").read_text(encoding="utf-8"))
    return meta


class UnitMap:
    """A token -> unit ids, shared by the build (to count unit frequencies) and the runtime.

    ``words``: a word in the vocabulary is one unit; any other word falls back to its characters
    (characters outside the vocabulary, e.g. emoji, carry nothing). ``subwords``: a word is cut
    into the teacher's SentencePiece pieces by the unigram Viterbi over the pieces' log-scores,
    as the teacher itself would cut it (pieces outside the kept vocabulary are skipped).
    """

    def __init__(self, tokens: Sequence[str], scores: Sequence[float] | None = None) -> None:
        self.tokens = list(tokens)
        self.index = {tok: i for i, tok in enumerate(self.tokens)}
        self.scores = None if scores is None else [float(s) for s in scores]
        self.max_len = max((len(t) for t in self.tokens), default=1)
        # an unknown character costs more than any piece, so Viterbi uses pieces where it can
        self._unk = (min(self.scores, default=0.0) - 10.0) if self.scores else 0.0
        self._cache: dict[str, tuple[int, ...]] = {}

    def ids(self, word: str) -> tuple[int, ...]:
        hit = self._cache.get(word)
        if hit is None:
            if len(self._cache) >= _WORD_CACHE:
                self._cache.clear()
            hit = self._cache[word] = self._split(word)
        return hit

    def _split(self, word: str) -> tuple[int, ...]:
        if self.scores is not None:
            return self._viterbi(word)
        unit = self.index.get(word)
        if unit is not None:
            return (unit,)
        return tuple(self.index[ch] for ch in word if ch in self.index)

    def _viterbi(self, word: str) -> tuple[int, ...]:
        n = len(word)
        best = [0.0] + [-math.inf] * n
        back: list[tuple[int, int]] = [(0, -1)] * (n + 1)  # (start, unit id or -1 for unknown)
        index, scores = self.index, self.scores
        assert scores is not None
        for i in range(n):
            base = best[i]
            for end in range(i + 1, min(n, i + self.max_len) + 1):
                unit = index.get(word[i:end])
                if unit is not None and base + scores[unit] > best[end]:
                    best[end], back[end] = base + scores[unit], (i, unit)
            if base + self._unk > best[i + 1]:
                best[i + 1], back[i + 1] = base + self._unk, (i, -1)
        out: list[int] = []
        pos = n
        while pos > 0:
            start, unit = back[pos]
            if unit >= 0:
                out.append(unit)
            pos = start
        return tuple(reversed(out))


class StaticEmbedder:
    """The ``Embedder`` over a static artefact: ``path=None`` is the bundled one.

    ``name`` carries the artefact's kind, format version and content hash, so the store's
    embedding cache never mixes two artefacts. Query and passage get the same vector (the
    tables hold no prefix). A text with no known unit (empty, emoji only) gets a zero row:
    it is similar to nothing.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else bundled_path()
        self.meta = read_meta(self.path)
        self.dim = int(self.meta["dims"])
        self.name = f"static-{self.meta['vocab']['kind']}-v{self.meta['version']}-{self.meta['content_hash'][:12]}"
        self._rows: _TokenRows | None = None
        self._tokenizer: Any = None

    def warm_up(self) -> None:
        if self._rows is not None:
            return
        from nlp.dictionary import TelecomDictionary
        from nlp.tokenizer import Tokenizer

        vocab = json.loads((self.path / "vocab.json").read_text(encoding="utf-8"))
        spec = json.loads((self.path / "dictionary.json").read_text(encoding="utf-8"))
        vectors = np.load(self.path / "vectors.npy")
        weights = np.load(self.path / "weights.npy")
        if vectors.shape != (len(vocab["tokens"]), self.dim) or weights.shape != (len(vocab["tokens"]),):
            raise NLPError(ErrorCode.E206, path=self.path)
        tokenizer = Tokenizer(TelecomDictionary.build(spec["terms"], spec["synonyms"], name=spec["name"]))
        tokenizer.warm_up()
        # the weights are folded into the rows once, so a text is a plain sum of rows
        table = vectors.astype(np.float32) * weights.astype(np.float32)[:, None]
        self._rows = _TokenRows(table, UnitMap(vocab["tokens"], vocab.get("scores")), tokenizer.word_of)
        self._tokenizer = tokenizer

    def embed(self, texts: Sequence[str], kind: Kind = "passage") -> np.ndarray:
        if self._rows is None:
            self.warm_up()
        assert self._rows is not None
        items = list(texts)
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        slots = self._rows.slots(self._tokenizer.cut_joined(items))
        separators = slots == _SEPARATOR
        if int(separators.sum()) != len(items) - 1:  # pragma: no cover - a separator jieba-rs merged: cut one by one
            return np.concatenate([self.embed([text]) for text in items])
        owner = np.cumsum(separators)  # which text each token belongs to
        kept = slots >= 0
        lengths = np.bincount(owner[kept], minlength=len(items))
        return _normalise(_segment_sums(self._rows.matrix, slots[kept], lengths))


_SEPARATOR = -1  # the token between two texts
_NOTHING = -2  # punctuation, space, a word with no known unit
_MISSING = -3  # not seen yet


class _TokenRows:
    """Raw token -> one row of ``matrix``, found by one dict look-up per token.

    A token that is one unit points at that unit's (weighted) row; one that expands to several
    units (an unknown word's characters, a word's sub-word pieces) gets its own row, the sum of
    those units' rows, computed the first time the token is seen. The extra rows are bounded:
    a batch that would pass ``_EXTRA_ROWS`` first drops them all (they are rebuilt as tokens recur).
    """

    def __init__(self, table: np.ndarray, units: UnitMap, word_of: Any) -> None:
        self._units = units
        self._word_of = word_of
        self._n_units = self._size = int(table.shape[0])
        self.matrix = np.zeros((self._n_units + 4096, table.shape[1]), dtype=np.float32)
        self.matrix[: self._n_units] = table
        self._index: dict[str, int] = {}
        self._reset()

    def _reset(self) -> None:
        self._index.clear()
        self._index["\n"] = _SEPARATOR
        self._size = self._n_units

    def slots(self, tokens: list[str]) -> np.ndarray:
        out = self._lookup(tokens)
        missing = np.flatnonzero(out == _MISSING)
        if len(missing) and (self._size - self._n_units + len(missing) > _EXTRA_ROWS or len(self._index) > _INDEX_LIMIT):
            # dropping the extra rows invalidates every token pointing at one: start the index afresh
            self._reset()
            out = self._lookup(tokens)
            missing = np.flatnonzero(out == _MISSING)
        for i in missing.tolist():
            slot = self._index.get(tokens[i], _MISSING)  # an earlier miss of this batch may have added it
            out[i] = slot if slot != _MISSING else self._add(tokens[i])
        return out

    def _lookup(self, tokens: list[str]) -> np.ndarray:
        # map over dict.get runs in C: no Python frame per token
        return np.fromiter(map(self._index.get, tokens, repeat(_MISSING)), dtype=np.int64, count=len(tokens))

    def _add(self, token: str) -> int:
        word = self._word_of(token)
        ids = self._units.ids(word) if word else ()
        if not ids:
            slot = _NOTHING
        elif len(ids) == 1:
            slot = ids[0]
        else:
            slot = self._extra_row(ids)
        self._index[token] = slot
        return slot

    def _extra_row(self, ids: tuple[int, ...]) -> int:
        if self._size == self.matrix.shape[0]:
            grown = np.zeros((2 * self._size, self.matrix.shape[1]), dtype=np.float32)
            grown[: self._size] = self.matrix[: self._size]
            self.matrix = grown
        self.matrix[self._size] = self.matrix[list(ids)].sum(axis=0)
        self._size += 1
        return self._size - 1


def _segment_sums(matrix: np.ndarray, slots: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Row sums per text as one sparse (texts x rows) by dense product: no gathered copy of the rows.

    (``np.add.reduceat`` over the gathered rows measured 13x slower at 256 dimensions.)
    """
    if len(lengths) == 1:  # one text: a plain sum beats building a sparse matrix
        return np.asarray(matrix[slots].sum(axis=0, keepdims=True), dtype=np.float32)
    from scipy.sparse import csr_matrix

    indptr = np.concatenate(([0], np.cumsum(lengths)))
    counts = csr_matrix((np.ones(len(slots), dtype=np.float32), slots, indptr), shape=(len(lengths), matrix.shape[0]))
    return np.asarray(counts @ matrix, dtype=np.float32)


def _normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    out = np.zeros_like(vectors, dtype=np.float32)
    np.divide(vectors, norms, out=out, where=norms > 0)
    return out
