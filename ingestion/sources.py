"""Pull sources and the sources config: the forum API, SQL tables, and files, each with a cursor.

``radar ingest --config sources.yaml`` reads several sources at once::

    sources:
      - name: gz-tickets            # names the cursor; unique
        source: tickets
        path: exports/tickets/      # a file or a folder; unchanged files are skipped
        encoding: gb18030           # optional; detected when absent
        header_map: {工单号: source_id}
      - name: forum
        source: forum
        url: http://forum.example/api
        page_size: 100
      - name: ticket-db
        source: tickets
        sql: {url: "postgresql://…", table: tickets, cursor_column: id}
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ingestion.convert import ConvertOptions
from ingestion.formats import parse_datetime
from ingestion.pipeline import CursorSpec, IngestReport, export_quarantine, ingest_rows, read_source
from ingestion.readers.forms import read_forms
from ingestion.readers.forum_api import ForumAPIReader
from ingestion.readers.sql import read_sql
from ingestion.readers.tickets import read_tickets
from ingestion.rows import BadRow, RawRow
from radar.errors import ErrorCode, IngestionError
from radar.records import Source
from search.stores import StoreProtocol

__all__ = ["SourceConfig", "SourcesConfig", "ingest_config", "ingest_forum_api", "ingest_sql", "load_sources_config"]

logger = logging.getLogger(__name__)
Progress = Callable[[int], None]


class SQLSource(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str
    table: str | None = None
    query: str | None = None
    cursor_column: str
    page_size: int = Field(default=1000, gt=0)


class SourceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    source: Source
    path: Path | None = None
    url: str | None = None
    sql: SQLSource | None = None
    format: str | None = None
    encoding: str | None = None
    header_map: dict[str, str] | None = None
    since: str | None = None
    page_size: int = Field(default=100, gt=0)

    @model_validator(mode="after")
    def _one_location(self) -> SourceConfig:
        if sum(x is not None for x in (self.path, self.url, self.sql)) != 1:
            raise ValueError("give exactly one of path, url or sql")
        if self.url is not None and self.source is not Source.FORUM:
            raise ValueError("url (an HTTP API) is supported for the forum source")
        return self


class SourcesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sources: list[SourceConfig]

    @model_validator(mode="after")
    def _unique_names(self) -> SourcesConfig:
        names = [s.name for s in self.sources]
        if len(names) != len(set(names)):
            raise ValueError("source names must be unique: each names its own cursor")
        return self


def load_sources_config(path: Path) -> SourcesConfig:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        config = SourcesConfig.model_validate(data)
    except OSError as exc:
        raise IngestionError(ErrorCode.E112, path=str(path), reason=str(exc)) from exc
    except (yaml.YAMLError, ValidationError) as exc:
        raise IngestionError(ErrorCode.E112, path=str(path), reason=str(exc).replace("\n", " ")[:500]) from exc
    base = path.parent
    for src in config.sources:  # relative paths are relative to the config file
        if src.path is not None and not src.path.is_absolute():
            src.path = base / src.path
    return config


def _created_at_cursor(row: RawRow) -> str | None:
    try:
        when = parse_datetime(row.data.get("created_at"))
    except ValueError:
        return None
    return when.isoformat(timespec="seconds") if when else None


def _finish(report: IngestReport, bad: list[BadRow], store: StoreProtocol, name: str) -> IngestReport:
    if bad:
        folder = store.path.parent / f"{store.path.stem}-quarantine"
        report.quarantine_path = str(export_quarantine(bad, folder, name))
    return report


def ingest_forum_api(
    url: str,
    store: StoreProtocol,
    opts: ConvertOptions,
    *,
    name: str | None = None,
    since: str | None = None,
    page_size: int = 100,
    batch_size: int = 500,
    on_progress: Progress | None = None,
    **reader_options: Any,
) -> IngestReport:
    """Pull posts since the cursor (or ``since``); the cursor is the newest post time committed."""
    cursor = CursorSpec(f"forum-api:{name or url}", _created_at_cursor)
    reader = ForumAPIReader(url, since=since or store.get_cursor(cursor.name), page_size=page_size, **reader_options)
    report, bad = ingest_rows(reader.rows(), store, opts, batch_size=batch_size, on_progress=on_progress, cursor=cursor)
    report.files.append(url)
    return _finish(report, bad, store, f"forum-{(name or 'api')}")


def ingest_sql(
    sql: SQLSource,
    source: str,
    store: StoreProtocol,
    opts: ConvertOptions,
    *,
    name: str,
    since: str | None = None,
    header_map: dict[str, str] | None = None,
    batch_size: int = 500,
    on_progress: Progress | None = None,
) -> IngestReport:
    """Read rows past the cursor column's last committed value, in cursor order."""
    cursor = CursorSpec(f"sql:{name}", lambda row: row.data.get("_cursor"), ordered=True)
    rows = read_sql(
        sql.url,
        source,
        cursor_column=sql.cursor_column,
        table=sql.table,
        query=sql.query,
        since=since or store.get_cursor(cursor.name),
        header_map=header_map,
        page_size=sql.page_size,
    )
    report, bad = ingest_rows(rows, store, opts, batch_size=batch_size, on_progress=on_progress, cursor=cursor)
    report.files.append(sql.url)
    return _finish(report, bad, store, f"{source}-{name}")


def _file_rows(src: SourceConfig, file: Path) -> Iterator[RawRow | BadRow]:
    if src.header_map and src.source is Source.TICKETS:
        return read_tickets(file, src.encoding, header_map=src.header_map)
    if src.header_map and src.source is Source.FORMS:
        return read_forms(file, src.encoding, header_map=src.header_map)
    return read_source(src.source.value, file, src.format, src.encoding)


def _ingest_files(
    src: SourceConfig, store: StoreProtocol, opts: ConvertOptions, batch_size: int, on_progress: Progress | None
) -> IngestReport:
    """Files whose content changed since the last committed run; each file's hash is its cursor."""
    assert src.path is not None
    files = sorted(p for p in src.path.iterdir() if p.is_file()) if src.path.is_dir() else [src.path]
    total = IngestReport()
    for file in files:
        digest = hashlib.sha256(file.read_bytes()).hexdigest()
        name = f"file:{src.name}:{file.name}"
        if store.get_cursor(name) == digest:
            continue  # already ingested as it is now
        report, bad = ingest_rows(_file_rows(src, file), store, opts, batch_size=batch_size, on_progress=on_progress)
        with store.transaction():
            store.set_cursor(name, digest)  # only once the whole file is committed: a killed run re-reads it
        report.files.append(str(file))
        total.add(_finish(report, bad, store, f"{src.name}-{file.stem}"))
    return total


def ingest_config(
    config: SourcesConfig, store: StoreProtocol, opts: ConvertOptions, *, batch_size: int = 500, on_progress: Progress | None = None
) -> dict[str, IngestReport]:
    """Ingest every configured source, each with its own cursor."""
    reports: dict[str, IngestReport] = {}
    for src in config.sources:
        if src.url is not None:
            reports[src.name] = ingest_forum_api(
                src.url,
                store,
                opts,
                name=src.name,
                since=src.since,
                page_size=src.page_size,
                batch_size=batch_size,
                on_progress=on_progress,
            )
        elif src.sql is not None:
            reports[src.name] = ingest_sql(
                src.sql,
                src.source.value,
                store,
                opts,
                name=src.name,
                since=src.since,
                header_map=src.header_map,
                batch_size=batch_size,
                on_progress=on_progress,
            )
        else:
            reports[src.name] = _ingest_files(src, store, opts, batch_size, on_progress)
        logger.info("source %s: %s", src.name, reports[src.name].to_dict())
    return reports
