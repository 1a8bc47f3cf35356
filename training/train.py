"""Train a model on labelled data: hold out a part, score it, refit on everything, save with a card.

``auto`` chooses the model type by cross-validated macro-F1 on the training data and records why.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from nlp.dictionary import TelecomDictionary
from nlp.embedders import MemoryCache
from training.data import LabelledData
from training.evaluate import cross_validate, metrics
from training.models import ModelOptions, TextClassifier, make_model
from training.store import model_card, save_model

__all__ = ["AUTO_EMBED_MAX_ROWS", "TrainResult", "choose_model_type", "train_model"]

logger = logging.getLogger(__name__)

# the bundled encoder embeds roughly 3-50 texts a second on 2 cores: beyond this many rows, the
# embedding candidate would take longer than a data team waits for a choice, so auto leaves it out
AUTO_EMBED_MAX_ROWS = 3000
AUTO_TRANSFORMER_MAX_ROWS = 3000
AUTO_FOLDS = 3


@dataclass
class TrainResult:
    model: TextClassifier
    card: dict[str, Any]
    held_out: dict[str, Any]
    out: Path


def choose_model_type(data: LabelledData, dictionary: TelecomDictionary, options: ModelOptions, *, seed: int = 13) -> dict[str, Any]:
    """Cross-validate each candidate that fits the data's size; the best macro-F1 wins (linear on ties)."""
    rows = len(data.texts)
    candidates, skipped = ["linear"], {}
    if rows <= AUTO_EMBED_MAX_ROWS:
        candidates.append("embedding")
    else:
        skipped["embedding"] = f"{rows} rows > {AUTO_EMBED_MAX_ROWS}: embedding them all would take too long on CPU"
    if options.base_model is None:
        skipped["transformer"] = "no --base-model directory given"
    elif rows <= AUTO_TRANSFORMER_MAX_ROWS:
        candidates.append("transformer")
    else:
        skipped["transformer"] = f"{rows} rows > {AUTO_TRANSFORMER_MAX_ROWS}: fine-tuning {AUTO_FOLDS} times would take too long on CPU"
    scores = {}
    for kind in candidates:
        scores[kind] = round(cross_validate(data, kind, dictionary, k=AUTO_FOLDS, seed=seed, options=options)["macro_f1"], 4)
        logger.info("auto: %s %d-fold macro-F1 %.4f", kind, AUTO_FOLDS, scores[kind])
    chosen = max(candidates, key=lambda k: (scores[k], k == "linear"))
    why = f"highest {AUTO_FOLDS}-fold cross-validated macro-F1 ({scores[chosen]:.4f}) among " + ", ".join(
        f"{k} {v:.4f}" for k, v in scores.items()
    )
    return {"chosen": chosen, "cv_macro_f1": scores, "skipped": skipped, "why": why}


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
    options: ModelOptions | None = None,
) -> TrainResult:
    """Deterministic for a seed: the same data and seed give the same split, model and metrics."""
    from sklearn.model_selection import train_test_split

    options = options or ModelOptions()
    if options.cache is None:  # one cache for probe, final fit and auto's folds: each text is embedded once
        options = replace(options, cache=MemoryCache())
    auto = choose_model_type(data, dictionary, options, seed=seed) if kind == "auto" else None
    kind = auto["chosen"] if auto else kind
    idx = list(range(len(data.texts)))
    first = data.single()
    stratify = first if min(first.count(x) for x in set(first)) >= 2 else None
    train_idx, test_idx = train_test_split(idx, test_size=test_size, random_state=seed, stratify=stratify)
    def build() -> TextClassifier:
        return make_model(kind, dictionary, multi_label=data.multi_label, seed=seed, class_weight=class_weight, options=options)

    probe = build().fit([data.texts[i] for i in train_idx], [data.labels[i] for i in train_idx])
    held_out = metrics([data.labels[i] for i in test_idx], probe.predict([data.texts[i] for i in test_idx]))
    model = build().fit(data.texts, data.labels)
    settings: dict[str, Any] = {"seed": seed, "test_size": test_size, "c": model.c, "class_weight": class_weight}
    settings |= _kind_settings(kind, options)
    if auto:
        settings["auto"] = auto
    card = model_card(model, data, facet=facet, taxonomy_version=taxonomy_version, held_out=held_out, settings=settings)
    save_model(model, out, card)
    return TrainResult(model, card, held_out, out)


def _kind_settings(kind: str, options: ModelOptions) -> dict[str, Any]:
    if kind == "embedding":
        return {"embedder": options.embedder_spec, "embed_max_chars": options.embed_max_chars}
    if kind == "transformer":
        return {
            "base_model": str(options.base_model),
            "epochs": options.epochs,
            "learning_rate": options.learning_rate,
            "max_length": options.max_length,
        }
    return {}
