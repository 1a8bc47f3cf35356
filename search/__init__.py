"""The record store (SQLite, the system of record) and the search backends over it."""

from __future__ import annotations

__all__: list[str] = []
