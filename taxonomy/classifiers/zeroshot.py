"""Zero-shot labels by embedding similarity to each label's description and examples.

A label's raw score for a text is the mean of its similarity to the label's prototype (the
normalised mean of "path：description" and the examples) and to its nearest example. Small
encoders find some labels close to everything, so each label's bias, its mean raw score over
the other labels' texts, is subtracted. The centred scores of one facet become probabilities
through a softmax whose temperature is the facet's calibration (``fit_temperature`` on a
labelled dev split; E5 similarities are compressed, hence a small default).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from nlp.embedders.base import Embedder
from radar.records import Evidence
from taxonomy.classifiers.base import Candidate, Document
from taxonomy.schema import Facet, Taxonomy

__all__ = ["ZeroShotClassifier", "fit_temperature"]

logger = logging.getLogger(__name__)

DEFAULT_TEMPERATURE = 0.02


@dataclass
class _FacetIndex:
    facet: Facet
    label_ids: list[str]
    prototypes: np.ndarray  # (labels, dim)
    texts: list[list[str]]  # what each prototype was built from (for evidence)
    vectors: list[np.ndarray]  # per label: (n_texts, dim)
    temperature: float
    bias: np.ndarray | None = None  # (labels,) mean raw score on the other labels' texts

    def raw(self, x: np.ndarray) -> np.ndarray:
        """(n, labels) raw scores for rows of normalised vectors ``x``."""
        proto = x @ self.prototypes.T
        nearest = np.stack([(x @ v.T).max(axis=1) for v in self.vectors], axis=1)
        out: np.ndarray = (proto + nearest) / 2
        return out

    def centred(self, x: np.ndarray) -> np.ndarray:
        raw = self.raw(x)
        return raw - self.bias if self.bias is not None else raw


def _softmax(x: np.ndarray, temperature: float) -> np.ndarray:
    z = (x - x.max(axis=-1, keepdims=True)) / temperature
    e = np.exp(z)
    out: np.ndarray = e / e.sum(axis=-1, keepdims=True)
    return out


def fit_temperature(similarities: np.ndarray, gold: Sequence[int], grid: Sequence[float] | None = None) -> float:
    """The temperature minimising the negative log-likelihood of ``gold`` on a dev split."""
    best, best_nll = DEFAULT_TEMPERATURE, math.inf
    for t in grid or np.geomspace(0.003, 0.3, 40):
        probs = _softmax(similarities, float(t))
        nll = -float(np.mean(np.log(probs[np.arange(len(gold)), list(gold)] + 1e-12)))
        if nll < best_nll:
            best, best_nll = float(t), nll
    return best


class ZeroShotClassifier:
    """Proposes candidates for the facets it is given; meant as the ensemble's backup."""

    name = "zero_shot"

    def __init__(
        self,
        taxonomy: Taxonomy,
        embedder: Embedder,
        *,
        facets: Sequence[str] = ("demand_category", "complaint_type", "intent"),
        temperatures: dict[str, float] | None = None,
        min_probability: float = 0.35,
    ) -> None:
        self.taxonomy = taxonomy
        self.embedder = embedder
        self.facets = list(facets)
        self.temperatures = temperatures or {}
        self.min_probability = min_probability
        self._index: list[_FacetIndex] | None = None

    def warm_up(self) -> None:
        if self._index is not None:
            return
        self.embedder.warm_up()
        self._index = [self._build(self.taxonomy.facet(name)) for name in self.facets if name in self.taxonomy.by_name]

    def _build(self, facet: Facet) -> _FacetIndex:
        labels = [lab for lab in facet.active() if lab.description or lab.examples]
        texts = [[f"{facet.path(lab.id)}：{lab.description}".rstrip("："), *lab.examples] for lab in labels]
        flat = [t for group in texts for t in group]
        vectors = self.embedder.embed(flat, "query") if flat else np.zeros((0, 1), dtype=np.float32)
        per_label, protos, pos = [], [], 0
        for group in texts:
            block = vectors[pos : pos + len(group)]
            pos += len(group)
            per_label.append(block)
            mean = block.mean(axis=0)
            protos.append(mean / (np.linalg.norm(mean) or 1.0))
        temperature = self.temperatures.get(facet.name, DEFAULT_TEMPERATURE)
        index = _FacetIndex(facet, [lab.id for lab in labels], np.stack(protos) if protos else vectors, texts, per_label, temperature)
        if len(labels) > 1:
            index.bias = self._bias(index, vectors)
        return index

    @staticmethod
    def _bias(index: _FacetIndex, vectors: np.ndarray) -> np.ndarray:
        owner = np.concatenate([np.full(len(g), j) for j, g in enumerate(index.texts)])
        raw = index.raw(vectors)
        # a label's own texts would flatter it: its bias is measured on everyone else's
        return np.array([raw[owner != j, j].mean() for j in range(len(index.label_ids))], dtype=np.float32)

    def similarities(self, texts: Sequence[str], facet: str) -> np.ndarray:
        """(texts, labels) cosine similarities to one facet's prototypes (for calibration)."""
        self.warm_up()
        assert self._index is not None
        index = next(i for i in self._index if i.facet.name == facet)
        return index.centred(self.embedder.embed(list(texts), "query"))

    def run(self, doc: Document) -> list[Candidate]:
        return self.run_many([doc])[0]

    def run_many(self, docs: Sequence[Document]) -> list[list[Candidate]]:
        self.warm_up()
        assert self._index is not None
        if not docs:
            return []
        vectors = self.embedder.embed([d.text for d in docs], "query")
        out: list[list[Candidate]] = [[] for _ in docs]
        for index in self._index:
            if not index.label_ids:
                continue
            probs = _softmax(index.centred(vectors), index.temperature)
            for row, p in enumerate(probs):
                out[row].extend(self._candidates(index, p, vectors[row]))
        return out

    def _candidates(self, index: _FacetIndex, probs: np.ndarray, vector: np.ndarray) -> list[Candidate]:
        order = np.argsort(-probs, kind="stable")
        keep = order[:3] if index.facet.multi_label else order[:1]
        found = []
        for j in keep:
            if probs[j] < self.min_probability:
                continue
            nearest = int(np.argmax(index.vectors[j] @ vector))  # the description or example it is closest to
            evidence = [Evidence.of(index.texts[j][nearest], -1, -1)]
            found.append(Candidate(index.facet.name, index.label_ids[j], round(float(probs[j]), 4), self.name, evidence))
        return found
