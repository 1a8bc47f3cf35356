"""The embedder protocol, and the cache protocol the store implements."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Literal, Protocol, runtime_checkable

import numpy as np

__all__ = ["DEFAULT_SIMILARITY_FLOOR", "Embedder", "EmbeddingCache", "Kind", "MemoryCache", "similarity_floor", "text_key", "unwrap"]

Kind = Literal["query", "passage"]
DEFAULT_SIMILARITY_FLOOR = 0.87  # multilingual-e5's scale: its unrelated texts already score 0.7-0.8


@runtime_checkable
class Embedder(Protocol):
    """Texts in, L2-normalised float32 rows out. ``name`` identifies model and settings for caching."""

    @property
    def name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def warm_up(self) -> None: ...

    def embed(self, texts: Sequence[str], kind: Kind = "passage") -> np.ndarray: ...


class EmbeddingCache(Protocol):
    """Vectors by (model name, text key). The SQLite store implements it; so does ``MemoryCache``."""

    def get_vectors(self, model: str, keys: Sequence[str]) -> dict[str, np.ndarray]: ...

    def put_vectors(self, model: str, items: dict[str, np.ndarray]) -> None: ...


def text_key(text: str, kind: Kind) -> str:
    """Content hash of what is embedded: unchanged text is never embedded twice."""
    return hashlib.blake2b(f"{kind}\x1f{text}".encode(), digest_size=16).hexdigest()


class MemoryCache:
    """An in-process cache, for tests and one-off jobs."""

    def __init__(self) -> None:
        self._data: dict[tuple[str, str], np.ndarray] = {}

    def get_vectors(self, model: str, keys: Sequence[str]) -> dict[str, np.ndarray]:
        return {k: self._data[(model, k)] for k in keys if (model, k) in self._data}

    def put_vectors(self, model: str, items: dict[str, np.ndarray]) -> None:
        for k, v in items.items():
            self._data[(model, k)] = v

    def __len__(self) -> int:
        return len(self._data)


def unwrap(embedder: Embedder) -> Embedder:
    """The model under any wrapper (``CachedEmbedder`` keeps it in ``.embedder``)."""
    inner = getattr(embedder, "embedder", None)
    return unwrap(inner) if inner is not None else embedder


def similarity_floor(embedder: Embedder | None) -> float:
    """The cosine a semantic hit needs by default: each model's scale differs (an embedder states its own
    ``similarity_floor``; E5's otherwise, and with no embedder). ``RADAR_MIN_SIMILARITY`` overrides it."""
    if embedder is None:
        return DEFAULT_SIMILARITY_FLOOR
    return float(getattr(unwrap(embedder), "similarity_floor", DEFAULT_SIMILARITY_FLOOR))
