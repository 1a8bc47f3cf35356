"""Elasticsearch: the scale-out backend, behind the same ``SearchBackend`` protocol as the embedded one.

The store stays the system of record: documents are built from it, hits are read back from it
(masked text, labels with evidence), and ``es_state`` in the store says what was indexed with
which dictionary, so ``pending``/``check``/``repair`` work as for SQLite. The text field holds
the same pre-tokenised jieba text the embedded index uses (whitespace analyzer), so both
backends agree on what a word is; a character-bigram subfield gives recall on unknown words; a
``dense_vector`` field with HNSW serves semantic search. Writes go to an alias: ``rebuild``
fills a new physical index and swaps the alias in one atomic call, with no downtime.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Protocol, cast

from nlp.embedders.base import Embedder, similarity_floor
from nlp.keywords import IdfTable
from nlp.stopwords import BUILTIN_STOPWORDS
from nlp.tokenizer import Tokenizer
from radar.errors import ErrorCode, SearchError
from search.backends.base import DERIVED_FILTERS, Hit, SearchRequest, SearchResponse
from search.backends.cursor import decode_cursor, encode_cursor
from search.backends.es_query import filter_clauses, search_body, text_query
from search.backends.sqlite import RRF_K, highlight_spans
from search.collapse import duplicate_groups
from search.derived import credit_grades, in_proposal
from search.query import parse_query
from search.store import Store
from search.stores import StoreProtocol

__all__ = ["ElasticsearchBackend", "index_template"]

logger = logging.getLogger(__name__)

_STATE = "CREATE TABLE IF NOT EXISTS es_state (rowid INTEGER PRIMARY KEY, content_hash TEXT NOT NULL, dict_version TEXT NOT NULL)"
WINDOW = 1000  # hybrid fuses this many keyword and vector candidates; from + size stays under ES's 10,000


class IndexState(Protocol):
    """What was indexed, kept in the store: SQL on the SQLite file, or the SQLAlchemy store's own methods."""

    def index_pending(self, dict_version: str) -> list[int]: ...
    def mark_indexed(self, rows: Sequence[tuple[int, str, str]]) -> None: ...
    def content_hashes(self, rowids: Sequence[int]) -> dict[int, str]: ...
    def record_ids(self, rowids: Sequence[int]) -> dict[int, str]: ...
    def record_states(self) -> list[tuple[int, str, str]]: ...


class _SQLiteState:
    """``IndexState`` over the SQLite store's connection (``es_state`` beside the records)."""

    def __init__(self, store: Store) -> None:
        self.conn = store.conn
        self.conn.execute(_STATE)

    def index_pending(self, dict_version: str) -> list[int]:
        rows = self.conn.execute(
            "SELECT r.rowid FROM records r LEFT JOIN es_state s ON s.rowid = r.rowid "
            "WHERE s.rowid IS NULL OR s.content_hash != r.content_hash OR s.dict_version != ? ORDER BY r.rowid",
            (dict_version,),
        ).fetchall()
        return [int(r[0]) for r in rows]

    def mark_indexed(self, rows: Sequence[tuple[int, str, str]]) -> None:
        self.conn.executemany("INSERT OR REPLACE INTO es_state(rowid, content_hash, dict_version) VALUES (?, ?, ?)", rows)

    def content_hashes(self, rowids: Sequence[int]) -> dict[int, str]:
        marks = ",".join("?" * len(rowids))
        return dict(self.conn.execute(f"SELECT rowid, content_hash FROM records WHERE rowid IN ({marks})", list(rowids)).fetchall())

    def record_ids(self, rowids: Sequence[int]) -> dict[int, str]:
        marks = ",".join("?" * len(rowids))
        return dict(self.conn.execute(f"SELECT rowid, id FROM records WHERE rowid IN ({marks})", list(rowids)).fetchall())

    def record_states(self) -> list[tuple[int, str, str]]:
        return [(int(r[0]), str(r[1]), str(r[2])) for r in self.conn.execute("SELECT rowid, id, content_hash FROM records ORDER BY rowid")]


def index_template(prefix: str, dims: int, dictionary_version: str, shards: int = 1) -> dict[str, Any]:
    return {
        "index_patterns": [f"{prefix}-*"],
        "template": {
            "settings": {
                "number_of_shards": shards,
                "analysis": {
                    "analyzer": {
                        "pretokenised": {"type": "custom", "tokenizer": "whitespace", "filter": ["lowercase"]},
                        "bigram": {"type": "custom", "tokenizer": "bigram", "filter": ["lowercase"]},
                    },
                    "tokenizer": {"bigram": {"type": "ngram", "min_gram": 2, "max_gram": 2, "token_chars": ["letter", "digit"]}},
                },
            },
            "mappings": {
                "dynamic": "strict",
                "_meta": {"dictionary_version": dictionary_version, "schema": 1},
                "dynamic_templates": [{"facets": {"path_match": "facets.*", "mapping": {"type": "keyword"}}}],
                "properties": {
                    "id": {"type": "keyword"},
                    "source": {"type": "keyword"},
                    "region": {"type": "keyword"},
                    "channel": {"type": "keyword"},
                    "created_at": {"type": "date"},
                    "content_hash": {"type": "keyword"},
                    "needs_review": {"type": "keyword"},
                    "duplicate_of": {"type": "keyword"},
                    "group": {"type": "keyword"},
                    "credit_grade": {"type": "keyword"},
                    "in_proposal": {"type": "keyword"},
                    "facets": {"type": "object", "dynamic": True},
                    "tokens": {"type": "text", "analyzer": "pretokenised", "similarity": "BM25"},
                    "text": {"type": "text", "index": False, "fields": {"grams": {"type": "text", "analyzer": "bigram"}}},
                    "vector": {
                        "type": "dense_vector",
                        "dims": dims,
                        "index": True,
                        "similarity": "cosine",
                        "index_options": {"type": "hnsw", "m": 16, "ef_construction": 100},
                    },
                },
            },
        },
    }


class ElasticsearchBackend:
    name = "elasticsearch"

    def __init__(
        self,
        store: StoreProtocol,
        tokenizer: Tokenizer,
        client: Any,
        *,
        prefix: str = "radar-records",
        embedder: Embedder | None = None,
        min_similarity: float | None = None,
    ) -> None:
        self.store, self.tokenizer, self.client = store, tokenizer, client
        self.prefix, self.alias = prefix, prefix
        self.embedder = embedder
        # None: the embedder's own scale (E5 0.87, the static encoder 0.5)
        self.min_similarity = min_similarity if min_similarity is not None else similarity_floor(embedder)
        # the SQLAlchemy (PostgreSQL) store keeps es_state in its schema and answers these itself
        self.state = _SQLiteState(store) if isinstance(store, Store) else cast(IndexState, store)

    @classmethod
    def from_url(cls, store: StoreProtocol, tokenizer: Tokenizer, url: str, **kw: Any) -> ElasticsearchBackend:
        from elasticsearch import Elasticsearch

        client = Elasticsearch(url, request_timeout=30, retry_on_timeout=True, max_retries=3)
        try:
            client.info()
        except Exception as exc:  # any transport failure: say which backend and why, with the fix
            raise SearchError(ErrorCode.E305, backend="elasticsearch", reason=str(exc)) from exc
        return cls(store, tokenizer, client, **kw)

    # -- index lifecycle ------------------------------------------------------------------------

    def ensure(self) -> None:
        dims = self.embedder.dim if self.embedder is not None else 384
        body = index_template(self.prefix, dims, self.tokenizer.version)
        self.client.indices.put_index_template(name=self.prefix, **body)
        if not self.client.indices.exists_alias(name=self.alias):
            self.client.indices.create(index=self._physical(), aliases={self.alias: {}})

    def _physical(self) -> str:
        return f"{self.prefix}-{time.strftime('%Y%m%d%H%M%S')}-{time.monotonic_ns() % 1000:03d}"

    def pending(self) -> list[int]:
        return self.state.index_pending(self.tokenizer.version)

    def _documents(self, rowids: Sequence[int]) -> Iterator[tuple[int, str, dict[str, Any]]]:
        records = self.store.get_by_rowids(list(rowids))
        hashes = self.state.content_hashes(rowids)
        texts = [f"{r.title}\n{r.text}" if r.title else r.text for r in records]
        words = self.tokenizer.words_many(texts)
        vectors = self.embedder.embed(texts, "passage") if self.embedder is not None else None
        grades = credit_grades(self.store, [r.customer_key for r in records])
        groups = duplicate_groups(self.store)  # a repeat of a repeat belongs to the first original
        leads = {rowid: int(groups[rowid]) if rowid < len(groups) else rowid for rowid in rowids}
        lead_ids = self.state.record_ids(sorted(set(leads.values())))
        proposed = in_proposal(self.store, [r.id for r in records])
        for i, (rowid, record) in enumerate(zip(rowids, records, strict=True)):
            doc: dict[str, Any] = {
                "id": record.id,
                "source": record.source.value,
                "region": record.region,
                "channel": record.channel,
                "created_at": record.created_at.isoformat() if record.created_at else None,
                "content_hash": hashes[rowid],
                "needs_review": record.needs_review or None,
                "duplicate_of": record.duplicate_of,
                "group": lead_ids.get(leads[rowid], record.id),
                "credit_grade": grades.get(record.customer_key or ""),
                "in_proposal": "yes" if record.id in proposed else "no",
                "facets": {f: [lab.label for lab in labs] for f, labs in record.labels.items()},
                "tokens": " ".join(words[i]),
                "text": texts[i],
            }
            if vectors is not None:
                doc["vector"] = [float(x) for x in vectors[i]]
            yield rowid, hashes[rowid], doc

    def index(self, rowids: Sequence[int], *, target: str | None = None) -> int:
        """Bulk (re)index records; retried with backoff; ``es_state`` records what landed. Call inside
        the store's transaction (as for the embedded backend), so the state commits with the batch."""
        from elasticsearch.helpers import streaming_bulk

        if not rowids:
            return 0
        docs = list(self._documents(rowids))
        actions = ({"_index": target or self.alias, "_id": doc["id"], "_source": doc} for _, _, doc in docs)
        ok_ids, failures = set(), []
        for ok, item in streaming_bulk(
            self.client, actions, chunk_size=500, max_retries=5, initial_backoff=1, max_backoff=30, raise_on_error=False
        ):
            result = item.get("index", {})
            (ok_ids.add(result.get("_id")) if ok else failures.append(f"{result.get('_id')}: {result.get('error')}"))
        self.state.mark_indexed([(rowid, h, self.tokenizer.version) for rowid, h, doc in docs if doc["id"] in ok_ids])
        if failures:
            raise SearchError(ErrorCode.E305, backend="elasticsearch", reason=f"{len(failures)} documents failed: {failures[:3]}")
        return len(ok_ids)

    def refresh(self) -> None:
        self.client.indices.refresh(index=self.alias)

    def rebuild(self) -> int:
        """Fill a new physical index from the store, then swap the alias to it atomically."""
        new = self._physical()
        self.client.indices.create(index=new)
        old = list(self.client.indices.get_alias(name=self.alias)) if self.client.indices.exists_alias(name=self.alias) else []
        rowids = [rowid for rowid, _, _ in self.state.record_states()]
        done = 0
        for i in range(0, len(rowids), 2000):
            with self.store.transaction():
                done += self.index(rowids[i : i + 2000], target=new)
        actions = [{"remove": {"index": i, "alias": self.alias}} for i in old] + [{"add": {"index": new, "alias": self.alias}}]
        self.client.indices.update_aliases(actions=actions)
        for index in old:
            self.client.indices.delete(index=index)
        return done

    def check(self) -> dict[str, list[int]]:
        from elasticsearch.helpers import scan

        indexed = {h["_id"]: h["_source"]["content_hash"] for h in scan(self.client, index=self.alias, _source=["content_hash"])}
        rows = self.state.record_states()
        known = {rid for _, rid, _ in rows}
        return {
            "missing": [rowid for rowid, rid, _ in rows if rid not in indexed],
            "stale": [rowid for rowid, rid, h in rows if rid in indexed and indexed[rid] != h],
            "orphans": [hash(i) for i in indexed if i not in known],
        }

    def repair(self) -> dict[str, int]:
        found = self.check()
        with self.store.transaction():
            fixed = self.index(found["missing"] + found["stale"])
        return {"missing": len(found["missing"]), "stale": len(found["stale"]), "indexed": fixed}

    # -- querying -------------------------------------------------------------------------------

    def _terms(self, chunk: str) -> list[str]:
        words = self.tokenizer.words(chunk)
        return [w for w in words if w not in BUILTIN_STOPWORDS] or words

    def idf(self, words: Iterable[str]) -> IdfTable:
        terms = sorted({w for w in words if w})[:200]
        docs = int(self.client.count(index=self.alias)["count"])
        if not terms:
            return IdfTable(docs=docs, df={})
        searches: list[dict[str, Any]] = []
        for term in terms:
            searches += [{"index": self.alias}, {"size": 0, "track_total_hits": True, "query": {"term": {"tokens": term}}}]
        answers = self.client.msearch(searches=searches)["responses"]
        return IdfTable(docs=docs, df={t: int(a["hits"]["total"]["value"]) for t, a in zip(terms, answers, strict=True)})

    def search(self, request: SearchRequest) -> SearchResponse:
        if request.like:
            raise SearchError(ErrorCode.E305, backend="elasticsearch", reason="more-like-this runs on the embedded backend")
        known = {"needs_review", "escalation", "brand", "intent", "complaint_type", *DERIVED_FILTERS}
        parsed = parse_query(request.query, set(request.facets) | known)
        filters, must_not = filter_clauses(
            [*request.filters, *parsed.filters], since=request.since, until=request.until, exclude_ids=request.exclude_ids
        )
        excludes = [self.tokenizer.words(t) for t in parsed.excludes]
        offset = decode_cursor(request)
        size = max(0, min(request.limit, 1000))
        if offset + size > 10_000:
            raise SearchError(ErrorCode.E304)
        by_time = request.order != "relevance"
        relaxed = False
        positive, terms = text_query(parsed, self._terms, relaxed=False)
        body = search_body(
            positive, excludes, filters, must_not, facets=request.facets, size=size, offset=offset, by_time=by_time,
            collapse=request.collapse,
        )  # fmt: skip
        answer = self.client.search(index=self.alias, **body)
        if answer["hits"]["total"]["value"] == 0 and positive and len(terms) > 1:
            relaxed = True
            positive, terms = text_query(parsed, self._terms, relaxed=True)
            body = search_body(
                positive, excludes, filters, must_not, facets=request.facets, size=size, offset=offset, by_time=by_time,
                collapse=request.collapse,
            )  # fmt: skip
            answer = self.client.search(index=self.alias, **body)
        mode = request.mode or ("hybrid" if self.embedder is not None else "keyword")
        if mode != "keyword" and self.embedder is not None and not parsed.is_empty:
            return self._semantic_search(request, mode, positive, excludes, filters, must_not, terms, offset, size)
        ids = [h["_source"]["id"] for h in answer["hits"]["hits"]]
        scores = [float(h["_score"] or 0.0) for h in answer["hits"]["hits"]]
        facets = {f: {b["key"]: int(b["doc_count"]) for b in answer["aggregations"][f]["buckets"]} for f in request.facets}
        total = answer["hits"]["total"]["value"]
        duplicates = None
        if request.collapse:  # groups, not documents; facets still count every matching document
            total = int(answer["aggregations"]["groups"]["value"])
            duplicates = [int(h["inner_hits"]["duplicates"]["hits"]["total"]["value"]) - 1 for h in answer["hits"]["hits"]]
        return self._response(request, ids, scores, total, facets, terms, offset, relaxed, duplicates)

    def _semantic_search(
        self,
        request: SearchRequest,
        mode: str,
        positive: dict[str, Any] | None,
        excludes: list[list[str]],
        filters: list[dict[str, Any]],
        must_not: list[dict[str, Any]],
        terms: list[str],
        offset: int,
        size: int,
    ) -> SearchResponse:
        assert self.embedder is not None
        vector = [float(x) for x in self.embedder.embed([request.query], "query")[0]]
        knn_filter = {"bool": {"filter": filters, "must_not": must_not}}
        knn = {"field": "vector", "query_vector": vector, "k": WINDOW, "num_candidates": 2 * WINDOW, "filter": knn_filter}
        knn["similarity"] = self.min_similarity
        groups: dict[str, str] = {}
        found = self.client.search(index=self.alias, knn=knn, size=WINDOW, _source=["id", "group"])["hits"]["hits"]
        semantic = [h["_source"]["id"] for h in found]
        groups.update((h["_source"]["id"], h["_source"].get("group") or h["_source"]["id"]) for h in found)
        keyword: list[str] = []
        if positive and mode == "hybrid":
            body = search_body(positive, excludes, filters, must_not, facets=(), size=WINDOW, offset=0, by_time=False)
            body["_source"] = ["id", "group"]
            found = self.client.search(index=self.alias, **body)["hits"]["hits"]
            keyword = [h["_source"]["id"] for h in found]
            groups.update((h["_source"]["id"], h["_source"].get("group") or h["_source"]["id"]) for h in found)
        fused: dict[str, float] = {}
        for ranking in (keyword, semantic) if mode == "hybrid" else (semantic,):
            for rank, rid in enumerate(ranking, start=1):
                fused[rid] = fused.get(rid, 0.0) + 1.0 / (RRF_K + rank)
        ranked = sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))
        sizes: dict[str, int] = {}
        if request.collapse:  # the best-ranked record of each duplicate group stands for it
            first: dict[str, str] = {}
            for rid, _ in ranked:
                lead = first.setdefault(groups.get(rid, rid), rid)
                sizes[lead] = sizes.get(lead, 0) + 1
            ranked = [(rid, s) for rid, s in ranked if rid in sizes]
        page = ranked[offset : offset + size]
        aggs = {f: {"terms": {"field": f"facets.{f}" if f not in ("source", "region") else f, "size": 100}} for f in request.facets}
        counted = self.client.search(index=self.alias, size=0, query={"ids": {"values": [r for r, _ in ranked]}}, aggs=aggs)
        facets = {f: {b["key"]: int(b["doc_count"]) for b in counted["aggregations"][f]["buckets"]} for f in request.facets}
        duplicates = [sizes[r] - 1 for r, _ in page] if request.collapse else None
        return self._response(request, [r for r, _ in page], [s for _, s in page], len(ranked), facets, terms, offset, False, duplicates)

    def _response(
        self,
        request: SearchRequest,
        ids: list[str],
        scores: list[float],
        total: int,
        facets: dict[str, dict[str, int]],
        terms: list[str],
        offset: int,
        relaxed: bool,
        duplicates: list[int] | None = None,
    ) -> SearchResponse:
        known = self.store.lookup(ids)
        records = {r.id: r for r in self.store.get_by_rowids([known[i][0] for i in ids if i in known])}
        dups = duplicates if duplicates is not None else [0] * len(ids)
        hits = [
            Hit(record=records[i], score=round(s, 4), highlights=highlight_spans(records[i].text, terms), duplicates=d)
            for i, s, d in zip(ids, scores, dups, strict=True)
            if i in records
        ]
        next_offset = offset + len(ids)
        return SearchResponse(
            total=total,
            hits=hits,
            facets=facets,
            next_cursor=encode_cursor(request, next_offset) if next_offset < total else None,
            relaxed=relaxed,
        )
