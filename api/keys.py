"""API keys: stored hashed in the store, each with one role; created and revoked from the CLI."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from radar.errors import APIError, ErrorCode

if TYPE_CHECKING:
    from search.store import Store

__all__ = ["ROLES", "Principal", "create_key", "ensure_keys_table", "list_keys", "revoke_key", "verify_key"]

ROLES = ("admin", "demand_manager", "complaint_agent", "labeler", "viewer")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, key_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL, revoked_at TEXT
) WITHOUT ROWID;
"""


@dataclass(frozen=True)
class Principal:
    key_id: str
    name: str
    role: str


def _hash(key: str) -> str:
    # keys are 192-bit random tokens: a plain SHA-256 cannot be brute-forced, and lookups stay O(1)
    return hashlib.sha256(key.encode()).hexdigest()


def _now() -> str:
    return datetime.now().replace(microsecond=0).isoformat()


def ensure_keys_table(store: Store) -> None:
    store.conn.executescript(_SCHEMA)


def create_key(store: Store, name: str, role: str) -> dict[str, Any]:
    """A new key; the secret is returned once and never stored."""
    if role not in ROLES:
        raise APIError(ErrorCode.E501, reason=f"role '{role}' is not one of {', '.join(ROLES)}", command="keys create")
    store.conn.executescript(_SCHEMA)
    secret = "dr_" + secrets.token_urlsafe(24)
    key_id = "k_" + secrets.token_hex(4)
    with store.transaction():
        store.conn.execute("INSERT INTO api_keys VALUES (?, ?, ?, ?, ?, NULL)", (key_id, name, role, _hash(secret), _now()))
    return {"id": key_id, "name": name, "role": role, "key": secret}


def revoke_key(store: Store, key_id: str) -> dict[str, Any]:
    store.conn.executescript(_SCHEMA)
    with store.transaction():
        done = store.conn.execute("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (_now(), key_id)).rowcount
    if not done:
        raise APIError(ErrorCode.E501, reason=f"no active key '{key_id}'", command="keys revoke")
    return {"id": key_id, "revoked": True}


def list_keys(store: Store) -> list[dict[str, Any]]:
    store.conn.executescript(_SCHEMA)
    rows = store.conn.execute("SELECT id, name, role, created_at, revoked_at FROM api_keys ORDER BY created_at, id").fetchall()
    return [dict(r) for r in rows]


def verify_key(store: Store, key: str | None) -> Principal:
    """The key's principal; E502 for a missing, unknown or revoked key (the same answer for all three)."""
    if not key:
        raise APIError(ErrorCode.E502)
    row = store.conn.execute("SELECT id, name, role FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL", (_hash(key),)).fetchone()
    if row is None:
        raise APIError(ErrorCode.E502)
    return Principal(row["id"], row["name"], row["role"])
