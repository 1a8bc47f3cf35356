"""Taxonomy versions uploaded over the API: kept in the store, validated, one of them active.

The active version, when there is one, is what the API and ``radar label`` classify with;
otherwise the configured file (``RADAR_TAXONOMY``) or the bundled taxonomy is used.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import yaml

from radar.errors import APIError, ErrorCode, TaxonomyError
from taxonomy.loader import load_taxonomy, parse_taxonomy
from taxonomy.schema import Taxonomy

if TYPE_CHECKING:
    from radar.settings import Settings
    from search.store import Store

__all__ = ["activate", "active_taxonomy", "add_version", "ensure_table", "get_version", "list_versions", "parse_upload"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS taxonomy_versions (
    fingerprint TEXT PRIMARY KEY, version TEXT NOT NULL, yaml TEXT NOT NULL,
    uploaded_by TEXT NOT NULL, uploaded_at TEXT NOT NULL, active INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
"""


def ensure_table(store: Store) -> None:
    store.conn.executescript(_SCHEMA)


def parse_upload(text: str, source: str = "upload") -> Taxonomy:
    """Validate YAML text as a taxonomy (E201 with the reasons when it is not one)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise TaxonomyError(ErrorCode.E201, path=source, reason=f"not valid YAML: {exc}") from exc
    return parse_taxonomy(data, source)


def add_version(store: Store, text: str, uploaded_by: str) -> dict[str, Any]:
    """Keep a validated version (idempotent: the same content is kept once)."""
    taxonomy = parse_upload(text)
    ensure_table(store)
    store.conn.execute(
        "INSERT OR IGNORE INTO taxonomy_versions(fingerprint, version, yaml, uploaded_by, uploaded_at) VALUES (?,?,?,?,?)",
        (taxonomy.fingerprint, taxonomy.version, text, uploaded_by, datetime.now(UTC).isoformat(timespec="seconds")),
    )
    return _summary(store, taxonomy.fingerprint)


def list_versions(store: Store) -> list[dict[str, Any]]:
    ensure_table(store)
    rows = store.conn.execute("SELECT fingerprint FROM taxonomy_versions ORDER BY uploaded_at DESC, version DESC").fetchall()
    return [_summary(store, r[0]) for r in rows]


def _row(store: Store, ref: str) -> Any:
    ensure_table(store)
    row = store.conn.execute(
        "SELECT * FROM taxonomy_versions WHERE fingerprint = ? OR version = ? ORDER BY uploaded_at DESC LIMIT 1", (ref, ref)
    ).fetchone()
    if row is None:
        raise APIError(ErrorCode.E511, version=ref)
    return row


def _summary(store: Store, fingerprint: str) -> dict[str, Any]:
    row = _row(store, fingerprint)
    return {k: row[k] for k in ("version", "fingerprint", "uploaded_by", "uploaded_at")} | {"active": bool(row["active"])}


def get_version(store: Store, ref: str, settings: Settings) -> Taxonomy:
    """A kept version by version string or fingerprint; ``active`` and ``bundled`` are names too."""
    if ref == "active":
        return active_taxonomy(store, settings)
    if ref == "bundled":
        return load_taxonomy(None)
    return parse_upload(_row(store, ref)["yaml"], ref)


def activate(store: Store, ref: str) -> dict[str, Any]:
    """Make a kept version the one new labelling uses; a backfill job then re-labels the store."""
    row = _row(store, ref)
    with store.transaction():
        store.conn.execute("UPDATE taxonomy_versions SET active = (fingerprint = ?)", (row["fingerprint"],))
    return _summary(store, row["fingerprint"])


def active_taxonomy(store: Store, settings: Settings) -> Taxonomy:
    ensure_table(store)
    row = store.conn.execute("SELECT yaml, version FROM taxonomy_versions WHERE active = 1").fetchone()
    if row is None:
        return load_taxonomy(settings.taxonomy)
    return parse_upload(row["yaml"], row["version"])
