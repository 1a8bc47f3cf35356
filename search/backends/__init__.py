"""Search backends behind one protocol: embedded SQLite (default) and, later, Elasticsearch."""

from __future__ import annotations

from search.backends.base import Hit, SearchBackend, SearchRequest, SearchResponse

__all__ = ["Hit", "SearchBackend", "SearchRequest", "SearchResponse"]
