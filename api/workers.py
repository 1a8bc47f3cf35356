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


def label_batch(item: tuple[Sequence[Any], Sequence[Document]]) -> tuple[Sequence[Any], list[Any], list[Any] | None]:
    """(keys, documents) -> (keys, label results, entities per document or None), in this process."""
    keys, docs = item
    labeler, entities = worker_labeler()
    results = labeler.run_many(list(docs))
    found = entities.run_many([d.text for d in docs]) if entities is not None else None
    return keys, results, found
