"""Labelling in worker processes: each process gets the labeler (and entity pipeline) once, then batches.

Used by ``label_store`` and ``label_file`` through ``radar.parallel.ordered_map``; with one worker
everything runs in the calling process.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nlp.entities import EntityExtractor
from taxonomy.classifiers.base import Document
from taxonomy.labeler import Labeler

__all__ = ["init_worker", "label_batch", "worker_labeler"]

_labeler: Labeler | None = None  # per process, set once by init_worker
_entities: EntityExtractor | None = None
_models: tuple[Any, ...] = ()


def init_worker(labeler: Labeler, entities: EntityExtractor | None = None, models: Sequence[Any] = ()) -> None:
    """``models``: objects with ``facet`` and ``label(texts)`` that label one facet outright (label-file --model)."""
    global _labeler, _entities, _models
    labeler.warm_up()
    if entities is not None:
        entities.warm_up()
    _labeler, _entities, _models = labeler, entities, tuple(models)


def worker_labeler() -> tuple[Labeler, EntityExtractor | None]:
    assert _labeler is not None, "init_worker first"
    return _labeler, _entities


def worker_models() -> tuple[Any, ...]:
    return _models


def label_batch(item: tuple[Sequence[Any], Sequence[Document], Sequence[str]]) -> tuple[Sequence[Any], list[Any], list[Any] | None]:
    """(keys, documents, texts for entities) -> (keys, label results, entities per text or None), in this process.

    Entities are found in the record's stored text (their offsets point into it), which is not always
    the document's text: calls are classified on the customer's turns only."""
    keys, docs, texts = item
    labeler, entities = worker_labeler()
    results = labeler.run_many(list(docs))
    found = entities.run_many(list(texts)) if entities is not None else None
    return keys, results, found
