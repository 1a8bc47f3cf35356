"""The system of record over a SQLAlchemy engine: PostgreSQL for multi-machine deployments.

The same methods and semantics as the SQLite ``Store`` that the ingest, label and
Elasticsearch-index paths call (``StoreProtocol``): idempotent upserts by id compared on the
stored body, exact and near-duplicate links, status history, labels replaced per record,
quarantine with its reason, cursors committed with their batch, jobs, the embedding cache.
Written in SQLAlchemy Core over ``search.sql_schema``; conflicts use the dialect's own upsert
(``INSERT … ON CONFLICT``), so several machines can write to one database. It also runs on
SQLite through SQLAlchemy, which is how the contract tests cover it without a server.

There is no ``conn``: modules that write SQLite SQL against the raw connection (the embedded
FTS5 index, insights, the API) get error E307 naming them instead of a failure inside SQL.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, Engine, RowMapping
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from nlp.simhash import MAX_DISTANCE, bands, hamming
from radar.errors import ErrorCode, SearchError
from radar.records import Label, Record
from search.sql_schema import (
    cursors,
    embeddings,
    entities,
    es_state,
    jobs,
    labels,
    meta,
    metadata,
    models,
    needs_review,
    quarantine,
    raw_identifiers,
    record_history,
    records,
    simhash_bands,
    turn_sentiment,
)
from search.store import HISTORY_FIELDS, SCHEMA_VERSION, RecordRow, UpsertOutcome, record_row
from search.stores import mask_url

__all__ = ["SQLStore"]

logger = logging.getLogger(__name__)

# the order of RecordRow.columns
_COLUMNS = ("id", "source", "source_id", "channel", "created_at", "region", "customer_key", "title", "text", "body", "content_hash")
_CHUNK = 1000  # ids per IN (...): far below PostgreSQL's 65,535 parameters and SQLite's 32,766


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _text(value: object) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _no_nul(value: str | None) -> str | None:
    # PostgreSQL text cannot hold NUL; the SQLite store keeps it. Bodies are JSON (NUL escaped), so
    # records read back exactly; only the searchable copies and quarantined raw rows lose it
    return value.replace("\x00", "\ufffd") if value else value


def _chunks(values: Sequence[Any]) -> Iterator[list[Any]]:
    for i in range(0, len(values), _CHUNK):
        yield list(values[i : i + _CHUNK])


def _normalise(url: str) -> URL:
    """The URL parsed, with plain ``postgresql://`` meaning psycopg 3 (the driver installed)."""
    try:
        parsed = sa.make_url(url)
    except ArgumentError as exc:
        raise SearchError(ErrorCode.E308, url=mask_url(url), reason=str(exc)) from None
    backend, driver = parsed.get_backend_name(), parsed.get_driver_name()
    if backend == "postgresql" and "+" not in parsed.drivername:
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif backend == "postgresql" and driver != "psycopg":
        raise SearchError(ErrorCode.E308, url=mask_url(url), reason=f"driver '{driver}' is not installed; use postgresql+psycopg")
    elif backend not in ("postgresql", "sqlite"):
        raise SearchError(ErrorCode.E308, url=mask_url(url), reason=f"'{backend}' is not a supported store")
    return parsed


def _reason(exc: BaseException, password: str | None) -> str:
    """The driver's own message, first line only (SQLAlchemy appends the SQL and a link), password masked."""
    lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    text = lines[0] if lines else type(exc).__name__
    return text.replace(password, "***") if password else text


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=30000"):
        cur.execute(f"PRAGMA {pragma}")
    cur.close()


class SQLStore:
    """The system of record on a SQLAlchemy engine. Open with ``SQLStore.open(url)``; use as a context manager."""

    def __init__(self, engine: Engine, path: Path, location: str) -> None:
        self.engine = engine
        self.path = path  # quarantine exports go beside it: ./<database>-quarantine for PostgreSQL
        self.location = location  # the URL with the password masked: the only form printed or logged
        self.dialect = engine.dialect.name
        self._conn: Connection | None = None
        self._batch_now: str | None = None
        self._touched = False

    @classmethod
    def open(cls, url: str, *, path: Path | None = None) -> SQLStore:
        parsed = _normalise(url)
        location = parsed.render_as_string(hide_password=True)
        engine = sa.create_engine(parsed, pool_pre_ping=True, hide_parameters=True)
        if parsed.get_backend_name() == "sqlite":
            sa.event.listen(engine, "connect", _sqlite_pragmas)
        try:
            metadata.create_all(engine)
        except SQLAlchemyError as exc:
            engine.dispose()
            raise SearchError(ErrorCode.E301, path=location, reason=_reason(exc, parsed.password)) from None
        store = cls(engine, path or Path(parsed.database or "radar"), location)
        store._check_version()
        logger.info("opened store %s", location)
        return store

    def __repr__(self) -> str:
        return f"SQLStore({self.location!r})"

    def _check_version(self) -> None:
        found = self.get_meta("schema_version")
        if found is None:
            self.set_meta("schema_version", str(SCHEMA_VERSION))
        elif int(found) != SCHEMA_VERSION:
            raise SearchError(ErrorCode.E302, path=self.location, found=found, expected=SCHEMA_VERSION)

    @property
    def conn(self) -> NoReturn:
        """Raw SQLite SQL cannot run here: name the module that tried, with the fix (E307)."""
        caller = sys._getframe(1).f_globals.get("__name__", "this feature")
        raise SearchError(ErrorCode.E307, feature=f"'{caller}'", store=self.location)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> SQLStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions -------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One atomic batch: everything inside commits together or not at all (nested calls join it)."""
        if self._conn is not None:
            yield self._conn
            return
        with self.engine.begin() as conn:
            self._conn, self._batch_now = conn, _now()  # one timestamp per transaction, as in the SQLite store
            try:
                yield conn
                if self._touched:  # once per transaction: caches of search state compare this number
                    self._bump_epoch(conn)
            finally:
                self._conn, self._batch_now, self._touched = None, None, False

    @contextmanager
    def _run(self) -> Iterator[Connection]:
        """The open transaction's connection, or a short transaction of its own."""
        if self._conn is not None:
            yield self._conn
            return
        with self.engine.begin() as conn:
            yield conn

    def _insert(self, table: sa.Table) -> Any:
        """A dialect insert: both offer ``on_conflict_do_update``/``_do_nothing`` with ``excluded``."""
        return postgresql.insert(table) if self.dialect == "postgresql" else sqlite.insert(table)

    def _binary(self, column: sa.ColumnElement[str]) -> sa.ColumnElement[str]:
        # PostgreSQL sorts text by the cluster's locale; byte order gives the SQLite store's order
        return column.collate("C") if self.dialect == "postgresql" else column

    def _bump_epoch(self, conn: Connection) -> None:
        stmt = self._insert(meta).values(key="search_epoch", value="1")
        bumped = sa.cast(sa.cast(meta.c.value, sa.Integer) + 1, sa.Text)
        conn.execute(stmt.on_conflict_do_update(index_elements=[meta.c.key], set_={"value": bumped}))

    # -- meta and cursors -----------------------------------------------------------------------

    def search_epoch(self) -> str:
        """Moves whenever a transaction wrote records or labels."""
        return self.get_meta("search_epoch") or "0"

    def get_meta(self, key: str) -> str | None:
        with self._run() as conn:
            value = conn.execute(sa.select(meta.c.value).where(meta.c.key == key)).scalar()
        return None if value is None else str(value)

    def set_meta(self, key: str, value: str) -> None:
        stmt = self._insert(meta).values(key=key, value=value)
        with self._run() as conn:
            conn.execute(stmt.on_conflict_do_update(index_elements=[meta.c.key], set_={"value": stmt.excluded.value}))

    def get_cursor(self, name: str) -> str | None:
        with self._run() as conn:
            value = conn.execute(sa.select(cursors.c.value).where(cursors.c.name == name)).scalar()
        return None if value is None else str(value)

    def set_cursor(self, name: str, value: str) -> None:
        """Call inside the transaction that commits the data the cursor covers."""
        stmt = self._insert(cursors).values(name=name, value=value, updated_at=_now())
        update = {"value": stmt.excluded.value, "updated_at": stmt.excluded.updated_at}
        with self._run() as conn:
            conn.execute(stmt.on_conflict_do_update(index_elements=[cursors.c.name], set_=update))

    # -- records --------------------------------------------------------------------------------

    def upsert(self, record: Record, dedup_key: str, simhash: int | None = None) -> str:
        """Insert or update by id; exact and near repeats are kept and linked. Returns an ``UpsertOutcome``."""
        return self.upsert_row(record_row(record, dedup_key, simhash))

    def lookup(self, ids: Sequence[str]) -> dict[str, tuple[int, str]]:
        """Existing records by id: (rowid, body)."""
        if not ids:
            return {}
        with self._run() as conn:
            return self._lookup(conn, ids)

    def _lookup(self, conn: Connection, ids: Sequence[str]) -> dict[str, tuple[int, str]]:
        out = {}
        for chunk in _chunks(ids):
            for r in conn.execute(sa.select(records.c.id, records.c.rowid, records.c.body).where(records.c.id.in_(chunk))):
                out[str(r.id)] = (int(r.rowid), str(r.body))
        return out

    def upsert_row(self, row: RecordRow, known: dict[str, tuple[int, str]] | None = None) -> str:
        """``upsert`` for a prepared row. ``known`` is ``lookup()`` of the batch, kept current here."""
        self._touched = True
        record = row.record
        if known is None:
            known = self.lookup([record.id])
        existing = known.get(record.id)
        now = self._batch_now or _now()
        with self._run() as conn:
            if existing is None:
                inserted = self._insert_record(conn, row, now)
                if inserted is not None:
                    known[record.id] = (inserted[1], row.body)
                    return inserted[0]
                existing = self._lookup(conn, [record.id])[record.id]  # another machine inserted it meanwhile
            rowid, body = existing
            if row.body == body:
                return UpsertOutcome.DUPLICATE
            self._record_history(conn, Record.model_validate_json(body), record, now)
            values = self._values(row)
            del values["id"]
            conn.execute(sa.update(records).where(records.c.id == record.id).values(**values, updated_at=now))
            conn.execute(sa.delete(simhash_bands).where(simhash_bands.c.record_rowid == rowid))
            self._add_bands(conn, rowid, row.simhash)
        known[record.id] = (rowid, row.body)
        return UpsertOutcome.UPDATED

    @staticmethod
    def _values(row: RecordRow) -> dict[str, Any]:
        values = dict(zip(_COLUMNS, row.columns, strict=True))
        values["text"], values["title"] = _no_nul(values["text"]), _no_nul(values["title"])
        return {**values, "dedup_key": row.dedup_key, "simhash": row.simhash}

    def _insert_record(self, conn: Connection, row: RecordRow, now: str) -> tuple[str, int] | None:
        """Insert a new record (None when the id exists after all): the outcome and its rowid."""
        record = row.record
        dup = conn.execute(
            sa.select(records.c.id)
            .where(records.c.dedup_key == row.dedup_key, records.c.id != record.id)
            .order_by(records.c.rowid)
            .limit(1)
        ).scalar()
        outcome = UpsertOutcome.DUPLICATE if dup is not None else UpsertOutcome.INGESTED
        duplicate_of = dup
        if duplicate_of is None and row.simhash is not None:
            duplicate_of = self._near_duplicate_of(conn, record.source.value, row.simhash)
            outcome = UpsertOutcome.NEAR_DUPLICATE if duplicate_of else outcome
        values = {**self._values(row), "duplicate_of": duplicate_of, "ingested_at": now, "updated_at": now}
        stmt = self._insert(records).values(**values).on_conflict_do_nothing(index_elements=[records.c.id]).returning(records.c.rowid)
        rowid = conn.execute(stmt).scalar()
        if rowid is None:
            return None
        if duplicate_of is None:  # only originals are candidates: buckets stay as small as the number of themes
            self._add_bands(conn, int(rowid), row.simhash)
        return outcome, int(rowid)

    def near_duplicate_of(self, source: str, simhash: int) -> str | None:
        """The earliest record of the same source whose SimHash is within MAX_DISTANCE bits."""
        with self._run() as conn:
            return self._near_duplicate_of(conn, source, simhash)

    def _near_duplicate_of(self, conn: Connection, source: str, simhash: int) -> str | None:
        same = conn.execute(  # templated texts usually hash identically: one index probe
            sa.select(records.c.id)
            .where(records.c.simhash == simhash, records.c.duplicate_of.is_(None), records.c.source == source)
            .order_by(records.c.rowid)
            .limit(1)
        ).scalar()
        if same is not None:
            return str(same)
        joined = simhash_bands.join(records, records.c.rowid == simhash_bands.c.record_rowid)
        rows = conn.execute(
            sa.select(records.c.id, records.c.simhash)
            .select_from(joined)
            .where(simhash_bands.c.band.in_(bands(simhash)), records.c.source == source)
            .order_by(records.c.rowid)
            .limit(200)
        )
        for r in rows:
            if r.simhash is not None and hamming(int(r.simhash), simhash) <= MAX_DISTANCE:
                return str(r.id)
        return None

    def _add_bands(self, conn: Connection, rowid: int, simhash: int | None) -> None:
        if simhash is not None and simhash != 0:
            stmt = self._insert(simhash_bands).on_conflict_do_nothing()
            conn.execute(stmt, [{"band": b, "record_rowid": rowid} for b in bands(simhash)])

    def keep_raw_identifiers(self, record_id: str, identifiers: list[tuple[str, str]]) -> None:
        """Raw phone numbers and the like, only when configured; read by privileged roles only."""
        if not identifiers:
            return
        with self._run() as conn:
            conn.execute(
                self._insert(raw_identifiers).on_conflict_do_nothing(),
                [{"record_id": record_id, "kind": kind, "value": value} for kind, value in identifiers],
            )

    def _record_history(self, conn: Connection, old: Record, new: Record, now: str) -> None:
        if old.ticket is None or new.ticket is None:
            return
        changes = []
        for field in HISTORY_FIELDS:
            before, after = getattr(old.ticket, field), getattr(new.ticket, field)
            if before != after:
                changes.append(
                    {"record_id": new.id, "changed_at": now, "field": field, "old_value": _text(before), "new_value": _text(after)}
                )
        if changes:
            conn.execute(sa.insert(record_history), changes)

    def history(self, record_id: str) -> list[RowMapping]:
        """Status changes of a record, oldest first."""
        with self._run() as conn:
            return list(conn.execute(sa.select(record_history).where(record_history.c.record_id == record_id)).mappings())

    def get(self, record_id: str) -> Record | None:
        with self._run() as conn:
            row = conn.execute(sa.select(records).where(records.c.id == record_id)).mappings().first()
            return None if row is None else self._hydrate(conn, [row])[0]

    def get_by_rowids(self, rowids: Sequence[int]) -> list[Record]:
        if not rowids:
            return []
        with self._run() as conn:
            by_rowid: dict[int, RowMapping] = {}
            for chunk in _chunks(rowids):
                by_rowid.update((r["rowid"], r) for r in conn.execute(sa.select(records).where(records.c.rowid.in_(chunk))).mappings())
            return self._hydrate(conn, [by_rowid[i] for i in rowids if i in by_rowid])

    def _hydrate(self, conn: Connection, rows: list[RowMapping]) -> list[Record]:
        rowids = [r["rowid"] for r in rows]
        found: dict[int, dict[str, list[Label]]] = {i: {} for i in rowids}
        review: dict[int, list[str]] = {i: [] for i in rowids}
        for chunk in _chunks(rowids):
            order = (self._binary(labels.c.facet), labels.c.score.desc(), self._binary(labels.c.label))
            for lr in conn.execute(sa.select(labels).where(labels.c.record_rowid.in_(chunk)).order_by(*order)).mappings():
                found[lr["record_rowid"]].setdefault(lr["facet"], []).append(
                    Label.from_dict({**lr, "evidence": json.loads(lr["evidence"])})
                )
            for nr in conn.execute(sa.select(needs_review).where(needs_review.c.record_rowid.in_(chunk))).mappings():
                review[nr["record_rowid"]].append(nr["facet"])
        out = []
        for r in rows:
            rec = Record.model_validate_json(r["body"])
            update = {
                "labels": found[r["rowid"]],
                "needs_review": sorted(review[r["rowid"]]),
                "taxonomy_version": r["taxonomy_version"],
                "duplicate_of": r["duplicate_of"],
            }
            out.append(rec.model_copy(update=update))
        return out

    def rowid(self, record_id: str) -> int | None:
        with self._run() as conn:
            value = conn.execute(sa.select(records.c.rowid).where(records.c.id == record_id)).scalar()
        return None if value is None else int(value)

    def iter_unlabelled(self, *, mode: str = "changed", label_version: str = "", batch: int = 500) -> Iterator[list[tuple[int, Record]]]:
        """Batches of (rowid, record) to label: ``changed``, ``backfill`` or ``all`` (as in the SQLite store)."""
        changed = sa.or_(records.c.labelled_hash.is_(None), records.c.labelled_hash != records.c.content_hash)
        where = {
            "changed": changed,
            "backfill": sa.or_(changed, records.c.label_version.is_distinct_from(label_version)),
            "all": sa.true(),
        }[mode]
        last = 0
        while True:
            query = sa.select(records.c.rowid, records.c.body).where(where, records.c.rowid > last).order_by(records.c.rowid).limit(batch)
            with self._run() as conn:
                rows = conn.execute(query).all()
            if not rows:
                return
            last = rows[-1].rowid
            yield [(int(r.rowid), Record.model_validate_json(r.body)) for r in rows]

    def write_labels(
        self, rowid: int, labels: dict[str, list[Label]], needs_review: Iterable[str], taxonomy_version: str, label_version: str = ""
    ) -> None:
        """Replace a record's labels. Call inside ``transaction()``."""
        self._touched = True
        rows = {  # a label given twice keeps its last value, as INSERT OR REPLACE does in the SQLite store
            (facet, lab.label): {
                "record_rowid": rowid,
                "facet": facet,
                "label": lab.label,
                "score": lab.score,
                "source": lab.source,
                "evidence": json.dumps([e.to_dict() for e in lab.evidence], ensure_ascii=False),
            }
            for facet, labs in labels.items()
            for lab in labs
        }
        review = [{"record_rowid": rowid, "facet": f} for f in sorted(set(needs_review))]
        with self._run() as conn:
            conn.execute(sa.delete(_labels).where(_labels.c.record_rowid == rowid))
            conn.execute(sa.delete(_needs_review).where(_needs_review.c.record_rowid == rowid))
            if rows:
                conn.execute(sa.insert(_labels), list(rows.values()))
            if review:
                conn.execute(sa.insert(_needs_review), review)
            conn.execute(
                sa.update(records)
                .where(records.c.rowid == rowid)
                .values(labelled_hash=records.c.content_hash, taxonomy_version=taxonomy_version, label_version=label_version)
            )

    def write_turn_sentiment(self, rowid: int, turns: list[tuple[int, str, str, float, float, bool]]) -> None:
        """Replace a call's per-turn sentiment. Call inside ``transaction()``."""
        keys = ("turn", "speaker", "polarity", "score", "intensity")
        rows = [{"record_rowid": rowid, **dict(zip(keys, t[:5], strict=True)), "escalation": int(t[5])} for t in turns]
        with self._run() as conn:
            conn.execute(sa.delete(turn_sentiment).where(turn_sentiment.c.record_rowid == rowid))
            if rows:
                conn.execute(sa.insert(turn_sentiment), rows)

    def write_entities(self, rowid: int, entities: Iterable[tuple[str, str, int, int, str]]) -> None:
        """Replace a record's entities ``(label, text, start, end, value)``. Call inside ``transaction()``."""
        rows = {  # one per (start, label): the last wins, as INSERT OR REPLACE does in the SQLite store
            (start, label): {"record_rowid": rowid, "label": label, "text": _no_nul(text), "start": start, "end": end}
            | {"value": _no_nul(value)}
            for label, text, start, end, value in entities
        }
        with self._run() as conn:
            conn.execute(sa.delete(_entities).where(_entities.c.record_rowid == rowid))
            if rows:
                conn.execute(sa.insert(_entities), list(rows.values()))

    def entities(self, record_id: str) -> list[RowMapping]:
        cols = (_entities.c.label, _entities.c.text, _entities.c.start, _entities.c.end, _entities.c.value)
        joined = _entities.join(records, records.c.rowid == _entities.c.record_rowid)
        with self._run() as conn:
            query = sa.select(*cols).select_from(joined).where(records.c.id == record_id).order_by(_entities.c.start)
            return list(conn.execute(query).mappings())

    def entity_counts(self, label: str, limit: int = 20) -> list[tuple[str, int]]:
        """The most frequent values of one entity label across the store."""
        n = sa.func.count(sa.distinct(_entities.c.record_rowid)).label("n")
        query = (
            sa.select(_entities.c.value, n)
            .where(_entities.c.label == label)
            .group_by(_entities.c.value)
            .order_by(n.desc(), self._binary(_entities.c.value))
            .limit(limit)
        )
        with self._run() as conn:
            return [(str(r.value), int(r.n)) for r in conn.execute(query)]

    def turn_sentiment(self, record_id: str) -> list[RowMapping]:
        joined = turn_sentiment.join(records, records.c.rowid == turn_sentiment.c.record_rowid)
        query = sa.select(turn_sentiment).select_from(joined).where(records.c.id == record_id).order_by(turn_sentiment.c.turn)
        with self._run() as conn:
            return list(conn.execute(query).mappings())

    # -- embedding cache (the EmbeddingCache protocol of nlp.embedders) -------------------------

    def get_vectors(self, model: str, keys: Sequence[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        with self._run() as conn:
            for chunk in _chunks(keys):
                query = sa.select(embeddings.c.key, embeddings.c.vector).where(embeddings.c.model == model, embeddings.c.key.in_(chunk))
                for r in conn.execute(query):
                    out[str(r.key)] = np.frombuffer(bytes(r.vector), dtype=np.float32)
        return out

    def put_vectors(self, model: str, items: dict[str, np.ndarray]) -> None:
        if not items:
            return
        rows = [{"model": model, "key": k, "vector": np.asarray(v, dtype=np.float32).tobytes()} for k, v in items.items()]
        stmt = self._insert(embeddings)
        stmt = stmt.on_conflict_do_update(index_elements=[embeddings.c.model, embeddings.c.key], set_={"vector": stmt.excluded.vector})
        with self._run() as conn:
            conn.execute(stmt, rows)

    # -- model registry -------------------------------------------------------------------------

    def register_model(self, path: str, facet: str | None, card: dict[str, Any]) -> int:
        values = {"name": Path(path).name, "path": path, "facet": facet, "card": json.dumps(card, ensure_ascii=False), "created_at": _now()}
        stmt = self._insert(models).values(**values)
        stmt = stmt.on_conflict_do_update(index_elements=[models.c.path], set_={"facet": stmt.excluded.facet, "card": stmt.excluded.card})
        with self.transaction() as conn:
            conn.execute(stmt)
            return int(conn.execute(sa.select(models.c.id).where(models.c.path == path)).scalar_one())

    def models(self) -> list[RowMapping]:
        with self._run() as conn:
            return list(conn.execute(sa.select(models).order_by(models.c.id)).mappings())

    def model(self, model_id: int) -> RowMapping:
        with self._run() as conn:
            row = conn.execute(sa.select(models).where(models.c.id == model_id)).mappings().first()
        if row is None:
            raise SearchError(ErrorCode.E306, record_id=f"model {model_id}")
        return row

    def set_model_flag(self, model_id: int, flag: str, facet: str | None = None) -> None:
        """Promote or attach a model: one per facet holds the flag, and attaching sets its facet."""
        if flag not in ("promoted", "attached"):
            raise ValueError(flag)
        target = facet or self.model(model_id)["facet"]
        with self.transaction() as conn:
            conn.execute(sa.update(models).where(models.c.facet.is_not_distinct_from(target)).values({flag: 0}))
            conn.execute(sa.update(models).where(models.c.id == model_id).values({flag: 1, "facet": target}))

    def attached_models(self) -> list[RowMapping]:
        with self._run() as conn:
            return list(conn.execute(sa.select(models).where(models.c.attached == 1).order_by(models.c.facet)).mappings())

    # -- quarantine, jobs, stats ----------------------------------------------------------------

    def quarantine(self, source: str, file: str, location: str, raw: str, code: str, message: str) -> bool:
        """Keep a bad row with its reason. Returns False when the same row was already kept."""
        values = {
            "source": source,
            "file": file,
            "location": location,
            "raw": _no_nul(raw[:1_000_000]) or "",
            "code": code,
            "message": _no_nul(message) or "",
            "at": _now(),
        }
        stmt = (
            self._insert(quarantine)
            .values(**values)
            .on_conflict_do_nothing(index_elements=[quarantine.c.source, quarantine.c.file, quarantine.c.location, quarantine.c.code])
        )
        with self._run() as conn:  # a row comes back only when inserted (rowcount is not reliable across drivers here)
            return conn.execute(stmt.returning(quarantine.c.id)).first() is not None

    def quarantined(self, source: str | None = None) -> list[RowMapping]:
        query = sa.select(quarantine).order_by(quarantine.c.id)
        if source:
            query = query.where(quarantine.c.source == source)
        with self._run() as conn:
            return list(conn.execute(query).mappings())

    def start_job(self, kind: str, versions: dict[str, str], *, total: int | None = None, started_by: str | None = None) -> int:
        values = {
            "kind": kind,
            "started_at": _now(),
            "status": "running",
            "versions": json.dumps(versions, ensure_ascii=False),
            "total": total,
            "started_by": started_by,
        }
        with self._run() as conn:
            return int(conn.execute(sa.insert(jobs).values(**values).returning(jobs.c.id)).scalar_one())

    def job_progress(self, job_id: int, done: int, total: int | None = None) -> None:
        with self._run() as conn:
            conn.execute(sa.update(jobs).where(jobs.c.id == job_id).values(done=done, total=sa.func.coalesce(total, jobs.c.total)))

    def request_cancel(self, job_id: int) -> bool:
        """Ask a running job to stop after its current batch (what it committed stays)."""
        with self._run() as conn:
            stmt = sa.update(jobs).where(jobs.c.id == job_id, jobs.c.status == "running").values(cancel_requested=1)
            return conn.execute(stmt).rowcount > 0

    def cancel_requested(self, job_id: int) -> bool:
        with self._run() as conn:
            return bool(conn.execute(sa.select(jobs.c.cancel_requested).where(jobs.c.id == job_id)).scalar())

    def jobs(self, *, limit: int = 50, status: str | None = None) -> list[dict[str, Any]]:
        query = sa.select(jobs).order_by(jobs.c.id.desc()).limit(limit)
        if status:
            query = query.where(jobs.c.status == status)
        with self._run() as conn:
            return [_job_doc(r) for r in conn.execute(query).mappings()]

    def job(self, job_id: int) -> dict[str, Any] | None:
        with self._run() as conn:
            row = conn.execute(sa.select(jobs).where(jobs.c.id == job_id)).mappings().first()
        return None if row is None else _job_doc(row)

    def finish_job(self, job_id: int, counts: dict[str, Any], status: str = "done", errors: list[str] | None = None) -> None:
        values = {
            "finished_at": _now(),
            "status": status,
            "counts": json.dumps(counts, ensure_ascii=False),
            "errors": json.dumps(errors or [], ensure_ascii=False),
        }
        with self._run() as conn:
            conn.execute(sa.update(jobs).where(jobs.c.id == job_id).values(**values))

    def count_by(self, column: str) -> dict[str, int]:
        if column not in {"source", "region", "channel"}:
            raise ValueError(column)
        col, n = records.c[column], sa.func.count().label("n")
        with self._run() as conn:
            return {str(r[0]): int(r[1]) for r in conn.execute(sa.select(col, n).group_by(col).order_by(n.desc()))}

    def label_counts(self, facet: str | None = None) -> dict[str, dict[str, int]]:
        n = sa.func.count().label("n")
        query = sa.select(_labels.c.facet, _labels.c.label, n).group_by(_labels.c.facet, _labels.c.label)
        query = query.order_by(self._binary(_labels.c.facet), n.desc(), self._binary(_labels.c.label))
        if facet:
            query = query.where(_labels.c.facet == facet)
        out: dict[str, dict[str, int]] = {}
        with self._run() as conn:
            for r in conn.execute(query):
                out.setdefault(str(r.facet), {})[str(r.label)] = int(r.n)
        return out

    def count(self, table: str = "records") -> int:
        tables = {"records": records, "quarantine": quarantine, "labels": _labels, "needs_review": _needs_review, "jobs": jobs}
        if table not in tables:
            raise ValueError(table)
        with self._run() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(tables[table])).scalar_one())

    # -- what search backends read (the Elasticsearch backend's state lives here too) -----------

    def has_table(self, name: str) -> bool:
        return sa.inspect(self.engine).has_table(name)

    def content_hashes(self, rowids: Sequence[int]) -> dict[int, str]:
        return {rowid: h for rowid, (_, h) in self._id_hash(rowids).items()}

    def record_ids(self, rowids: Sequence[int]) -> dict[int, str]:
        return {rowid: i for rowid, (i, _) in self._id_hash(rowids).items()}

    def _id_hash(self, rowids: Sequence[int]) -> dict[int, tuple[str, str]]:
        out: dict[int, tuple[str, str]] = {}
        with self._run() as conn:
            for chunk in _chunks(rowids):
                query = sa.select(records.c.rowid, records.c.id, records.c.content_hash).where(records.c.rowid.in_(chunk))
                out.update((int(r.rowid), (str(r.id), str(r.content_hash))) for r in conn.execute(query))
        return out

    def record_states(self) -> list[tuple[int, str, str]]:
        """(rowid, id, content_hash) of every record, by rowid."""
        with self._run() as conn:
            query = sa.select(records.c.rowid, records.c.id, records.c.content_hash).order_by(records.c.rowid)
            return [(int(r.rowid), str(r.id), str(r.content_hash)) for r in conn.execute(query)]

    def index_pending(self, dict_version: str) -> list[int]:
        """Rowids the Elasticsearch index lacks, or holds with another text or dictionary."""
        joined = records.outerjoin(es_state, es_state.c.rowid == records.c.rowid)
        stale = sa.or_(
            es_state.c.rowid.is_(None), es_state.c.content_hash != records.c.content_hash, es_state.c.dict_version != dict_version
        )
        with self._run() as conn:
            query = sa.select(records.c.rowid).select_from(joined).where(stale).order_by(records.c.rowid)
            return [int(r) for r in conn.execute(query).scalars()]

    def mark_indexed(self, rows: Sequence[tuple[int, str, str]]) -> None:
        """(rowid, content_hash, dict_version) of documents that landed in the index."""
        if not rows:
            return
        stmt = self._insert(es_state)
        update = {"content_hash": stmt.excluded.content_hash, "dict_version": stmt.excluded.dict_version}
        with self._run() as conn:
            conn.execute(
                stmt.on_conflict_do_update(index_elements=[es_state.c.rowid], set_=update),
                [{"rowid": r, "content_hash": h, "dict_version": v} for r, h, v in rows],
            )

    def duplicate_links(self) -> tuple[int, list[tuple[int, int]]]:
        """The highest rowid, and (rowid, rowid of the record it repeats) for every linked repeat."""
        original = records.alias("o")
        with self._run() as conn:
            top = int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(records.c.rowid), 0))).scalar_one())
            query = sa.select(records.c.rowid, original.c.rowid).join(original, original.c.id == records.c.duplicate_of)
            return top, [(int(a), int(b)) for a, b in conn.execute(query)]


# the table objects under names that method parameters (labels, needs_review, entities) do not shadow
_labels, _needs_review, _entities = labels, needs_review, entities


def _job_doc(row: RowMapping) -> dict[str, Any]:
    doc = dict(row)
    for key in ("counts", "versions", "errors"):
        doc[key] = json.loads(doc[key])
    doc["cancel_requested"] = bool(doc["cancel_requested"])
    return doc
