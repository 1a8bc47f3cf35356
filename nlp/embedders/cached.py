"""An embedder that asks a cache first: each distinct text is embedded once, ever."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nlp.embedders.base import Embedder, EmbeddingCache, Kind, text_key

__all__ = ["CachedEmbedder"]


class CachedEmbedder:
    """Wraps an embedder with a cache keyed by (model name, content hash); batches the misses."""

    def __init__(self, embedder: Embedder, cache: EmbeddingCache, *, batch_size: int = 32) -> None:
        self.embedder = embedder
        self.cache = cache
        self.batch_size = batch_size
        self.misses = 0

    @property
    def name(self) -> str:
        return self.embedder.name

    @property
    def dim(self) -> int:
        return self.embedder.dim

    def warm_up(self) -> None:
        self.embedder.warm_up()

    def embed(self, texts: Sequence[str], kind: Kind = "passage") -> np.ndarray:
        keys = [text_key(t, kind) for t in texts]
        found = self.cache.get_vectors(self.name, list(dict.fromkeys(keys)))
        missing = {k: t for k, t in zip(keys, texts, strict=True) if k not in found}
        if missing:
            todo = list(missing.items())
            for i in range(0, len(todo), self.batch_size):
                chunk = todo[i : i + self.batch_size]
                vectors = self.embedder.embed([t for _, t in chunk], kind)
                new = {k: vectors[j] for j, (k, _) in enumerate(chunk)}
                self.cache.put_vectors(self.name, new)
                found.update(new)
            self.misses += len(missing)
        dim = self.embedder.dim or (next(iter(found.values())).shape[0] if found else 0)
        if not keys:
            return np.zeros((0, dim), dtype=np.float32)
        return np.stack([found[k] for k in keys]).astype(np.float32, copy=False)
