"""Label a CSV/XLSX/JSONL file into JSONL, streaming in constant memory."""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingestion.formats import ENCODINGS, to_str
from radar.errors import ErrorCode, IngestionError
from taxonomy.classifiers.base import Document
from taxonomy.labeler import Labeler

__all__ = ["FileLabelReport", "iter_rows", "label_file"]

_SNIFF_BYTES = 1 << 16


@dataclass
class FileLabelReport:
    rows: int = 0
    seconds: float = 0.0
    needs_review: int = 0

    def to_dict(self) -> dict[str, float | int]:
        rate = self.rows / self.seconds if self.seconds else 0.0
        return {"rows": self.rows, "seconds": round(self.seconds, 3), "docs_per_s": round(rate, 1), "needs_review": self.needs_review}


def _sniff_encoding(path: Path, encoding: str | None) -> str:
    if encoding:
        return encoding
    head = path.open("rb").read(_SNIFF_BYTES)
    for enc in ENCODINGS:
        try:
            head.decode(enc)
            return enc
        except UnicodeDecodeError as exc:
            if exc.start >= len(head) - 4:  # cut inside a multibyte character at the sniff boundary
                return enc
    raise IngestionError(ErrorCode.E102, path=str(path), tried=", ".join(ENCODINGS))


def iter_rows(path: Path, encoding: str | None = None) -> Iterator[dict[str, Any]]:
    """Rows as dicts, streamed: CSV/TSV (encoding sniffed), XLSX (read-only mode), JSONL."""
    suffix = path.suffix.lower()
    if not path.is_file():
        raise IngestionError(ErrorCode.E101, path=str(path), reason="no such file")
    if suffix == ".jsonl":
        with path.open(encoding=_sniff_encoding(path, encoding)) as fh:
            for line in fh:
                if line.strip():
                    item = json.loads(line)
                    yield item if isinstance(item, dict) else {"text": to_str(item)}
    elif suffix in (".csv", ".tsv"):
        with path.open(encoding=_sniff_encoding(path, encoding), newline="") as fh:
            yield from csv.DictReader(fh, dialect="excel-tab" if suffix == ".tsv" else "excel")
    elif suffix == ".xlsx":
        import openpyxl

        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        try:
            for sheet in book.worksheets:
                rows = sheet.iter_rows(values_only=True)
                header = [to_str(c) for c in next(rows, ())]
                for values in rows:
                    yield {h: to_str(v) for h, v in zip(header, values, strict=False) if h}
        finally:
            book.close()
    else:
        raise IngestionError(ErrorCode.E103, fmt=suffix or "(none)", source=str(path), options="csv, tsv, xlsx, jsonl")


def label_file(
    src: Path,
    dst: Path,
    labeler: Labeler,
    *,
    text_col: str = "text",
    encoding: str | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> FileLabelReport:
    """One JSON object per input row: the input columns plus ``labels`` and ``needs_review``."""
    labeler.warm_up()
    report, started = FileLabelReport(), time.perf_counter()
    dst.parent.mkdir(parents=True, exist_ok=True)
    with dst.open("w", encoding="utf-8") as out:
        for row in iter_rows(src, encoding):
            if text_col not in row:
                raise IngestionError(ErrorCode.E110, path=str(src), columns=[text_col])
            result = labeler.run(Document(text=to_str(row[text_col])))
            labels = {f: [lab.model_dump() for lab in labs] for f, labs in result.labels.items()}
            out.write(json.dumps({**row, "labels": labels, "needs_review": result.needs_review}, ensure_ascii=False) + "\n")
            report.rows += 1
            report.needs_review += bool(result.needs_review)
            if on_progress and report.rows % 256 == 0:
                on_progress(256)
    report.seconds = time.perf_counter() - started
    return report
