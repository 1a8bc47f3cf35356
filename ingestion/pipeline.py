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
from radar.parallel import ordered_map
from radar.records import Source
from search.store import RecordRow, UpsertOutcome, record_row
from search.stores import StoreProtocol

__all__ = ["CursorSpec", "IngestReport", "export_quarantine", "ingest_path", "ingest_rows", "read_source"]

logger = logging.getLogger(__name__)

PARALLEL_MIN_BYTES = 1 << 20


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


@dataclass(slots=True)
class Prepared:
    """A row after the pure, CPU-heavy part of ingestion (done in worker processes when asked)."""

    item: RawRow | BadRow
    outcome: RecordRow | BadRow
    identifiers: list[tuple[str, str]] = field(default_factory=list)


def prepare_batch(batch: list[RawRow | BadRow], opts: ConvertOptions) -> list[Prepared]:
    """Convert, hash and (when configured) collect raw identifiers. Pure: safe in any process."""
    out = []
    for item in batch:
        outcome = to_record(item, opts) if isinstance(item, RawRow) else item
        if isinstance(outcome, BadRow):
            out.append(Prepared(item, outcome))
            continue
        ids = raw_identifiers(item) if opts.keep_raw_identifiers and isinstance(item, RawRow) else []
        out.append(Prepared(item, record_row(outcome, dedup_key(outcome), simhash(outcome.text)), ids))
    return out


def _batches(rows: Iterable[RawRow | BadRow], size: int, report: IngestReport) -> Iterator[list[RawRow | BadRow]]:
    batch: list[RawRow | BadRow] = []
    for row in rows:
        report.read += 1
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def ingest_rows(
    rows: Iterable[RawRow | BadRow],
    store: StoreProtocol,
    opts: ConvertOptions,
    *,
    batch_size: int = 500,
    on_progress: Callable[[int], None] | None = None,
    cursor: CursorSpec | None = None,
    workers: int = 1,
) -> tuple[IngestReport, list[BadRow]]:
    """Convert and upsert rows; every batch commits as one transaction, with its cursor.

    Conversion is pure and may run in ``workers`` processes; writes stay in this process, in
    input order, so the result is the same for any number of workers.
    """
    report, bad_rows = IngestReport(), []
    position = store.get_cursor(cursor.name) if cursor else None
    for prepared in ordered_map(prepare_batch, _batches(rows, batch_size, report), opts, workers=workers):
        with store.transaction():
            known = store.lookup([p.outcome.record.id for p in prepared if isinstance(p.outcome, RecordRow)])
            for p in prepared:
                bad = _write_one(p, store, report, known)
                if bad is not None:
                    bad_rows.append(bad)
                if cursor and isinstance(p.item, RawRow):
                    value = cursor.value_of(p.item)
                    if value is not None:
                        position = value if cursor.ordered or position is None else max(position, value)
            if cursor and position:
                store.set_cursor(cursor.name, position)
        if on_progress:
            on_progress(len(prepared))
    return report, bad_rows


def _write_one(p: Prepared, store: StoreProtocol, report: IngestReport, known: dict[str, tuple[int, str]]) -> BadRow | None:
    if isinstance(p.outcome, BadRow):
        bad = p.outcome
        store.quarantine(bad.source, bad.file, bad.location, bad.raw, bad.code, bad.message)
        report.quarantined += 1
        return bad
    result = store.upsert_row(p.outcome, known)
    if result in (UpsertOutcome.INGESTED, UpsertOutcome.NEAR_DUPLICATE):
        report.ingested += 1
        report.near_duplicates += result == UpsertOutcome.NEAR_DUPLICATE
    elif result == UpsertOutcome.UPDATED:
        report.updated += 1
    else:
        report.duplicates += 1
    if p.identifiers:
        store.keep_raw_identifiers(p.outcome.record.id, p.identifiers)
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
    store: StoreProtocol,
    opts: ConvertOptions,
    *,
    fmt: str | None = None,
    encoding: str | None = None,
    since: str | None = None,
    batch_size: int = 500,
    on_progress: Callable[[int], None] | None = None,
    workers: int = 1,
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
        # worker processes pay for themselves only on large files
        file_workers = workers if file.stat().st_size >= PARALLEL_MIN_BYTES else 1
        report, bad = ingest_rows(rows, store, opts, batch_size=batch_size, on_progress=on_progress, workers=file_workers)
        report.files.append(str(file))
        if bad:
            folder = store.path.parent / f"{store.path.stem}-quarantine"
            report.quarantine_path = str(export_quarantine(bad, folder, f"{source}-{file.stem}"))
        logger.info("ingested %s: %s", file, report.to_dict())
        total.add(report)
    return total
