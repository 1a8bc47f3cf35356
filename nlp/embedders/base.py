"""The embedder protocol, and the cache protocol the store implements."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Literal, Protocol, runtime_checkable

import numpy as np

__all__ = ["Embedder", "EmbeddingCache", "Kind", "MemoryCache", "text_key"]

Kind = Literal["query", "passage"]


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
