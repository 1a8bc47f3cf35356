"""Metrics in one fixed shape, k-fold cross-validation, and the confusion-matrix picture."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nlp.dictionary import TelecomDictionary
from radar.charts import cjk_font
from training.data import LabelledData
from training.models import ModelOptions, make_model

__all__ = ["confusion_png", "cross_validate", "metrics"]


def metrics(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> dict[str, Any]:
    """``{"n", "macro_f1", "micro_f1", "accuracy", "per_label", "confusion"}``.

    Accuracy is exact-set match (plain accuracy for single-label data). The confusion matrix
    counts (gold label, predicted label) pairs: rows gold, columns predicted.
    """
    from sklearn.metrics import precision_recall_fscore_support
    from sklearn.preprocessing import MultiLabelBinarizer

    labels = sorted({lab for row in gold for lab in row} | {lab for row in pred for lab in row})
    mlb = MultiLabelBinarizer(classes=labels)
    y_true, y_pred = mlb.fit_transform(gold), mlb.transform(pred)
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=range(len(labels)), zero_division=0)
    gold_labels = sorted({lab for row in gold for lab in row})
    in_gold = [labels.index(g) for g in gold_labels]
    _, _, micro, _ = precision_recall_fscore_support(y_true, y_pred, average="micro", zero_division=0)
    index = {lab: i for i, lab in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=int)
    for g_row, p_row in zip(gold, pred, strict=True):
        for g in g_row:
            for q in p_row:
                matrix[index[g], index[q]] += 1
    return {
        "n": len(gold),
        "macro_f1": round(float(np.mean([f[i] for i in in_gold])), 4),  # over the classes the data holds
        "micro_f1": round(float(micro), 4),
        "accuracy": round(float(np.mean([set(a) == set(b) for a, b in zip(gold, pred, strict=True)])), 4),
        "per_label": {
            lab: {"precision": round(float(p[i]), 4), "recall": round(float(r[i]), 4), "f1": round(float(f[i]), 4), "support": int(s[i])}
            for i, lab in enumerate(labels)
        },
        "confusion": {"labels": labels, "matrix": matrix.tolist()},
    }


def cross_validate(
    data: LabelledData, kind: str, dictionary: TelecomDictionary, *, k: int = 5, seed: int = 13, options: ModelOptions | None = None
) -> dict[str, Any]:
    """Out-of-fold predictions of ``k`` stratified folds (by first label), scored together."""
    from sklearn.model_selection import KFold, StratifiedKFold

    first = data.single()
    counts = {lab: first.count(lab) for lab in set(first)}
    splitter: Any = (
        StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
        if min(counts.values()) >= k
        else KFold(k, shuffle=True, random_state=seed)
    )
    pred: list[list[str]] = [[] for _ in data.texts]
    for train_idx, test_idx in splitter.split(data.texts, first):
        model = make_model(kind, dictionary, multi_label=data.multi_label, seed=seed, options=options)
        model.fit([data.texts[i] for i in train_idx], [data.labels[i] for i in train_idx])
        for i, row in zip(test_idx, model.predict([data.texts[i] for i in test_idx]), strict=True):
            pred[i] = row
    return metrics(data.labels, pred)


def confusion_png(result: dict[str, Any], path: Path, title: str = "") -> Path:
    """Draw the confusion matrix (rows gold, columns predicted) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    labels, matrix = result["confusion"]["labels"], np.array(result["confusion"]["matrix"])
    font = cjk_font()
    if font:
        plt.rcParams["font.family"] = font
    else:  # no Chinese font on this machine: number the labels rather than draw empty boxes
        labels = [f"{i + 1}" for i in range(len(labels))]
    size = max(4.0, 0.5 * len(labels) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    for (i, j), v in np.ndenumerate(matrix):
        if v:
            ax.text(j, i, str(v), ha="center", va="center", fontsize=8, color="white" if v > matrix.max() / 2 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title(title or f"n={result['n']} macro-F1={result['macro_f1']:.3f}")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
