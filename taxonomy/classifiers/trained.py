"""A trained model attached to one facet of the taxonomy: its probabilities join the ensemble.

It loads the artefact ``radar train`` writes (an sklearn pipeline with the project's features,
and a model card) without importing training/: the taxonomy loads what training builds.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from radar.errors import ErrorCode, NLPError
from taxonomy.classifiers.base import Candidate, Document
from taxonomy.schema import Taxonomy

__all__ = ["TrainedClassifier"]

logger = logging.getLogger(__name__)


class TrainedClassifier:
    """Maps the model's classes to the facet's labels by name (or path); unknown classes are ignored."""

    def __init__(self, model_dir: Path, taxonomy: Taxonomy, facet: str, *, min_probability: float = 0.2) -> None:
        self.model_dir = Path(model_dir)
        self.taxonomy = taxonomy
        self.facet = facet
        self.min_probability = min_probability
        self.name = f"model:{self.model_dir.name}"
        self._pipeline: Any = None
        self._label_ids: list[str | None] = []

    def warm_up(self) -> None:
        if self._pipeline is not None:
            return
        import joblib

        model_file, card_file = self.model_dir / "model.joblib", self.model_dir / "model_card.json"
        if not model_file.exists() or not card_file.exists():
            raise NLPError(ErrorCode.E206, path=str(self.model_dir))
        artefact = joblib.load(model_file)
        self.card = json.loads(card_file.read_text(encoding="utf-8"))
        self._pipeline = artefact["pipeline"]
        if hasattr(self._pipeline, "bind"):  # a fine-tuned transformer keeps its weights beside the artefact
            self._pipeline.bind(self.model_dir)
        facet = self.taxonomy.facet(self.facet)
        by_name = {lab.name: lab.id for lab in facet.labels} | {facet.path(lab.id): lab.id for lab in facet.labels}
        self._label_ids = [by_name.get(str(c)) for c in artefact["classes"]]
        unknown = [str(c) for c, i in zip(artefact["classes"], self._label_ids, strict=True) if i is None]
        if unknown:
            logger.warning("model %s has classes the facet %s does not know: %s", self.name, self.facet, unknown)

    def run(self, doc: Document) -> list[Candidate]:
        return self.run_many([doc])[0]

    def run_many(self, docs: Sequence[Document]) -> list[list[Candidate]]:
        self.warm_up()
        if not docs:
            return []
        probs: np.ndarray = self._pipeline.predict_proba([d.text for d in docs])
        out = []
        for row in probs:
            order = np.argsort(-row, kind="stable")[:3]
            out.append(
                [
                    Candidate(self.facet, label_id, round(float(row[j]), 4), self.name)
                    for j in order
                    if (label_id := self._label_ids[j]) is not None and row[j] >= self.min_probability
                ]
            )
        return out
