"""Label a CSV/XLSX/JSONL file into JSONL, streaming in constant memory."""

from __future__ import annotations

import itertools
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from api.workers import init_worker, worker_labeler, worker_models
from nlp.entities import EntityExtractor
from radar.errors import ErrorCode, IngestionError
from radar.fastjson import dumps
from radar.parallel import ordered_map
from radar.tables import cell_text, iter_rows
from taxonomy.classifiers.base import Document
from taxonomy.labeler import Labeler

__all__ = ["Checkpoint", "FileLabelReport", "FileModel", "label_file"]


@dataclass
class FileLabelReport:
    rows: int = 0  # labelled by this run
    seconds: float = 0.0
    needs_review: int = 0  # in the whole output, resumed part included
    resumed_from: int = 0  # rows a previous, interrupted run had written

    def to_dict(self) -> dict[str, float | int]:
        rate = self.rows / self.seconds if self.seconds else 0.0
        return {
            "rows": self.rows,
            "seconds": round(self.seconds, 3),
            "docs_per_s": round(rate, 1),
            "needs_review": self.needs_review,
            "resumed_from": self.resumed_from,
        }


def _label_chunk(rows: list[dict[str, Any]], text_col: str) -> tuple[list[str], int]:
    """JSON lines for a chunk of rows, and how many need review (with this process's labeler)."""
    labeler, entities = worker_labeler()
    texts = [cell_text(row[text_col]) for row in rows]
    results = labeler.run_many([Document(text=t) for t in texts])
    found = entities.run_many(texts) if entities is not None else None
    by_model = [(m.facet, m.label(texts)) for m in worker_models()]
    lines, review = [], 0
    for i, (row, result) in enumerate(zip(rows, results, strict=True)):
        labels = {f: [lab.to_dict() for lab in labs] for f, labs in result.labels.items()}
        unsure = set(result.needs_review)
        for facet, decided in by_model:  # a named model labels its facet outright; the taxonomy the rest
            labels[facet], sure = decided[i]
            unsure.discard(facet) if sure else unsure.add(facet)
        item = {**row, "labels": labels, "needs_review": sorted(unsure)}
        if found is not None:
            item["entities"] = [e.to_dict() for e in found[i]]
        lines.append(dumps(item))
        review += bool(unsure)
    return lines, review


def _chunks(src: Path, encoding: str | None, text_col: str, size: int, skip: int = 0) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in itertools.islice(iter_rows(src, encoding), skip, None):
        if text_col not in row:
            raise IngestionError(ErrorCode.E110, path=str(src), columns=[text_col])
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class FileModel:
    """A trained model (``radar train``) that labels one facet of every row, with its own label names."""

    def __init__(self, model_dir: Path, facet: str | None = None, review_threshold: float = 0.45) -> None:
        from training.store import load_model

        self.model, card = load_model(model_dir)
        self.facet = facet or card.get("facet") or model_dir.name
        self.name = f"model:{model_dir.name}"
        self.review_threshold = review_threshold

    def label(self, texts: Sequence[str]) -> list[tuple[list[dict[str, Any]], bool]]:
        """Per text: its labels (best first) and whether the model is sure enough to skip review."""
        probs = self.model.predict_proba(list(texts))
        out = []
        for row in probs:
            order = np.argsort(-row, kind="stable")
            chosen = [j for j in order if row[j] >= 0.5] if self.model.multi_label else [int(order[0])]
            labels = [
                {"label": self.model.classes_[j], "score": round(float(row[j]), 4), "source": self.name, "evidence": []} for j in chosen
            ]
            out.append((labels, bool(chosen) and float(row[order[0]]) >= self.review_threshold))
        return out


@dataclass
class Checkpoint:
    """Where a run got to: rows written and the output's size after them, for this input and labeler."""

    path: Path
    fingerprint: dict[str, Any]
    rows: int = 0
    needs_review: int = 0
    bytes: int = 0

    @classmethod
    def for_run(cls, src: Path, dst: Path, labeler_version: str, text_col: str) -> Checkpoint:
        stat = src.stat()
        fingerprint = {"src": str(src.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "labeler": labeler_version}
        return cls(dst.with_name(dst.name + ".checkpoint"), fingerprint | {"text_col": text_col})

    def load(self) -> bool:
        """Take the saved position if it belongs to this run (same input file, labeler and column)."""
        if not self.path.exists():
            return False
        saved = json.loads(self.path.read_text(encoding="utf-8"))
        if saved.get("fingerprint") != self.fingerprint:
            raise IngestionError(
                ErrorCode.E101,
                path=str(self.path),
                reason="the checkpoint is for another input file, labeler or column; delete it to start over",
            )
        self.rows, self.needs_review, self.bytes = saved["rows"], saved["needs_review"], saved["bytes"]
        return True

    def save(self) -> None:
        doc = {"fingerprint": self.fingerprint, "rows": self.rows, "needs_review": self.needs_review, "bytes": self.bytes}
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(doc), encoding="utf-8")
        os.replace(tmp, self.path)  # atomic: a crash leaves the old or the new checkpoint, never half of one


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
    resume: bool = False,
    models: Sequence[FileModel] = (),
) -> FileLabelReport:
    """One JSON object per input row: the input columns plus ``labels`` and ``needs_review``.

    Streams in chunks, in constant memory; ``workers`` processes label chunks in parallel and the
    output keeps the input order. With ``entities``, each object also holds ``"entities"``.
    After each chunk the output is flushed to disk and a checkpoint records how far it got; with
    ``resume`` a run stopped by a crash or Ctrl-C continues from there (the output is cut back to
    the checkpoint, so no row is written twice and none is skipped). A finished run removes it.
    """
    report, started = FileLabelReport(), time.perf_counter()
    dst.parent.mkdir(parents=True, exist_ok=True)
    version = "+".join([labeler.version, *(m.name for m in models)])
    checkpoint = Checkpoint.for_run(src, dst, version, text_col)
    resumed = resume and checkpoint.load() and dst.exists()
    if not resumed:
        checkpoint = Checkpoint.for_run(src, dst, version, text_col)
    report.resumed_from = checkpoint.rows
    with dst.open("r+b" if resumed else "wb") as out:
        out.truncate(checkpoint.bytes)
        out.seek(checkpoint.bytes)
        chunks = _chunks(src, encoding, text_col, chunk_size, skip=checkpoint.rows)
        results = ordered_map(
            _label_chunk, chunks, text_col, workers=workers, initializer=init_worker, initargs=(labeler, entities, models)
        )
        for lines, review in results:
            out.write(("\n".join(lines) + "\n").encode("utf-8"))
            out.flush()
            os.fsync(out.fileno())
            checkpoint.rows, checkpoint.needs_review, checkpoint.bytes = (
                checkpoint.rows + len(lines),
                checkpoint.needs_review + review,
                out.tell(),
            )
            checkpoint.save()
            report.rows += len(lines)
            if on_progress:
                on_progress(len(lines))
    report.needs_review = checkpoint.needs_review
    checkpoint.path.unlink(missing_ok=True)
    report.seconds = time.perf_counter() - started
    return report
