"""One reader per source; each yields ``RawRow`` or ``BadRow`` and never raises on a bad row."""

from __future__ import annotations

__all__: list[str] = []
