"""CSV/XLSX exports with Chinese headers, mapped to canonical field names."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from itertools import groupby
from pathlib import Path

from ingestion.formats import read_table
from ingestion.rows import BadRow, RawRow
from radar.errors import ErrorCode, IngestionError

__all__ = ["read_mapped_table"]

HEADER_SEARCH_ROWS = 10


def _normalise_header(cell: str) -> str:
    return cell.strip().replace(" ", "").replace("\u3000", "").replace("*", "")


def _header_index(cells: list[str], header_map: Mapping[str, str]) -> dict[int, str]:
    """Column index -> canonical field; a duplicated header keeps its first column."""
    index: dict[int, str] = {}
    taken: set[str] = set()
    for i, cell in enumerate(cells):
        field = header_map.get(_normalise_header(cell))
        if field and field not in taken:
            index[i] = field
            taken.add(field)
    return index


def read_mapped_table(
    path: Path,
    source: str,
    header_map: Mapping[str, str],
    text_field: str,
    encoding: str | None = None,
) -> Iterator[RawRow | BadRow]:
    """Rows of every sheet as canonical dicts. The header row is found in the first rows of each sheet.

    Rows above the header (export titles) are metadata; a sheet with no header at all has each
    of its non-blank rows quarantined, so nothing is dropped silently.
    """
    empty = True
    for sheet, rows in groupby(read_table(path, encoding), key=lambda r: r[0]):
        empty = False
        yield from _read_sheet(path, source, sheet, rows, header_map, text_field)
    if empty:
        raise IngestionError(ErrorCode.E101, path=str(path), reason="the file is empty")


def _read_sheet(
    path: Path,
    source: str,
    sheet: str,
    rows: Iterable[tuple[str, int, list[str]]],
    header_map: Mapping[str, str],
    text_field: str,
) -> Iterator[RawRow | BadRow]:
    columns: dict[int, str] | None = None
    before_header: list[tuple[str, list[str]]] = []
    for _, rownum, cells in rows:
        location = f"{sheet}!{rownum}" if sheet else f"line {rownum}"
        if columns is None:
            candidate = _header_index(cells, header_map)
            if text_field in candidate.values():
                columns = candidate
                before_header.clear()
                continue
            before_header.append((location, cells))
            if len(before_header) <= HEADER_SEARCH_ROWS:
                continue
            columns = {}  # no header in reach: every row of this sheet goes to quarantine
            for loc, earlier in before_header:
                if any(c.strip() for c in earlier):
                    yield _no_header(path, source, loc, earlier, header_map, text_field)
            before_header.clear()
            continue
        if not any(c.strip() for c in cells):
            continue  # blank spacer rows carry nothing to lose
        if not columns:
            yield _no_header(path, source, location, cells, header_map, text_field)
            continue
        data = {field: cells[i] for i, field in columns.items() if i < len(cells) and cells[i] != ""}
        yield RawRow(source, str(path), location, data)
    if columns is None:
        for location, cells in before_header:
            if any(c.strip() for c in cells):
                yield _no_header(path, source, location, cells, header_map, text_field)


def _no_header(path: Path, source: str, location: str, cells: list[str], header_map: Mapping[str, str], text_field: str) -> BadRow:
    expected = [k for k, v in header_map.items() if v == text_field]
    return BadRow(
        source, str(path), location, "\t".join(cells), ErrorCode.E110.name, ErrorCode.E110.template.format(path=path.name, columns=expected)
    )
