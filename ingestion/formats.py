"""Shared file handling: encoding detection, tabular files (CSV/XLSX), dates, booleans."""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from radar.errors import ErrorCode, IngestionError

__all__ = ["parse_bool", "parse_datetime", "read_table", "read_text", "to_str"]

logger = logging.getLogger(__name__)

ENCODINGS = ("utf-8-sig", "gb18030", "big5")
_CN_DATE = re.compile(
    r"(\d{4})\s*[年/.\-]\s*(\d{1,2})\s*[月/.\-]\s*(\d{1,2})\s*日?(?:\s*(\d{1,2})\s*[:：时]\s*(\d{1,2})(?:\s*[:：分]\s*(\d{1,2})\s*秒?)?)?"
)
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(\d{2})?)?$")
_SCIENTIFIC = re.compile(r"\d+(?:\.\d+)?[eE]\+?\d+")
_EXCEL_EPOCH = datetime(1899, 12, 30)
# Stored times are naive China Standard Time: operators report by local day, and exports
# without an offset are local time already.
CST = timezone(timedelta(hours=8))


def read_text(path: Path, encoding: str | None = None) -> tuple[str, str]:
    """Decode a file, trying UTF-8 then GB18030 (a superset of GBK) then Big5. Returns (text, encoding)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IngestionError(ErrorCode.E101, path=str(path), reason=exc.strerror or str(exc)) from exc
    tried = [encoding] if encoding else list(ENCODINGS)
    for enc in tried:
        try:
            return data.decode(enc), enc
        except (UnicodeDecodeError, LookupError):
            continue
    raise IngestionError(ErrorCode.E102, path=str(path), tried=", ".join(tried))


def to_str(value: Any) -> str:
    """Cell value as text; floats that hold integers (``1.3912345678E10``) lose their ``.0``."""
    if value is None:
        return ""
    if isinstance(value, str):
        text = value.strip()
        if not text or not text[0].isdigit() or ("e" not in text and "E" not in text):
            return text  # the fast path: ordinary text
    elif isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    elif isinstance(value, datetime):
        return value.isoformat(sep=" ")
    else:
        text = str(value).strip()
    if _SCIENTIFIC.fullmatch(text):
        number = float(text)
        if number.is_integer():
            return str(int(number))
    return text


def parse_datetime(value: Any) -> datetime | None:
    """Dates as exports write them: ISO, ``2026/10/1 9:05``, ``2026年10月1日``, compact, Excel serials, epoch."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.astimezone(CST).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, (int, float)):
        return _from_number(float(value))
    text = str(value).strip()
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return parsed.astimezone(CST).replace(tzinfo=None) if parsed.tzinfo else parsed
    except ValueError:
        pass
    m = _CN_DATE.search(text) or _COMPACT.match(text)
    if m:
        y, mo, d, h, mi, sec = ([int(p) if p else 0 for p in m.groups()] + [0] * 6)[:6]
        try:
            return datetime(y, mo, d, h, mi, sec)
        except ValueError as exc:
            raise ValueError(f"unreadable date {text!r}") from exc
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return _from_number(float(text))
    raise ValueError(f"unreadable date {text!r}")


def _from_number(number: float) -> datetime:
    if 20_000 < number < 80_000:  # an Excel serial day number
        return _EXCEL_EPOCH + timedelta(days=number)
    if number > 1e11:  # epoch milliseconds
        return datetime.fromtimestamp(number / 1000, CST).replace(tzinfo=None)
    if number > 1e8:
        return datetime.fromtimestamp(number, CST).replace(tzinfo=None)
    raise ValueError(f"unreadable date {number!r}")


_TRUE = {"是", "y", "yes", "true", "1", "属实", "已升级", "升级", "重复"}
_FALSE = {"否", "n", "no", "false", "0", "不属实", "未升级", "非重复", "不重复"}


def parse_bool(value: Any) -> bool | None:
    text = to_str(value).lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return None


def read_table(path: Path, encoding: str | None = None) -> Iterator[tuple[str, int, list[str]]]:
    """Rows of a CSV or XLSX file as (sheet, 1-based row number, cells as text). Every sheet of a workbook."""
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        yield from _read_xlsx(path)
    elif suffix in (".csv", ".tsv", ".txt"):
        text, _ = read_text(path, encoding)
        dialect = "excel-tab" if suffix == ".tsv" else "excel"
        for i, row in enumerate(csv.reader(io.StringIO(text, newline=""), dialect=dialect), start=1):
            yield "", i, [c.strip() for c in row]
    else:
        raise IngestionError(ErrorCode.E103, fmt=suffix or "(none)", source=str(path), options="csv, tsv, xlsx")


def _read_xlsx(path: Path) -> Iterator[tuple[str, int, list[str]]]:
    """Every sheet through calamine (Rust, ~20x openpyxl); merged cells read their top-left value."""
    from python_calamine import CalamineWorkbook

    try:
        book = CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises its own kinds for a broken or encrypted file
        raise IngestionError(ErrorCode.E101, path=str(path), reason=f"not a readable XLSX workbook ({exc})") from exc
    for name in book.sheet_names:
        try:
            sheet = book.get_sheet_by_name(name)
        except Exception as exc:
            raise IngestionError(ErrorCode.E101, path=str(path), reason=f"sheet {name!r} cannot be read ({exc})") from exc
        # rows come from the sheet's first row, columns from its first used column
        offset = sheet.start[1] if sheet.start else 0
        ranges = [(r1 + 1, c1 + 1, r2 + 1, c2 + 1) for (r1, c1), (r2, c2) in (sheet.merged_cell_ranges or [])]
        top_left: dict[tuple[int, int], Any] = {}
        for i, values in enumerate(sheet.iter_rows(), start=1):
            cells: list[Any] = [""] * offset + list(values)
            for r1, c1, r2, c2 in ranges:
                if r1 <= i <= r2:
                    cells.extend([""] * (c2 - len(cells)))
                    if i == r1:
                        top_left[(r1, c1)] = cells[c1 - 1]
                    for c in range(c1, c2 + 1):
                        cells[c - 1] = top_left.get((r1, c1), "")
            yield name, i, [to_str(v) for v in cells]
