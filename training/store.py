"""Saving and loading a trained model with its model card; loadable without the training data."""

from __future__ import annotations

import json
import platform
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from nlp.dictionary import TelecomDictionary
from radar.errors import ErrorCode, NLPError
from training.data import LabelledData
from training.models import TextClassifier

__all__ = ["load_model", "model_card", "save_model"]

MODEL_FILE = "model.joblib"  # the artefact dict of TextClassifier.artefact()
CARD_FILE = "model_card.json"


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for package in ("scikit-learn", "numpy", "jieba", "rjieba", "demand-radar"):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return out


def model_card(
    model: TextClassifier,
    data: LabelledData,
    *,
    facet: str | None,
    taxonomy_version: str | None,
    held_out: dict[str, Any],
    settings: dict[str, Any],
) -> dict[str, Any]:
    return {
        "model_type": model.kind,
        "facet": facet,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "data": {"source": data.source, "hash": data.data_hash, "rows": len(data.texts), "multi_label": data.multi_label},
        "labels": data.label_counts,
        "settings": settings,
        "held_out_metrics": {k: held_out[k] for k in ("n", "macro_f1", "micro_f1", "accuracy")},
        "taxonomy_version": taxonomy_version,
        "dictionary_version": model.dictionary.version,
        "library_versions": _versions(),
    }


def save_model(model: TextClassifier, out: Path, card: dict[str, Any]) -> Path:
    import joblib

    out.mkdir(parents=True, exist_ok=True)
    artefact = model.artefact()
    if hasattr(artefact["pipeline"], "save"):  # a transformer's weights go beside the artefact
        artefact["pipeline"].save(out)
    joblib.dump(artefact, out / MODEL_FILE, compress=3)
    (out / CARD_FILE).write_text(json.dumps(card, ensure_ascii=False, indent=2), encoding="utf-8")
    return out


def load_model(path: Path) -> tuple[TextClassifier, dict[str, Any]]:
    import joblib

    if not (path / MODEL_FILE).exists() or not (path / CARD_FILE).exists():
        raise NLPError(ErrorCode.E206, path=str(path))
    card: dict[str, Any] = json.loads((path / CARD_FILE).read_text(encoding="utf-8"))
    artefact = joblib.load(path / MODEL_FILE)
    if hasattr(artefact["pipeline"], "bind"):
        artefact["pipeline"].bind(path)
    return TextClassifier.from_artefact(artefact, _dictionary_of(artefact["pipeline"])), card


def _dictionary_of(pipeline: Any) -> TelecomDictionary:
    """The tokenizer dictionary a linear model was trained with (an empty one for other kinds)."""
    try:
        analyzer = pipeline.named_steps["features"].transformer_list[-1][1].analyzer
    except (AttributeError, KeyError, IndexError):
        return TelecomDictionary.build([])
    return getattr(analyzer, "dictionary", None) or TelecomDictionary.build([])
