"""The main job's steps over a store: label what changed, index what changed, run the demo."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from api.workers import init_worker, label_batch
from ingestion.convert import ConvertOptions
from ingestion.pipeline import IngestReport, ingest_path
from nlp.dictionary import TelecomDictionary
from nlp.embedders import CachedEmbedder, Embedder, MemoryCache, make_embedder
from nlp.entities import EntityExtractor
from nlp.tokenizer import Tokenizer
from radar.errors import ErrorCode, SearchError
from radar.parallel import ordered_map
from radar.records import Record
from radar.settings import Settings
from search.backends.sqlite import SQLiteSearchBackend
from search.facet_index import FacetIndexCache
from search.result_cache import ResultCache
from search.stores import StoreProtocol, require_sqlite
from taxonomy.classifiers.base import Classifier, Document
from taxonomy.classifiers.trained import TrainedClassifier
from taxonomy.classifiers.zeroshot import ZeroShotClassifier
from taxonomy.entities import entity_extractor
from taxonomy.labeler import Labeler
from taxonomy.loader import load_taxonomy
from taxonomy.schema import Taxonomy

__all__ = ["Components", "LabelReport", "document_for", "index_store", "ingest_sample", "label_store"]

logger = logging.getLogger(__name__)

Progress = Callable[[int], None]
EMBEDDED_INDEX = "The embedded search index (SQLite FTS5)"


@dataclass
class Components:
    """What the pipeline needs, built once per process from the settings."""

    taxonomy: Taxonomy
    labeler: Labeler
    tokenizer: Tokenizer
    settings: Settings
    _embedder: Embedder | None = field(default=None, repr=False)
    _zero_shot_embedder: Embedder | None = field(default=None, repr=False)
    _entities: EntityExtractor | None = field(default=None, repr=False)
    facet_cache: FacetIndexCache = field(default_factory=FacetIndexCache, repr=False)
    result_cache: ResultCache = field(default_factory=ResultCache, repr=False)

    @property
    def entities(self) -> EntityExtractor:
        """The spaCy entity pipeline for this taxonomy, built once (a few seconds)."""
        if self._entities is None:
            self._entities = entity_extractor(self.taxonomy, self.tokenizer)
        return self._entities

    @property
    def embedder(self) -> Embedder:
        """The bulk encoder (indexing, semantic search, clustering), created once: loading a model is the expensive part."""
        if self._embedder is None:
            self._embedder = make_embedder(self.settings.embedder, max_chars=self.settings.embed_max_chars)
        return self._embedder

    @property
    def zero_shot_embedder(self) -> Embedder:
        """The zero-shot backup's encoder; the bulk one when both settings name the same model."""
        if self.settings.zero_shot_embedder == self.settings.embedder:
            return self.embedder
        if self._zero_shot_embedder is None:
            self._zero_shot_embedder = make_embedder(self.settings.zero_shot_embedder, max_chars=self.settings.embed_max_chars)
        return self._zero_shot_embedder

    @classmethod
    def build(cls, settings: Settings, taxonomy_path: Path | None = None, *, taxonomy: Taxonomy | None = None) -> Components:
        taxonomy = taxonomy or load_taxonomy(taxonomy_path or settings.taxonomy)
        dictionary = TelecomDictionary.build(taxonomy.dictionary_terms(), taxonomy.synonyms)
        labeler = Labeler(taxonomy, review_threshold=settings.review_threshold)
        return cls(taxonomy, labeler, Tokenizer(dictionary), settings)

    def labeler_for(self, store: StoreProtocol | None, *, zero_shot: bool | None = None) -> Labeler:
        """The rules, the models attached in the store's registry, and the zero-shot backup when enabled."""
        primary: list[Classifier] = list(self.labeler.classifiers)
        if store is not None:
            primary += [TrainedClassifier(Path(m["path"]), self.taxonomy, m["facet"]) for m in store.attached_models()]
        backups: list[Classifier] = []
        if self.settings.zero_shot if zero_shot is None else zero_shot:
            cached = CachedEmbedder(self.zero_shot_embedder, store if store is not None else MemoryCache())
            backups.append(ZeroShotClassifier(self.taxonomy, cached))
        if len(primary) == len(self.labeler.classifiers) and not backups:
            return self.labeler
        return Labeler(self.taxonomy, primary, backups=backups, review_threshold=self.labeler.review_threshold)

    def backend(self, store: StoreProtocol, *, semantic: bool | None = None) -> Any:
        """The configured backend: embedded SQLite (default) or Elasticsearch (``RADAR_SEARCH_BACKEND``).
        With semantic search on, records are embedded (and cached in the store) when indexed.
        A PostgreSQL store pairs with Elasticsearch only: the embedded index lives in the SQLite file (E307)."""
        elastic = self.settings.search_backend == "elasticsearch"
        embedded = None if elastic else require_sqlite(store, EMBEDDED_INDEX)  # before loading an encoder for nothing
        embedder = None
        if self.settings.semantic if semantic is None else semantic:
            embedder = CachedEmbedder(self.embedder, store)
        if elastic:
            from search.backends.elasticsearch import ElasticsearchBackend

            if self.settings.es_url is None:
                raise SearchError(ErrorCode.E305, backend="elasticsearch", reason="RADAR_ES_URL is not set")
            es = ElasticsearchBackend.from_url(
                store,
                self.tokenizer,
                self.settings.es_url.get_secret_value(),
                embedder=embedder,
                min_similarity=self.settings.min_similarity,
            )
            es.ensure()
            return es
        return SQLiteSearchBackend(
            require_sqlite(embedded, EMBEDDED_INDEX),
            self.tokenizer,
            embedder,
            min_similarity=self.settings.min_similarity,
            facet_cache=self.facet_cache,
            result_cache=self.result_cache if self.settings.search_cache else None,
        )


@dataclass
class LabelReport:
    records: int = 0
    needs_review: int = 0
    seconds: float = 0.0
    labels: dict[str, int] = field(default_factory=dict)

    @property
    def docs_per_s(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0


def document_for(record: Record) -> Document:
    """What the classifiers see: the customer's own words plus the ticket's complaint type."""
    path = tuple(record.ticket.complaint_type_path) if record.ticket else ()
    turns = tuple((t.speaker, t.text) for t in record.turns)
    return Document(text=record.customer_text(), source=record.source.value, complaint_type_path=path, turns=turns)


def label_store(
    store: StoreProtocol,
    components: Components,
    *,
    mode: str = "changed",
    batch: int = 500,
    zero_shot: bool | None = None,
    entities: bool = True,
    on_progress: Progress | None = None,
    job_id: int | None = None,
    workers: int = 1,
) -> LabelReport:
    """Label records, one transaction per batch; ``workers`` processes label batches in parallel.

    ``mode``: ``changed`` (new and changed text), ``backfill`` (also records labelled with
    another taxonomy or labeler version) or ``all``. Every batch commits with its records' label
    version and content hash, so a run stopped by a crash, Ctrl-C or a cancel request resumes
    where it stopped: ``changed`` and ``backfill`` skip what was committed. With ``job_id`` (a job
    the caller started) progress is written to the job after every batch and a cancel request
    stops it between batches.
    """
    labeler = components.labeler_for(store, zero_shot=zero_shot)
    report, started = LabelReport(), time.perf_counter()
    version = components.taxonomy.version
    versions = {"taxonomy": version, "labeler": labeler.version, "mode": mode}
    job = job_id if job_id is not None else store.start_job("label", versions)
    status = "done"
    work = (
        ([rowid for rowid, _ in rows], [document_for(record) for _, record in rows], [record.text for _, record in rows])
        for rows in store.iter_unlabelled(mode=mode, label_version=labeler.version, batch=batch)
    )
    extractor = components.entities if entities else None
    if workers > 1 and labeler.backups:
        # the zero-shot backup embeds through the store's cache, which lives in this process
        logger.warning("zero-shot backup is on: labelling in this process only (--no-zero-shot for %d workers)", workers)
        workers = 1
    for rowids, results, found in ordered_map(label_batch, work, workers=workers, initializer=init_worker, initargs=(labeler, extractor)):
        _write_batch(store, rowids, results, found, version, labeler.version, report)
        if on_progress:
            on_progress(len(rowids))
        if job_id is not None:
            store.job_progress(job, report.records)
            if store.cancel_requested(job):
                status = "cancelled"
                break
    report.seconds = time.perf_counter() - started
    store.finish_job(job, {"records": report.records, "needs_review": report.needs_review, "labels": report.labels}, status)
    return report


def _write_batch(
    store: StoreProtocol,
    rowids: Sequence[int],
    results: list[Any],
    found: list[Any] | None,
    version: str,
    labeler_version: str,
    report: LabelReport,
) -> None:
    with store.transaction():
        for i, (rowid, result) in enumerate(zip(rowids, results, strict=True)):
            store.write_labels(rowid, result.labels, result.needs_review, version, labeler_version)
            if found is not None:
                store.write_entities(rowid, [(e.label, e.text, e.start, e.end, e.value) for e in found[i]])
            store.write_turn_sentiment(
                rowid, [(t.turn, t.speaker, t.polarity, t.score, t.intensity, t.escalation) for t in result.turn_sentiment]
            )
            report.records += 1
            report.needs_review += bool(result.needs_review)
            for facet, labs in result.labels.items():
                report.labels[facet] = report.labels.get(facet, 0) + len(labs)


def index_store(store: StoreProtocol, components: Components, *, batch: int = 1000, on_progress: Progress | None = None) -> int:
    """Index records whose text or dictionary changed since they were indexed."""
    backend = components.backend(store)
    pending = backend.pending()
    done = 0
    for i in range(0, len(pending), batch):
        chunk = pending[i : i + batch]
        with store.transaction():
            done += backend.index(chunk)
        if on_progress:
            on_progress(len(chunk))
    if done and hasattr(backend, "sync_vectors"):
        backend.sync_vectors()  # vector side files (and the HNSW graph) updated now, not at the first search
    return done


SAMPLE_FORMATS: dict[str, str | None] = {"forum": None, "calls": None, "tickets": None, "forms": None}


def ingest_sample(
    store: StoreProtocol, sample_dir: Path, settings: Settings, on_progress: Progress | None = None
) -> dict[str, IngestReport]:
    """Ingest every file of the sample folders, one source at a time."""
    opts = ConvertOptions.from_settings(settings)
    reports = {}
    for source in ("forum", "calls", "tickets", "forms"):
        reports[source] = ingest_path(
            source, sample_dir / source, store, opts, batch_size=settings.batch_size, on_progress=on_progress, workers=settings.workers
        )
    return reports
