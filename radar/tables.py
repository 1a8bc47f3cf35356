"""Reading labelled tables (CSV in any common Chinese encoding, XLSX, JSONL) as streams of dicts.

Shared by the file labeller and training; ingestion has its own, stricter readers.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from radar.errors import ErrorCode, IngestionError

__all__ = ["ENCODINGS", "cell_text", "iter_rows", "sniff_encoding"]

ENCODINGS = ("utf-8-sig", "gb18030", "big5")
_SNIFF_BYTES = 1 << 16


def sniff_encoding(path: Path, encoding: str | None = None) -> str:
    """The first of UTF-8, GB18030 (a superset of GBK), Big5 that decodes the file's head."""
    if encoding:
        return encoding
    with path.open("rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    for enc in ENCODINGS:
        try:
            head.decode(enc)
            return enc
        except UnicodeDecodeError as exc:
            if len(head) == _SNIFF_BYTES and exc.start >= len(head) - 4:  # cut inside a character at the boundary
                return enc
    raise IngestionError(ErrorCode.E102, path=str(path), tried=", ".join(ENCODINGS))


def cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def iter_rows(path: Path, encoding: str | None = None) -> Iterator[dict[str, Any]]:
    """Rows as dicts, streamed: CSV/TSV (encoding sniffed), XLSX (every sheet), JSONL."""
    suffix = path.suffix.lower()
    if not path.is_file():
        raise IngestionError(ErrorCode.E101, path=str(path), reason="no such file")
    if suffix == ".jsonl":
        with path.open(encoding=sniff_encoding(path, encoding)) as fh:
            for line in fh:
                if line.strip():
                    item = json.loads(line)
                    yield item if isinstance(item, dict) else {"text": cell_text(item)}
    elif suffix in (".csv", ".tsv"):
        with path.open(encoding=sniff_encoding(path, encoding), newline="") as fh:
            yield from csv.DictReader(fh, dialect="excel-tab" if suffix == ".tsv" else "excel")
    elif suffix == ".xlsx":
        from python_calamine import CalamineWorkbook

        book = CalamineWorkbook.from_path(str(path))
        for name in book.sheet_names:
            rows = book.get_sheet_by_name(name).iter_rows()
            header = [cell_text(c) for c in next(rows, [])]
            for values in rows:
                yield {h: cell_text(v) for h, v in zip(header, values, strict=False) if h}
    else:
        raise IngestionError(ErrorCode.E103, fmt=suffix or "(none)", source=str(path), options="csv, tsv, xlsx, jsonl")
