"""Any sentence-transformers model from a local directory (e.g. a bge-small-zh a user copied in)."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nlp.embedders.base import Kind
from radar.errors import ErrorCode, NLPError

__all__ = ["SentenceTransformerEmbedder"]

logger = logging.getLogger(__name__)


class SentenceTransformerEmbedder:
    """Loads only from ``model_dir``; the hub is never contacted (``HF_HUB_OFFLINE`` is set).

    No ``similarity_floor`` of its own: models differ in scale (E5-family ones score unrelated texts
    0.7-0.8), so the E5 default stays; set ``RADAR_MIN_SIMILARITY`` for yours."""

    def __init__(
        self, model_dir: str | Path, *, max_chars: int = 256, query_prefix: str = "", passage_prefix: str = "", batch_size: int = 32
    ) -> None:
        self.model_dir = Path(model_dir)
        self.max_chars = max_chars
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix
        self.batch_size = batch_size
        self.name = f"st:{self.model_dir.name}:{max_chars}"
        self.dim = 0
        self._model: Any = None

    def warm_up(self) -> None:
        if self._model is not None:
            return
        if not (self.model_dir / "config.json").exists() and not (self.model_dir / "modules.json").exists():
            raise NLPError(ErrorCode.E206, path=str(self.model_dir))
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise NLPError(ErrorCode.E205, package="sentence-transformers") from exc
        self._model = SentenceTransformer(str(self.model_dir), device="cpu", local_files_only=True)
        dimension = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dim = int(dimension() or 0)

    def embed(self, texts: Sequence[str], kind: Kind = "passage") -> np.ndarray:
        if self._model is None:
            self.warm_up()
        prefix = self.query_prefix if kind == "query" else self.passage_prefix
        cut = [prefix + t[: self.max_chars] for t in texts]
        vectors = self._model.encode(cut, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True)
        return np.asarray(vectors, dtype=np.float32).reshape(len(cut), self.dim)
