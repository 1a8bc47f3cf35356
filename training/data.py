"""Labelled data for training and evaluation: any encoding, CSV/XLSX/JSONL, single- or multi-label."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from radar.errors import ErrorCode, IngestionError, NLPError
from radar.tables import cell_text, iter_rows

__all__ = ["LabelledData", "load_labelled"]


@dataclass(frozen=True)
class LabelledData:
    texts: list[str]
    labels: list[list[str]]  # one list per row; single-label data holds one label each
    multi_label: bool
    data_hash: str
    source: str

    @property
    def label_counts(self) -> dict[str, int]:
        return dict(sorted(Counter(lab for row in self.labels for lab in row).items()))

    def single(self) -> list[str]:
        return [row[0] for row in self.labels]


def load_labelled(
    path: Path, text_col: str, label_col: str, *, multi_label_sep: str | None = None, encoding: str | None = None
) -> LabelledData:
    """Rows with a text and at least one label; rows without either are skipped.

    ``text_col`` may join columns with ``+`` (``留言主题+留言详情``).
    """
    text_cols = [c for c in text_col.split("+") if c]
    texts: list[str] = []
    labels: list[list[str]] = []
    digest = hashlib.sha256()
    skipped = 0
    for i, row in enumerate(iter_rows(path, encoding)):
        if i == 0:
            for col in (*text_cols, label_col):
                if col not in row:
                    raise IngestionError(ErrorCode.E209, column=col, path=str(path), options=", ".join(map(str, row)))
        text = "。".join(t for t in (cell_text(row.get(c)) for c in text_cols) if t)
        raw = cell_text(row.get(label_col))
        row_labels = [x.strip() for x in raw.split(multi_label_sep)] if multi_label_sep else [raw]
        row_labels = [x for x in row_labels if x]
        if not text or not row_labels:
            skipped += 1
            continue
        texts.append(text)
        labels.append(row_labels)
        digest.update(f"{text}\x1f{'|'.join(row_labels)}\x1e".encode())
    if len({lab for row in labels for lab in row}) < 2:
        raise NLPError(
            ErrorCode.E210,
            path=str(path),
            reason=f"{len(texts)} usable rows with fewer than 2 labels",
            fix="Check --label-col; training needs at least two labels.",
        )
    return LabelledData(texts, labels, multi_label_sep is not None, digest.hexdigest()[:16], str(path))
