"""What readers yield: a raw row to convert, or a bad row to quarantine with its reason."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from radar.errors import ErrorCode

__all__ = ["BadRow", "RawRow"]


@dataclass(slots=True)
class RawRow:
    """One source item as read, before normalisation. ``data`` uses canonical field names."""

    source: str
    file: str
    location: str
    data: dict[str, Any]


@dataclass(slots=True)
class BadRow:
    """A row that cannot become a record. It is quarantined, never dropped."""

    source: str
    file: str
    location: str
    raw: str
    code: str
    message: str

    @classmethod
    def of(cls, row: RawRow | tuple[str, str, str], raw: str, code: ErrorCode, **fields: Any) -> BadRow:
        source, file, location = (row.source, row.file, row.location) if isinstance(row, RawRow) else row
        message = code.template.format(**fields) if fields else code.template
        return cls(source, file, location, raw, code.name, message)
