"""Reading the four feedback sources into records: parse, normalise, mask, deduplicate, upsert."""

from __future__ import annotations

__all__: list[str] = []
