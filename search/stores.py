"""Which store: the SQLite file (default) or PostgreSQL through SQLAlchemy, behind one protocol.

``StoreProtocol`` is what the ingest, label and Elasticsearch-index paths call; both ``Store``
(search/store.py) and ``SQLStore`` (search/sql_store.py) implement it. Everything else that
writes SQL for SQLite against ``store.conn`` (the embedded FTS5 index, insights, the API) stays
SQLite-only and says so with ``require_sqlite`` (error E307) rather than failing in SQL.
SQLAlchemy is imported only when a URL store is opened: the SQLite path does not pay for it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol, Self

import numpy as np

from radar.errors import ErrorCode, SearchError
from radar.records import Label, Record
from search.store import RecordRow, Store

__all__ = ["StoreProtocol", "describe", "is_sqlite", "is_store_url", "mask_url", "open_store", "require_sqlite"]

logger = logging.getLogger(__name__)

_URL_SCHEMES = ("postgresql", "postgres", "sqlite")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+")  # two characters at least, so a drive letter (C:) stays a path


class StoreProtocol(Protocol):
    """The system of record as the ingest, label and Elasticsearch-index paths use it."""

    path: Path  # files kept beside the store (quarantine exports) go next to this

    def __enter__(self) -> Self: ...
    def __exit__(self, *exc: object) -> None: ...
    def close(self) -> None: ...
    def transaction(self) -> AbstractContextManager[Any]: ...
    def search_epoch(self) -> str: ...
    def get_meta(self, key: str) -> str | None: ...
    def set_meta(self, key: str, value: str) -> None: ...
    def get_cursor(self, name: str) -> str | None: ...
    def set_cursor(self, name: str, value: str) -> None: ...
    def upsert(self, record: Record, dedup_key: str, simhash: int | None = None) -> str: ...
    def lookup(self, ids: Sequence[str]) -> dict[str, tuple[int, str]]: ...
    def upsert_row(self, row: RecordRow, known: dict[str, tuple[int, str]] | None = None) -> str: ...
    def keep_raw_identifiers(self, record_id: str, identifiers: list[tuple[str, str]]) -> None: ...
    def get(self, record_id: str) -> Record | None: ...
    def get_by_rowids(self, rowids: Sequence[int]) -> list[Record]: ...
    def rowid(self, record_id: str) -> int | None: ...
    def iter_unlabelled(
        self, *, mode: str = "changed", label_version: str = "", batch: int = 500
    ) -> Iterator[list[tuple[int, Record]]]: ...
    def write_labels(
        self, rowid: int, labels: dict[str, list[Label]], needs_review: Iterable[str], taxonomy_version: str, label_version: str = ""
    ) -> None: ...
    def write_turn_sentiment(self, rowid: int, turns: list[tuple[int, str, str, float, float, bool]]) -> None: ...
    def write_entities(self, rowid: int, entities: Iterable[tuple[str, str, int, int, str]]) -> None: ...
    def get_vectors(self, model: str, keys: Sequence[str]) -> dict[str, np.ndarray]: ...
    def put_vectors(self, model: str, items: dict[str, np.ndarray]) -> None: ...
    def attached_models(self) -> Sequence[Any]: ...
    def quarantine(self, source: str, file: str, location: str, raw: str, code: str, message: str) -> bool: ...
    def quarantined(self, source: str | None = None) -> Sequence[Any]: ...
    def start_job(self, kind: str, versions: dict[str, str], *, total: int | None = None, started_by: str | None = None) -> int: ...
    def job_progress(self, job_id: int, done: int, total: int | None = None) -> None: ...
    def request_cancel(self, job_id: int) -> bool: ...
    def cancel_requested(self, job_id: int) -> bool: ...
    def job(self, job_id: int) -> dict[str, Any] | None: ...
    def finish_job(self, job_id: int, counts: dict[str, Any], status: str = "done", errors: list[str] | None = None) -> None: ...
    def label_counts(self, facet: str | None = None) -> dict[str, dict[str, int]]: ...
    def count(self, table: str = "records") -> int: ...


def is_store_url(target: str | Path) -> bool:
    """A URL (``postgresql+psycopg://…``, ``sqlite:///…``, any ``scheme://``) rather than a file path."""
    if not isinstance(target, str):
        return False
    scheme, sep, _ = target.partition(":")
    return bool(sep) and (scheme.split("+", 1)[0].lower() in _URL_SCHEMES or _SCHEME.fullmatch(scheme) is not None and "://" in target)


def mask_url(url: str) -> str:
    """The URL with its password replaced, for messages and logs."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else url


def open_store(target: str | Path) -> StoreProtocol:
    """A path or ``sqlite:`` URL opens the SQLite ``Store``; ``postgresql+psycopg://…`` the SQLAlchemy store."""
    if not is_store_url(target):
        return Store.open(target)
    url = str(target)
    scheme = url.split(":", 1)[0].lower()
    if scheme.startswith("sqlite"):
        path = url.split(":///", 1)[1] if ":///" in url else ""
        if not path or path == ":memory:":  # the SQLite store is a file other processes reopen: no in-memory store
            raise SearchError(ErrorCode.E308, url=url, reason="a SQLite URL needs a file path (sqlite:///path/to/radar.db)")
        return Store.open(path)
    from search.sql_store import SQLStore

    return SQLStore.open(url)


def is_sqlite(store: object) -> bool:
    """The SQLite store, whose raw connection the embedded index, insights and API write SQL against."""
    return isinstance(store, Store)


def describe(store: object) -> str:
    """Where the store lives, safe to print (no password)."""
    if isinstance(store, Store):
        return str(store.path)
    return str(getattr(store, "location", type(store).__name__))


def require_sqlite(store: object, feature: str) -> Store:
    """The store itself when it is the SQLite one, else error E307 naming the feature."""
    if isinstance(store, Store):
        return store
    raise SearchError(ErrorCode.E307, feature=feature, store=describe(store))
