"""Label a CSV/XLSX/JSONL file into JSONL, streaming in constant memory."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nlp.entities import EntityExtractor
from radar.errors import ErrorCode, IngestionError
from radar.fastjson import dumps
from radar.parallel import ordered_map
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


_worker_labeler: Labeler | None = None  # per process, set once by the initializer
_worker_entities: EntityExtractor | None = None


def _init_worker(labeler: Labeler, entities: EntityExtractor | None = None) -> None:
    global _worker_labeler, _worker_entities
    labeler.warm_up()
    if entities is not None:
        entities.warm_up()
    _worker_labeler, _worker_entities = labeler, entities


def _label_chunk(rows: list[dict[str, Any]], text_col: str) -> tuple[list[str], int]:
    """JSON lines for a chunk of rows, and how many need review (with this process's labeler)."""
    labeler = _worker_labeler
    assert labeler is not None
    texts = [cell_text(row[text_col]) for row in rows]
    results = labeler.run_many([Document(text=t) for t in texts])
    found = _worker_entities.run_many(texts) if _worker_entities is not None else None
    lines, review = [], 0
    for i, (row, result) in enumerate(zip(rows, results, strict=True)):
        labels = {f: [lab.to_dict() for lab in labs] for f, labs in result.labels.items()}
        item = {**row, "labels": labels, "needs_review": result.needs_review}
        if found is not None:
            item["entities"] = [e.to_dict() for e in found[i]]
        lines.append(dumps(item))
        review += bool(result.needs_review)
    return lines, review


def _chunks(src: Path, encoding: str | None, text_col: str, size: int) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in iter_rows(src, encoding):
        if text_col not in row:
            raise IngestionError(ErrorCode.E110, path=str(src), columns=[text_col])
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def label_file(
    src: Path,
    dst: Path,
    labeler: Labeler,
    *,
    text_col: str = "text",
    encoding: str | None = None,
    workers: int = 1,
    chunk_size: int = 1000,
    entities: EntityExtractor | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> FileLabelReport:
    """One JSON object per input row: the input columns plus ``labels`` and ``needs_review``.

    Streams in chunks, in constant memory; ``workers`` processes label chunks in parallel and the
    output keeps the input order. With ``entities``, each object also holds ``"entities"``.
    """
    report, started = FileLabelReport(), time.perf_counter()
    dst.parent.mkdir(parents=True, exist_ok=True)
    with dst.open("w", encoding="utf-8") as out:
        chunks = _chunks(src, encoding, text_col, chunk_size)
        results = ordered_map(_label_chunk, chunks, text_col, workers=workers, initializer=_init_worker, initargs=(labeler, entities))
        for lines, review in results:
            out.write("\n".join(lines) + "\n")
            report.rows += len(lines)
            report.needs_review += review
            if on_progress:
                on_progress(len(lines))
    report.seconds = time.perf_counter() - started
    return report
