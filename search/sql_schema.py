"""The system-of-record schema in SQLAlchemy Core, for the store over an engine (PostgreSQL).

The same tables and columns as the SQLite ``Store`` (search/store.py) keeps, so the two stores
answer alike: times stay ISO 8601 text (they sort as text, and records' bodies carry them as
JSON anyway), JSON documents stay text, rowids are the surrogate key the labels hang off.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    text,
)

__all__ = [
    "cursors",
    "embeddings",
    "entities",
    "es_state",
    "jobs",
    "labels",
    "meta",
    "metadata",
    "models",
    "needs_review",
    "quarantine",
    "raw_identifiers",
    "record_history",
    "records",
    "simhash_bands",
    "turn_sentiment",
]

metadata = MetaData()

# 64-bit keys on PostgreSQL; SQLite only aliases its rowid (and autoincrements) for INTEGER PRIMARY KEY
RowId = BigInteger().with_variant(Integer(), "sqlite")


def _record_fk() -> Column[int]:
    return Column("record_rowid", RowId, ForeignKey("records.rowid", ondelete="CASCADE"), nullable=False)


meta = Table("meta", metadata, Column("key", Text, primary_key=True), Column("value", Text, nullable=False))

records = Table(
    "records",
    metadata,
    Column("rowid", RowId, primary_key=True, autoincrement=True),
    Column("id", Text, nullable=False, unique=True),
    Column("source", Text, nullable=False),
    Column("source_id", Text, nullable=False),
    Column("channel", Text),
    Column("created_at", Text),
    Column("region", Text),
    Column("customer_key", Text),
    Column("title", Text),
    Column("text", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("content_hash", Text, nullable=False),
    Column("dedup_key", Text, nullable=False),
    Column("simhash", BigInteger),  # signed 64-bit, as nlp.simhash returns it
    Column("duplicate_of", Text),
    Column("labelled_hash", Text),
    Column("taxonomy_version", Text),
    Column("label_version", Text),
    Column("ingested_at", Text, nullable=False),
    Column("updated_at", Text, nullable=False),
    Index("records_source", "source", "created_at"),
    Index("records_customer", "customer_key"),
    Index("records_dedup", "dedup_key"),
    Index("records_simhash", "simhash", postgresql_where=text("duplicate_of IS NULL"), sqlite_where=text("duplicate_of IS NULL")),
)

simhash_bands = Table(
    "simhash_bands",
    metadata,
    Column("band", BigInteger, nullable=False),
    _record_fk(),
    PrimaryKeyConstraint("band", "record_rowid"),
)

raw_identifiers = Table(
    "raw_identifiers",
    metadata,
    Column("record_id", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("record_id", "kind", "value"),
)

labels = Table(
    "labels",
    metadata,
    _record_fk(),
    Column("facet", Text, nullable=False),
    Column("label", Text, nullable=False),
    Column("score", Float, nullable=False),
    Column("source", Text, nullable=False),
    Column("evidence", Text, nullable=False),
    PrimaryKeyConstraint("record_rowid", "facet", "label"),
    Index("labels_facet", "facet", "label", "record_rowid"),
)

needs_review = Table(
    "needs_review", metadata, _record_fk(), Column("facet", Text, nullable=False), PrimaryKeyConstraint("record_rowid", "facet")
)

turn_sentiment = Table(
    "turn_sentiment",
    metadata,
    _record_fk(),
    Column("turn", Integer, nullable=False),
    Column("speaker", Text, nullable=False),
    Column("polarity", Text, nullable=False),
    Column("score", Float, nullable=False),
    Column("intensity", Float, nullable=False),
    Column("escalation", Integer, nullable=False),
    PrimaryKeyConstraint("record_rowid", "turn"),
)

entities = Table(
    "entities",
    metadata,
    _record_fk(),
    Column("label", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("start", Integer, nullable=False),
    Column("end", Integer, nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("record_rowid", "start", "label"),
    Index("entities_by_value", "label", "value"),
)

record_history = Table(
    "record_history",
    metadata,
    Column("record_id", Text, nullable=False, index=True),
    Column("changed_at", Text, nullable=False),
    Column("field", Text, nullable=False),
    Column("old_value", Text),
    Column("new_value", Text),
)

quarantine = Table(
    "quarantine",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("source", Text, nullable=False),
    Column("file", Text, nullable=False),
    Column("location", Text, nullable=False),
    Column("raw", Text, nullable=False),
    Column("code", Text, nullable=False),
    Column("message", Text, nullable=False),
    Column("at", Text, nullable=False),
    UniqueConstraint("source", "file", "location", "code", name="quarantine_row"),
)

embeddings = Table(
    "embeddings",
    metadata,
    Column("model", Text, nullable=False),
    Column("key", Text, nullable=False),
    Column("vector", LargeBinary, nullable=False),  # float32 bytes, as the SQLite store keeps them
    PrimaryKeyConstraint("model", "key"),
)

models = Table(
    "models",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False),
    Column("path", Text, nullable=False, unique=True),
    Column("facet", Text),
    Column("card", Text, nullable=False),
    Column("promoted", Integer, nullable=False, server_default="0"),
    Column("attached", Integer, nullable=False, server_default="0"),
    Column("created_at", Text, nullable=False),
)

cursors = Table(
    "cursors",
    metadata,
    Column("name", Text, primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", Text, nullable=False),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("kind", Text, nullable=False),
    Column("started_at", Text, nullable=False),
    Column("finished_at", Text),
    Column("status", Text, nullable=False),
    Column("counts", Text, nullable=False, server_default="{}"),
    Column("versions", Text, nullable=False, server_default="{}"),
    Column("errors", Text, nullable=False, server_default="[]"),
    Column("done", Integer, nullable=False, server_default="0"),
    Column("total", Integer),
    Column("cancel_requested", Integer, nullable=False, server_default="0"),
    Column("started_by", Text),
)

# what the Elasticsearch backend indexed, with which dictionary (the embedded backend's search_state twin)
es_state = Table(
    "es_state",
    metadata,
    Column("rowid", RowId, primary_key=True, autoincrement=False),
    Column("content_hash", Text, nullable=False),
    Column("dict_version", Text, nullable=False),
)
