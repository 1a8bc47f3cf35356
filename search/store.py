"""SQLite store: the system of record for records, labels, quarantine, cursors and jobs.

One file, WAL mode, transactional batches. Search backends index from here; the embedded
backend keeps its full-text index in the same file so both commit together and never drift.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from nlp.simhash import MAX_DISTANCE, bands, hamming
from radar.errors import ErrorCode, SearchError
from radar.records import Label, Record

__all__ = ["SCHEMA_VERSION", "RecordRow", "Store", "UpsertOutcome", "record_row"]

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL,
    source_id TEXT NOT NULL,
    channel TEXT,
    created_at TEXT,
    region TEXT,
    customer_key TEXT,
    title TEXT,
    text TEXT NOT NULL,
    body TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    dedup_key TEXT NOT NULL,
    simhash INTEGER,
    duplicate_of TEXT,
    labelled_hash TEXT,
    taxonomy_version TEXT,
    label_version TEXT,
    ingested_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_source ON records(source, created_at);
CREATE INDEX IF NOT EXISTS records_customer ON records(customer_key);
CREATE INDEX IF NOT EXISTS records_dedup ON records(dedup_key);
CREATE INDEX IF NOT EXISTS records_simhash ON records(simhash) WHERE duplicate_of IS NULL;
CREATE TABLE IF NOT EXISTS simhash_bands (
    band INTEGER NOT NULL,
    record_rowid INTEGER NOT NULL REFERENCES records(rowid) ON DELETE CASCADE,
    PRIMARY KEY (band, record_rowid)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS raw_identifiers (
    record_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (record_id, kind, value)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS labels (
    record_rowid INTEGER NOT NULL REFERENCES records(rowid) ON DELETE CASCADE,
    facet TEXT NOT NULL,
    label TEXT NOT NULL,
    score REAL NOT NULL,
    source TEXT NOT NULL,
    evidence TEXT NOT NULL,
    PRIMARY KEY (record_rowid, facet, label)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS labels_facet ON labels(facet, label, record_rowid);
CREATE TABLE IF NOT EXISTS needs_review (
    record_rowid INTEGER NOT NULL REFERENCES records(rowid) ON DELETE CASCADE,
    facet TEXT NOT NULL,
    PRIMARY KEY (record_rowid, facet)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS turn_sentiment (
    record_rowid INTEGER NOT NULL REFERENCES records(rowid) ON DELETE CASCADE,
    turn INTEGER NOT NULL,
    speaker TEXT NOT NULL,
    polarity TEXT NOT NULL,
    score REAL NOT NULL,
    intensity REAL NOT NULL,
    escalation INTEGER NOT NULL,
    PRIMARY KEY (record_rowid, turn)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS entities (
    record_rowid INTEGER NOT NULL REFERENCES records(rowid) ON DELETE CASCADE,
    label TEXT NOT NULL,
    text TEXT NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (record_rowid, start, label)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS entities_by_value ON entities(label, value);
CREATE TABLE IF NOT EXISTS record_history (
    record_id TEXT NOT NULL,
    changed_at TEXT NOT NULL,
    field TEXT NOT NULL,
    old_value TEXT,
    new_value TEXT
);
CREATE TABLE IF NOT EXISTS quarantine (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    file TEXT NOT NULL,
    location TEXT NOT NULL,
    raw TEXT NOT NULL,
    code TEXT NOT NULL,
    message TEXT NOT NULL,
    at TEXT NOT NULL,
    UNIQUE (source, file, location, code)
);
CREATE TABLE IF NOT EXISTS embeddings (
    model TEXT NOT NULL,
    key TEXT NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (model, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS models (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    path TEXT NOT NULL UNIQUE,
    facet TEXT,
    card TEXT NOT NULL,
    promoted INTEGER NOT NULL DEFAULT 0,
    attached INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS cursors (name TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL,
    counts TEXT NOT NULL DEFAULT '{}',
    versions TEXT NOT NULL DEFAULT '{}',
    errors TEXT NOT NULL DEFAULT '[]',
    done INTEGER NOT NULL DEFAULT 0,
    total INTEGER,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    started_by TEXT
);
"""

# columns added to existing tables after schema version 1; added in place when a store opens
_ADDED_COLUMNS = {
    "jobs": (
        ("done", "INTEGER NOT NULL DEFAULT 0"),
        ("total", "INTEGER"),
        ("cancel_requested", "INTEGER NOT NULL DEFAULT 0"),
        ("started_by", "TEXT"),
    )
}

# status fields whose changes are kept as history when a source record is updated
HISTORY_FIELDS = ("result", "satisfaction", "escalated", "founded", "repeated", "closed_at")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class UpsertOutcome:
    INGESTED = "ingested"
    NEAR_DUPLICATE = "near_duplicate"  # a new record, linked to the record it nearly repeats
    UPDATED = "updated"
    DUPLICATE = "duplicate"


class Store:
    """The SQLite system of record. Open with ``Store.open(path)``; use as a context manager."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path
        self._batch_now: str | None = None
        self._touched = False  # records or labels written in the open transaction

    @classmethod
    def open(cls, path: Path | str) -> Store:
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=30000")
            conn.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise SearchError(ErrorCode.E301, path=str(path), reason=str(exc)) from exc
        store = cls(conn, path)
        store._check_version()
        store._add_columns()
        return store

    def _add_columns(self) -> None:
        for table, columns in _ADDED_COLUMNS.items():
            have = {r[1] for r in self.conn.execute(f"PRAGMA table_info({table})")}
            for name, decl in columns:
                if name not in have:
                    self.conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {decl}")

    def _check_version(self) -> None:
        found = self.get_meta("schema_version")
        if found is None:
            self.set_meta("schema_version", str(SCHEMA_VERSION))
        elif int(found) != SCHEMA_VERSION:
            raise SearchError(ErrorCode.E302, path=str(self.path), found=found, expected=SCHEMA_VERSION)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic batch: everything inside commits together or not at all."""
        self.conn.execute("BEGIN IMMEDIATE")
        self._batch_now = _now()  # one timestamp per transaction: rows committed together say so
        try:
            yield self.conn
        except BaseException:
            self._touched = False
            self.conn.execute("ROLLBACK")
            raise
        if self._touched:  # once per transaction: caches of search state compare this number
            self.conn.execute(
                "INSERT INTO meta(key, value) VALUES ('search_epoch', '1') "
                "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"
            )
            self._touched = False
        self.conn.execute("COMMIT")

    # -- meta and cursors -------------------------------------------------------------------

    def search_epoch(self) -> str:
        """Moves whenever a transaction wrote records or labels (facet caches rebuild on a change)."""
        return self.get_meta("search_epoch") or "0"

    def get_meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))

    def get_cursor(self, name: str) -> str | None:
        row = self.conn.execute("SELECT value FROM cursors WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def set_cursor(self, name: str, value: str) -> None:
        """Call inside the transaction that commits the data the cursor covers."""
        self.conn.execute(
            "INSERT INTO cursors(name, value, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT(name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            (name, value, _now()),
        )

    # -- records ----------------------------------------------------------------------------

    def upsert(self, record: Record, dedup_key: str, simhash: int | None = None) -> str:
        """Insert or update by (source, source id); exact and near repeats are kept and linked.

        Returns one of ``UpsertOutcome``. Call inside ``transaction()``.
        """
        return self.upsert_row(record_row(record, dedup_key, simhash))

    def lookup(self, ids: Sequence[str]) -> dict[str, tuple[int, str]]:
        """Existing records by id: (rowid, body). One query for a whole batch."""
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self.conn.execute(f"SELECT id, rowid, body FROM records WHERE id IN ({marks})", list(ids)).fetchall()
        return {r["id"]: (int(r["rowid"]), str(r["body"])) for r in rows}

    def upsert_row(self, row: RecordRow, known: dict[str, tuple[int, str]] | None = None) -> str:
        """``upsert`` for a prepared row. ``known`` is ``lookup()`` of the batch, kept current here."""
        self._touched = True
        record = row.record
        if known is None:
            known = self.lookup([record.id])
        existing = known.get(record.id)
        now = self._batch_now or _now()
        if existing is None:
            outcome, rowid = self._insert(row, now)
            known[record.id] = (rowid, row.body)
            return outcome
        rowid, body = existing
        if row.body == body:
            return UpsertOutcome.DUPLICATE
        self._record_history(Record.model_validate_json(body), record, now)
        self.conn.execute(
            "UPDATE records SET source=?, source_id=?, channel=?, created_at=?, region=?, customer_key=?, title=?, text=?,"
            " body=?, content_hash=?, dedup_key=?, simhash=?, updated_at=? WHERE id = ?",
            (*row.columns[1:], row.dedup_key, row.simhash, now, record.id),
        )
        self.conn.execute("DELETE FROM simhash_bands WHERE record_rowid = ?", (rowid,))
        self._add_bands(rowid, row.simhash)
        known[record.id] = (rowid, row.body)
        return UpsertOutcome.UPDATED

    def _insert(self, row: RecordRow, now: str) -> tuple[str, int]:
        record = row.record
        dup = self.conn.execute(
            "SELECT id FROM records WHERE dedup_key = ? AND id != ? ORDER BY rowid LIMIT 1", (row.dedup_key, record.id)
        ).fetchone()
        outcome = UpsertOutcome.DUPLICATE if dup is not None else UpsertOutcome.INGESTED
        duplicate_of = dup[0] if dup is not None else None
        if duplicate_of is None and row.simhash is not None:
            duplicate_of = self.near_duplicate_of(record.source.value, row.simhash)
            outcome = UpsertOutcome.NEAR_DUPLICATE if duplicate_of else outcome
        cur = self.conn.execute(
            "INSERT INTO records(id, source, source_id, channel, created_at, region, customer_key, title, text, body,"
            " content_hash, dedup_key, simhash, duplicate_of, ingested_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (*row.columns, row.dedup_key, row.simhash, duplicate_of, now, now),
        )
        rowid = int(cur.lastrowid or 0)
        if duplicate_of is None:  # only originals are candidates: buckets stay as small as the number of themes
            self._add_bands(rowid, row.simhash)
        return outcome, rowid

    def near_duplicate_of(self, source: str, simhash: int) -> str | None:
        """The earliest record of the same source whose SimHash is within MAX_DISTANCE bits."""
        same = self.conn.execute(  # templated texts usually hash identically: one index probe
            "SELECT id FROM records WHERE simhash = ? AND duplicate_of IS NULL AND source = ? ORDER BY rowid LIMIT 1", (simhash, source)
        ).fetchone()
        if same is not None:
            return str(same[0])
        keys = bands(simhash)
        # CROSS JOIN fixes the join order: a few band hits first, never a scan of the source's records
        rows = self.conn.execute(
            f"SELECT r.id, r.simhash FROM simhash_bands b CROSS JOIN records r ON r.rowid = b.record_rowid "
            f"WHERE b.band IN ({','.join('?' * len(keys))}) AND r.source = ? ORDER BY r.rowid LIMIT 200",
            (*keys, source),
        ).fetchall()
        for r in rows:
            if r["simhash"] is not None and hamming(r["simhash"], simhash) <= MAX_DISTANCE:
                return str(r["id"])
        return None

    def _add_bands(self, rowid: int, simhash: int | None) -> None:
        if simhash is not None and simhash != 0:
            self.conn.executemany(
                "INSERT OR IGNORE INTO simhash_bands(band, record_rowid) VALUES (?, ?)", [(b, rowid) for b in bands(simhash)]
            )

    def keep_raw_identifiers(self, record_id: str, identifiers: list[tuple[str, str]]) -> None:
        """Raw phone numbers and the like, only when configured; read by privileged roles only."""
        self.conn.executemany(
            "INSERT OR IGNORE INTO raw_identifiers(record_id, kind, value) VALUES (?, ?, ?)",
            [(record_id, kind, value) for kind, value in identifiers],
        )

    def _record_history(self, old: Record, new: Record, now: str) -> None:
        if old.ticket is None or new.ticket is None:
            return
        for field in HISTORY_FIELDS:
            before, after = getattr(old.ticket, field), getattr(new.ticket, field)
            if before != after:
                self.conn.execute(
                    "INSERT INTO record_history(record_id, changed_at, field, old_value, new_value) VALUES (?,?,?,?,?)",
                    (new.id, now, field, _text(before), _text(after)),
                )

    def get(self, record_id: str) -> Record | None:
        row = self.conn.execute("SELECT * FROM records WHERE id = ?", (record_id,)).fetchone()
        return None if row is None else self._hydrate([row])[0]

    def get_by_rowids(self, rowids: Sequence[int]) -> list[Record]:
        if not rowids:
            return []
        marks = ",".join("?" * len(rowids))
        rows = self.conn.execute(f"SELECT * FROM records WHERE rowid IN ({marks})", list(rowids)).fetchall()
        by_rowid = {r["rowid"]: r for r in rows}
        return self._hydrate([by_rowid[i] for i in rowids if i in by_rowid])

    def _hydrate(self, rows: list[sqlite3.Row]) -> list[Record]:
        rowids = [r["rowid"] for r in rows]
        labels: dict[int, dict[str, list[Label]]] = {i: {} for i in rowids}
        review: dict[int, list[str]] = {i: [] for i in rowids}
        if rowids:
            marks = ",".join("?" * len(rowids))
            for lr in self.conn.execute(f"SELECT * FROM labels WHERE record_rowid IN ({marks}) ORDER BY facet, score DESC, label", rowids):
                labels[lr["record_rowid"]].setdefault(lr["facet"], []).append(
                    Label.from_dict({**dict(lr), "evidence": json.loads(lr["evidence"])})
                )
            for nr in self.conn.execute(f"SELECT * FROM needs_review WHERE record_rowid IN ({marks})", rowids):
                review[nr["record_rowid"]].append(nr["facet"])
        out = []
        for r in rows:
            rec = Record.model_validate_json(r["body"])
            out.append(
                rec.model_copy(
                    update={
                        "labels": labels[r["rowid"]],
                        "needs_review": sorted(review[r["rowid"]]),
                        "taxonomy_version": r["taxonomy_version"],
                        "duplicate_of": r["duplicate_of"],
                    }
                )
            )
        return out

    def rowid(self, record_id: str) -> int | None:
        row = self.conn.execute("SELECT rowid FROM records WHERE id = ?", (record_id,)).fetchone()
        return None if row is None else int(row[0])

    def iter_unlabelled(self, *, mode: str = "changed", label_version: str = "", batch: int = 500) -> Iterator[list[tuple[int, Record]]]:
        """Batches of (rowid, record) to label.

        ``changed``: new records and records whose text changed since labelling; ``backfill``: also
        those labelled by another labeler version (a taxonomy or model change); ``all``: every record.
        """
        where = {
            "changed": "(labelled_hash IS NULL OR labelled_hash != content_hash)",
            "backfill": "(labelled_hash IS NULL OR labelled_hash != content_hash OR label_version IS NOT ?)",
            "all": "1",
        }[mode]
        params: list[Any] = [label_version] if mode == "backfill" else []
        last = 0
        while True:
            rows = self.conn.execute(
                f"SELECT rowid, body FROM records WHERE {where} AND rowid > ? ORDER BY rowid LIMIT ?", [*params, last, batch]
            ).fetchall()
            if not rows:
                return
            last = rows[-1]["rowid"]
            yield [(r["rowid"], Record.model_validate_json(r["body"])) for r in rows]

    def write_labels(
        self, rowid: int, labels: dict[str, list[Label]], needs_review: Iterable[str], taxonomy_version: str, label_version: str = ""
    ) -> None:
        """Replace a record's labels. Call inside ``transaction()``."""
        self._touched = True
        self.conn.execute("DELETE FROM labels WHERE record_rowid = ?", (rowid,))
        self.conn.execute("DELETE FROM needs_review WHERE record_rowid = ?", (rowid,))
        self.conn.executemany(
            "INSERT OR REPLACE INTO labels(record_rowid, facet, label, score, source, evidence) VALUES (?,?,?,?,?,?)",
            [
                (rowid, facet, lab.label, lab.score, lab.source, json.dumps([e.to_dict() for e in lab.evidence], ensure_ascii=False))
                for facet, labs in labels.items()
                for lab in labs
            ],
        )
        self.conn.executemany("INSERT OR IGNORE INTO needs_review(record_rowid, facet) VALUES (?, ?)", [(rowid, f) for f in needs_review])
        self.conn.execute(
            "UPDATE records SET labelled_hash = content_hash, taxonomy_version = ?, label_version = ? WHERE rowid = ?",
            (taxonomy_version, label_version, rowid),
        )

    def write_turn_sentiment(self, rowid: int, turns: list[tuple[int, str, str, float, float, bool]]) -> None:
        """Replace a call's per-turn sentiment. Call inside ``transaction()``."""
        self.conn.execute("DELETE FROM turn_sentiment WHERE record_rowid = ?", (rowid,))
        self.conn.executemany(
            "INSERT INTO turn_sentiment(record_rowid, turn, speaker, polarity, score, intensity, escalation) VALUES (?,?,?,?,?,?,?)",
            [(rowid, *t) for t in turns],
        )

    def write_entities(self, rowid: int, entities: Iterable[tuple[str, str, int, int, str]]) -> None:
        """Replace a record's entities ``(label, text, start, end, value)``. Call inside ``transaction()``."""
        self.conn.execute("DELETE FROM entities WHERE record_rowid = ?", (rowid,))
        self.conn.executemany(
            'INSERT OR REPLACE INTO entities(record_rowid, label, text, start, "end", value) VALUES (?,?,?,?,?,?)',
            [(rowid, *e) for e in entities],
        )

    def entities(self, record_id: str) -> list[sqlite3.Row]:
        return self.conn.execute(
            'SELECT e.label, e.text, e.start, e."end", e.value FROM entities e JOIN records r ON r.rowid = e.record_rowid '
            "WHERE r.id = ? ORDER BY e.start",
            (record_id,),
        ).fetchall()

    def entity_counts(self, label: str, limit: int = 20) -> list[tuple[str, int]]:
        """The most frequent values of one entity label across the store (e.g. the amounts disputed)."""
        rows = self.conn.execute(
            "SELECT value, COUNT(DISTINCT record_rowid) AS n FROM entities WHERE label = ? GROUP BY value ORDER BY n DESC, value LIMIT ?",
            (label, limit),
        ).fetchall()
        return [(r["value"], r["n"]) for r in rows]

    def turn_sentiment(self, record_id: str) -> list[sqlite3.Row]:
        return self.conn.execute(
            "SELECT t.* FROM turn_sentiment t JOIN records r ON r.rowid = t.record_rowid WHERE r.id = ? ORDER BY turn", (record_id,)
        ).fetchall()

    # -- embedding cache (the EmbeddingCache protocol of nlp.embedders) ---------------------

    def get_vectors(self, model: str, keys: Sequence[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for i in range(0, len(keys), 500):
            chunk = list(keys[i : i + 500])
            marks = ",".join("?" * len(chunk))
            for r in self.conn.execute(f"SELECT key, vector FROM embeddings WHERE model = ? AND key IN ({marks})", [model, *chunk]):
                out[r["key"]] = np.frombuffer(r["vector"], dtype=np.float32)
        return out

    def put_vectors(self, model: str, items: dict[str, np.ndarray]) -> None:
        rows = [(model, k, np.asarray(v, dtype=np.float32).tobytes()) for k, v in items.items()]
        if self.conn.in_transaction:
            self.conn.executemany("INSERT OR REPLACE INTO embeddings(model, key, vector) VALUES (?, ?, ?)", rows)
            return
        with self.transaction():
            self.conn.executemany("INSERT OR REPLACE INTO embeddings(model, key, vector) VALUES (?, ?, ?)", rows)

    # -- model registry -----------------------------------------------------------------------

    def register_model(self, path: str, facet: str | None, card: dict[str, Any]) -> int:
        with self.transaction():
            self.conn.execute(
                "INSERT INTO models(name, path, facet, card, created_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(path) DO UPDATE SET facet = excluded.facet, card = excluded.card",
                (Path(path).name, path, facet, json.dumps(card, ensure_ascii=False), _now()),
            )
            return int(self.conn.execute("SELECT id FROM models WHERE path = ?", (path,)).fetchone()[0])

    def models(self) -> list[sqlite3.Row]:
        return self.conn.execute("SELECT * FROM models ORDER BY id").fetchall()

    def model(self, model_id: int) -> sqlite3.Row:
        row: sqlite3.Row | None = self.conn.execute("SELECT * FROM models WHERE id = ?", (model_id,)).fetchone()
        if row is None:
            raise SearchError(ErrorCode.E306, record_id=f"model {model_id}")
        return row

    def set_model_flag(self, model_id: int, flag: str, facet: str | None = None) -> None:
        """Promote or attach a model: one per facet holds the flag, and attaching sets its facet."""
        if flag not in ("promoted", "attached"):
            raise ValueError(flag)
        row = self.model(model_id)
        target = facet or row["facet"]
        with self.transaction():
            self.conn.execute(f"UPDATE models SET {flag} = 0 WHERE facet IS ?", (target,))
            self.conn.execute(f"UPDATE models SET {flag} = 1, facet = ? WHERE id = ?", (target, model_id))

    def attached_models(self) -> list[sqlite3.Row]:
        return self.conn.execute("SELECT * FROM models WHERE attached = 1 ORDER BY facet").fetchall()

    # -- quarantine, jobs, stats ----------------------------------------------------------------

    def quarantine(self, source: str, file: str, location: str, raw: str, code: str, message: str) -> bool:
        """Keep a bad row with its reason. Returns False when the same row was already kept."""
        cur = self.conn.execute(
            "INSERT OR IGNORE INTO quarantine(source, file, location, raw, code, message, at) VALUES (?,?,?,?,?,?,?)",
            (source, file, location, raw[:1_000_000], code, message, _now()),
        )
        return cur.rowcount > 0

    def quarantined(self, source: str | None = None) -> list[sqlite3.Row]:
        sql = "SELECT * FROM quarantine" + (" WHERE source = ?" if source else "") + " ORDER BY id"
        return self.conn.execute(sql, (source,) if source else ()).fetchall()

    def start_job(self, kind: str, versions: dict[str, str], *, total: int | None = None, started_by: str | None = None) -> int:
        cur = self.conn.execute(
            "INSERT INTO jobs(kind, started_at, status, versions, total, started_by) VALUES (?, ?, 'running', ?, ?, ?)",
            (kind, _now(), json.dumps(versions, ensure_ascii=False), total, started_by),
        )
        return int(cur.lastrowid or 0)

    def job_progress(self, job_id: int, done: int, total: int | None = None) -> None:
        self.conn.execute("UPDATE jobs SET done = ?, total = COALESCE(?, total) WHERE id = ?", (done, total, job_id))

    def request_cancel(self, job_id: int) -> bool:
        """Ask a running job to stop after its current batch (what it committed stays)."""
        cur = self.conn.execute("UPDATE jobs SET cancel_requested = 1 WHERE id = ? AND status = 'running'", (job_id,))
        return cur.rowcount > 0

    def cancel_requested(self, job_id: int) -> bool:
        row = self.conn.execute("SELECT cancel_requested FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return bool(row and row[0])

    def jobs(self, *, limit: int = 50, status: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM jobs" + (" WHERE status = ?" if status else "") + " ORDER BY id DESC LIMIT ?"
        return [_job_doc(r) for r in self.conn.execute(sql, (status, limit) if status else (limit,))]

    def job(self, job_id: int) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return None if row is None else _job_doc(row)

    def finish_job(self, job_id: int, counts: dict[str, Any], status: str = "done", errors: list[str] | None = None) -> None:
        self.conn.execute(
            "UPDATE jobs SET finished_at = ?, status = ?, counts = ?, errors = ? WHERE id = ?",
            (_now(), status, json.dumps(counts, ensure_ascii=False), json.dumps(errors or [], ensure_ascii=False), job_id),
        )

    def count_by(self, column: str) -> dict[str, int]:
        if column not in {"source", "region", "channel"}:
            raise ValueError(column)
        rows = self.conn.execute(f"SELECT {column} AS k, COUNT(*) AS n FROM records GROUP BY {column} ORDER BY n DESC")
        return {str(r["k"]): int(r["n"]) for r in rows}

    def label_counts(self, facet: str | None = None) -> dict[str, dict[str, int]]:
        sql = "SELECT facet, label, COUNT(*) AS n FROM labels" + (" WHERE facet = ?" if facet else "")
        sql += " GROUP BY facet, label ORDER BY facet, n DESC, label"
        out: dict[str, dict[str, int]] = {}
        for r in self.conn.execute(sql, (facet,) if facet else ()):
            out.setdefault(r["facet"], {})[r["label"]] = int(r["n"])
        return out

    def count(self, table: str = "records") -> int:
        if table not in {"records", "quarantine", "labels", "needs_review", "jobs"}:
            raise ValueError(table)
        return int(self.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


@dataclass(frozen=True, slots=True)
class RecordRow:
    """A record with its stored columns computed: pure, so worker processes can prepare it."""

    record: Record
    columns: tuple[Any, ...]  # id .. content_hash, in the records table's order (body included)
    dedup_key: str
    simhash: int | None

    @property
    def body(self) -> str:
        return str(self.columns[9])


def record_row(record: Record, dedup_key: str, simhash: int | None = None) -> RecordRow:
    columns = (
        record.id,
        record.source.value,
        record.source_id,
        record.channel,
        _iso(record.created_at),
        record.region,
        record.customer_key,
        record.title,
        record.text,
        _body(record),
        record.content_hash,
    )
    return RecordRow(record, columns, dedup_key, simhash)


def _job_doc(row: sqlite3.Row) -> dict[str, Any]:
    doc = dict(row)
    for key in ("counts", "versions", "errors"):
        doc[key] = json.loads(doc[key])
    doc["cancel_requested"] = bool(doc["cancel_requested"])
    return doc


def _body(record: Record) -> str:
    """What the store keeps as the record's body: everything but the labels (they have a table)."""
    return record.model_dump_json(exclude={"labels", "needs_review", "taxonomy_version", "model_version", "duplicate_of"})


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def _text(value: object) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, datetime) else str(value)
