"""Export a whole result set (every page) to CSV or XLSX, with labels and their evidence."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from radar.errors import APIError, ErrorCode
from radar.records import Record
from search.backends.base import Hit, SearchBackend, SearchRequest

__all__ = ["EXPORT_FACETS", "export_results"]

EXPORT_FACETS = ("demand_category", "complaint_type", "intent", "sentiment", "escalation", "product", "brand", "channel")
HEADER = ["id", "source", "created_at", "region", "channel_field", "title", "text", *EXPORT_FACETS, "needs_review", "evidence", "score"]


def _hits(backend: SearchBackend, request: SearchRequest) -> Iterator[Hit]:
    cursor = None
    while True:
        page = backend.search(replace(request, limit=500, cursor=cursor))
        yield from page.hits
        cursor = page.next_cursor
        if cursor is None:
            return


def _row(hit: Hit) -> list[Any]:
    rec: Record = hit.record
    evidence = "; ".join(
        f"{lab.label}: {'|'.join(e.text for e in lab.evidence)}"
        for facet in EXPORT_FACETS
        for lab in rec.labels.get(facet, [])
        if lab.evidence
    )
    return [
        rec.id,
        rec.source.value,
        rec.created_at.isoformat(sep=" ") if rec.created_at else "",
        rec.region or "",
        rec.channel or "",
        rec.title or "",
        rec.text,
        *("、".join(rec.label_names(f)) for f in EXPORT_FACETS),
        "、".join(rec.needs_review),
        evidence,
        hit.score,
    ]


def export_results(backend: SearchBackend, request: SearchRequest, path: Path) -> int:
    """Write every hit of ``request``; returns the number of rows. Texts are already PII-masked."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise APIError(ErrorCode.E501, reason=f"export to .csv or .xlsx, not {suffix or 'no suffix'}", command="search")
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    if suffix == ".csv":
        with path.open("w", encoding="utf-8-sig", newline="") as fh:  # the BOM makes Excel read UTF-8
            writer = csv.writer(fh)
            writer.writerow(HEADER)
            for hit in _hits(backend, request):
                writer.writerow(_row(hit))
                count += 1
        return count
    import openpyxl

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("results")
    sheet.append(HEADER)
    for hit in _hits(backend, request):
        sheet.append(_row(hit))
        count += 1
    book.save(path)
    return count
