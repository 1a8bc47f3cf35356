"""Suggestion forms (客户建议单): JSON from the web form endpoint, XLSX/CSV from halls."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ingestion.formats import read_text, to_str
from ingestion.readers.tabular import read_mapped_table
from ingestion.rows import BadRow, RawRow
from radar.errors import ErrorCode

__all__ = ["FORM_HEADERS", "read_forms"]

FORM_HEADERS: dict[str, str] = {
    "建议编号": "source_id",
    "form_id": "source_id",
    "id": "source_id",
    "提交时间": "created_at",
    "submitted_at": "created_at",
    "渠道": "channel",
    "channel": "channel",
    "联系电话": "phone",
    "phone": "phone",
    "建议标题": "title",
    "title": "title",
    "建议内容": "text",
    "content": "text",
    "涉及业务": "business",
    "business": "business",
    "地市": "region",
    "city": "region",
}


def read_forms(path: Path, encoding: str | None = None, header_map: Mapping[str, str] | None = None) -> Iterator[RawRow | BadRow]:
    mapping = header_map or FORM_HEADERS
    if path.suffix.lower() in (".json", ".jsonl"):
        yield from _read_json(path, encoding, mapping)
    else:
        yield from read_mapped_table(path, "forms", mapping, "text", encoding)


def _read_json(path: Path, encoding: str | None, mapping: Mapping[str, str]) -> Iterator[RawRow | BadRow]:
    text, _ = read_text(path, encoding)
    if path.suffix.lower() == ".jsonl":
        items: list[tuple[str, Any]] = []
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                items.append((f"line {n}", json.loads(line)))
            except json.JSONDecodeError as exc:
                yield BadRow("forms", str(path), f"line {n}", line, ErrorCode.E105.name, ErrorCode.E105.template.format(reason=exc.msg))
    else:
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            yield BadRow(
                "forms", str(path), "document", text[:100_000], ErrorCode.E105.name, ErrorCode.E105.template.format(reason=exc.msg)
            )
            return
        entries = doc.get("forms", doc.get("data", [])) if isinstance(doc, dict) else doc
        items = [(f"item {i}", e) for i, e in enumerate(entries if isinstance(entries, list) else [], start=1)]
    for location, item in items:
        if not isinstance(item, dict):
            yield BadRow(
                "forms",
                str(path),
                location,
                json.dumps(item, ensure_ascii=False),
                ErrorCode.E105.name,
                ErrorCode.E105.template.format(reason="an item is not an object"),
            )
            continue
        data = {mapping[k]: to_str(v) for k, v in item.items() if k in mapping and v not in (None, "")}
        yield RawRow("forms", str(path), location, data)
