"""Train a model on labelled data: hold out a part, score it, refit on everything, save with a card."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nlp.dictionary import TelecomDictionary
from training.data import LabelledData
from training.evaluate import metrics
from training.models import TextClassifier, make_model
from training.store import model_card, save_model

__all__ = ["TrainResult", "train_model"]

logger = logging.getLogger(__name__)


@dataclass
class TrainResult:
    model: TextClassifier
    card: dict[str, Any]
    held_out: dict[str, Any]
    out: Path


def train_model(
    data: LabelledData,
    kind: str,
    dictionary: TelecomDictionary,
    out: Path,
    *,
    facet: str | None = None,
    taxonomy_version: str | None = None,
    seed: int = 13,
    test_size: float = 0.2,
    class_weight: str | None = None,
) -> TrainResult:
    """Deterministic for a seed: the same data and seed give the same split, model and metrics."""
    from sklearn.model_selection import train_test_split

    idx = list(range(len(data.texts)))
    first = data.single()
    stratify = first if min(first.count(x) for x in set(first)) >= 2 else None
    train_idx, test_idx = train_test_split(idx, test_size=test_size, random_state=seed, stratify=stratify)
    probe = make_model(kind, dictionary, multi_label=data.multi_label, seed=seed, class_weight=class_weight)
    probe.fit([data.texts[i] for i in train_idx], [data.labels[i] for i in train_idx])
    held_out = metrics([data.labels[i] for i in test_idx], probe.predict([data.texts[i] for i in test_idx]))
    model = make_model(kind, dictionary, multi_label=data.multi_label, seed=seed, class_weight=class_weight).fit(data.texts, data.labels)
    card = model_card(
        model,
        data,
        facet=facet,
        taxonomy_version=taxonomy_version,
        held_out=held_out,
        settings={"seed": seed, "test_size": test_size, "c": model.c, "class_weight": class_weight},
    )
    save_model(model, out, card)
    return TrainResult(model, card, held_out, out)
