"""Ingest rows into the store in transactional batches, quarantining what cannot be read."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ingestion.convert import ConvertOptions, dedup_key, raw_identifiers, to_record
from ingestion.formats import parse_datetime
from ingestion.readers.calls import read_calls
from ingestion.readers.forms import read_forms
from ingestion.readers.forum import read_forum
from ingestion.readers.tickets import read_tickets
from ingestion.rows import BadRow, RawRow
from nlp.simhash import simhash
from radar.errors import ErrorCode, IngestionError
from radar.records import Source
from search.store import Store, UpsertOutcome

__all__ = ["CursorSpec", "IngestReport", "export_quarantine", "ingest_path", "ingest_rows", "read_source"]

logger = logging.getLogger(__name__)


@dataclass
class IngestReport:
    """Counts of one run. read = ingested + updated + duplicates + quarantined, always.

    ``near_duplicates`` are new records (counted in ``ingested``) linked to the record they repeat.
    """

    read: int = 0
    ingested: int = 0
    updated: int = 0
    duplicates: int = 0
    quarantined: int = 0
    quarantine_path: str | None = None
    near_duplicates: int = 0
    files: list[str] = field(default_factory=list)

    def add(self, other: IngestReport) -> None:
        for name in ("read", "ingested", "updated", "duplicates", "quarantined", "near_duplicates"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.files.extend(other.files)
        self.quarantine_path = other.quarantine_path or self.quarantine_path

    def to_dict(self) -> dict[str, object]:
        out = asdict(self)
        out.pop("files")
        return out


def read_source(source: str, path: Path, fmt: str | None = None, encoding: str | None = None) -> Iterator[RawRow | BadRow]:
    """Rows of one file of one source."""
    try:
        kind = Source(source)
    except ValueError:
        raise IngestionError(ErrorCode.E109, source=source, options=", ".join(s.value for s in Source)) from None
    if not path.exists():
        raise IngestionError(ErrorCode.E101, path=str(path), reason="no such file")
    if kind is Source.FORUM:
        return read_forum(path, encoding)
    if kind is Source.CALLS:
        return read_calls(path, encoding, fmt)
    if kind is Source.TICKETS:
        return read_tickets(path, encoding)
    return read_forms(path, encoding)


@dataclass(frozen=True)
class CursorSpec:
    """A named cursor that advances, in the same transaction, with the rows it covers."""

    name: str
    value_of: Callable[[RawRow], str | None]
    ordered: bool = False  # rows arrive in cursor order: the last value wins (else the greatest)


def ingest_rows(
    rows: Iterable[RawRow | BadRow],
    store: Store,
    opts: ConvertOptions,
    *,
    batch_size: int = 500,
    on_progress: Callable[[int], None] | None = None,
    cursor: CursorSpec | None = None,
) -> tuple[IngestReport, list[BadRow]]:
    """Convert and upsert rows; every batch commits as one transaction (with its cursor)."""
    report, bad_rows = IngestReport(), []
    batch: list[RawRow | BadRow] = []
    position = store.get_cursor(cursor.name) if cursor else None

    def flush() -> None:
        nonlocal position
        with store.transaction():
            for item in batch:
                bad = _ingest_one(item, store, opts, report)
                if bad is not None:
                    bad_rows.append(bad)
                if cursor and isinstance(item, RawRow):
                    value = cursor.value_of(item)
                    if value is not None:
                        position = value if cursor.ordered or position is None else max(position, value)
            if cursor and position:
                store.set_cursor(cursor.name, position)
        if on_progress:
            on_progress(len(batch))
        batch.clear()

    for row in rows:
        report.read += 1
        batch.append(row)
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    return report, bad_rows


def _ingest_one(item: RawRow | BadRow, store: Store, opts: ConvertOptions, report: IngestReport) -> BadRow | None:
    outcome = to_record(item, opts) if isinstance(item, RawRow) else item
    if isinstance(outcome, BadRow):
        store.quarantine(outcome.source, outcome.file, outcome.location, outcome.raw, outcome.code, outcome.message)
        report.quarantined += 1
        return outcome
    result = store.upsert(outcome, dedup_key(outcome), simhash(outcome.text))
    if result in (UpsertOutcome.INGESTED, UpsertOutcome.NEAR_DUPLICATE):
        report.ingested += 1
        report.near_duplicates += result == UpsertOutcome.NEAR_DUPLICATE
    elif result == UpsertOutcome.UPDATED:
        report.updated += 1
    else:
        report.duplicates += 1
    if opts.keep_raw_identifiers and isinstance(item, RawRow):
        store.keep_raw_identifiers(outcome.id, raw_identifiers(item))
    return None


def _since(rows: Iterable[RawRow | BadRow], since: str) -> Iterator[RawRow | BadRow]:
    try:
        threshold = parse_datetime(since)
    except ValueError:
        raise IngestionError(ErrorCode.E108, value=since) from None
    for row in rows:
        if isinstance(row, RawRow) and threshold is not None:
            try:
                created = parse_datetime(row.data.get("created_at"))
            except ValueError:
                created = None
            if created is not None and created < threshold:
                continue
        yield row


def export_quarantine(bad_rows: list[BadRow], folder: Path, name: str) -> Path:
    """Write this run's bad rows to a JSONL file for the people who fix the exports."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        for row in bad_rows:
            fh.write(json.dumps(asdict(row), ensure_ascii=False) + "\n")
    return path


def ingest_path(
    source: str,
    path: Path,
    store: Store,
    opts: ConvertOptions,
    *,
    fmt: str | None = None,
    encoding: str | None = None,
    since: str | None = None,
    batch_size: int = 500,
    on_progress: Callable[[int], None] | None = None,
) -> IngestReport:
    """Ingest one file (or every file of a folder) of one source.

    With ``since``, items created before it are not read (items without a readable date are).
    """
    files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
    total = IngestReport()
    for file in files:
        rows = read_source(source, file, fmt, encoding)
        if since:
            rows = _since(rows, since)
        report, bad = ingest_rows(rows, store, opts, batch_size=batch_size, on_progress=on_progress)
        report.files.append(str(file))
        if bad:
            folder = store.path.parent / f"{store.path.stem}-quarantine"
            report.quarantine_path = str(export_quarantine(bad, folder, f"{source}-{file.stem}"))
        logger.info("ingested %s: %s", file, report.to_dict())
        total.add(report)
    return total
