"""Label a CSV/XLSX/JSONL file into JSONL, streaming in constant memory."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from radar.errors import ErrorCode, IngestionError
from radar.tables import cell_text, iter_rows
from taxonomy.classifiers.base import Document
from taxonomy.labeler import Labeler

__all__ = ["FileLabelReport", "label_file"]


@dataclass
class FileLabelReport:
    rows: int = 0
    seconds: float = 0.0
    needs_review: int = 0

    def to_dict(self) -> dict[str, float | int]:
        rate = self.rows / self.seconds if self.seconds else 0.0
        return {"rows": self.rows, "seconds": round(self.seconds, 3), "docs_per_s": round(rate, 1), "needs_review": self.needs_review}


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
            result = labeler.run(Document(text=cell_text(row[text_col])))
            labels = {f: [lab.model_dump() for lab in labs] for f, labs in result.labels.items()}
            out.write(json.dumps({**row, "labels": labels, "needs_review": result.needs_review}, ensure_ascii=False) + "\n")
            report.rows += 1
            report.needs_review += bool(result.needs_review)
            if on_progress and report.rows % 256 == 0:
                on_progress(256)
    report.seconds = time.perf_counter() - started
    return report
