"""Embedded search: SQLite FTS5 over pre-tokenised jieba text, in the store's own file.

The index shares the store's transactions, so store and index cannot drift. Queries are built
from our own tokens, each quoted, so no user string can reach FTS5's query syntax.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from nlp.embedders.base import Embedder, similarity_floor, text_key, unwrap
from nlp.keywords import IdfTable, tfidf
from nlp.stopwords import BUILTIN_STOPWORDS
from nlp.tokenizer import Tokenizer
from radar.errors import ErrorCode, SearchError
from radar.records import embedded_text
from search.backends.base import CREDIT_GRADE, DERIVED_FILTERS, IN_PROPOSAL, NO, YES, Hit, SearchRequest, SearchResponse
from search.backends.cursor import decode_cursor, encode_cursor
from search.collapse import collapse, duplicate_groups
from search.derived import has_table
from search.facet_index import FacetIndexCache
from search.keyword_index import SHARED as SHARED_KEYWORDS
from search.keyword_index import Chunk, KeywordIndex, KeywordIndexCache, KeywordQuery, fts_tokens, log_keyword_rowids
from search.query import ParsedQuery, parse_query
from search.result_cache import RankedResult, ResultCache
from search.store import Store
from search.stores import require_sqlite
from search.vector_index import SHARED, VectorIndex, VectorIndexCache, log_rowids, sync

__all__ = ["SQLiteSearchBackend"]

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5(tokens, grams, tokenize = 'unicode61 remove_diacritics 0');
CREATE TABLE IF NOT EXISTS search_state (
    rowid INTEGER PRIMARY KEY, content_hash TEXT NOT NULL, dict_version TEXT NOT NULL, vector_key TEXT
);
CREATE TEMP TABLE IF NOT EXISTS search_matches (rowid INTEGER PRIMARY KEY, score REAL NOT NULL, created_at TEXT);
"""
RRF_K = 60
SEMANTIC_DEPTH = 100  # semantic mode ranks the nearest this many records (above the similarity floor)
_RECORD_COLUMNS = {"source": "r.source", "region": "r.region"}


def _quote(token: str) -> str:
    return '"' + token.replace('"', '""') + '"'


class SQLiteSearchBackend:
    """Keyword (BM25), semantic (kNN over the vector side index: exact up to 50,000 vectors, HNSW
    above) and hybrid (RRF) search, with filters and facet counts over the embedded store.

    Semantic mode ranks the ``semantic_depth`` nearest records at or above ``min_similarity`` (an
    absolute floor, no window relative to the best match) and runs no full-text match; filters are a
    boolean mask over rowids (from the in-memory facet index when it holds every filtered facet).
    Hybrid fuses every keyword match with that semantic ranking; when few records hold every term,
    the best any-term (BM25) matches follow them so fusion has candidates. ``collapse`` folds near
    duplicates (``records.duplicate_of``) into their best-ranked member with a count."""

    name = "sqlite"

    def __init__(
        self,
        store: Store,
        tokenizer: Tokenizer,
        embedder: Embedder | None = None,
        *,
        min_similarity: float | None = None,
        facet_cache: FacetIndexCache | None = None,
        result_cache: ResultCache | None = None,
        vector_cache: VectorIndexCache | None = None,
        keyword_cache: KeywordIndexCache | None = None,
        semantic_depth: int = SEMANTIC_DEPTH,
    ) -> None:
        self.store = require_sqlite(store, "The embedded search index (SQLite FTS5)")  # its index lives in the SQLite file
        self.tokenizer = tokenizer
        self.embedder = embedder
        # None: the embedder's own scale (E5 0.87, the static encoder 0.5)
        self.min_similarity = min_similarity if min_similarity is not None else similarity_floor(embedder)
        self.facet_cache = facet_cache
        self.result_cache = result_cache
        self.vector_cache = vector_cache if vector_cache is not None else SHARED
        self.keyword_cache = keyword_cache if keyword_cache is not None else SHARED_KEYWORDS
        self.semantic_depth = semantic_depth
        self._migrate()
        store.conn.executescript(_SCHEMA)

    def _migrate(self) -> None:
        """An index from before the character-bigram column is dropped and rebuilt from the store."""
        columns = [r[1] for r in self.store.conn.execute("PRAGMA table_info(search_fts)")]
        if columns and "grams" not in columns:
            self.store.conn.execute("DROP TABLE search_fts")
            self.store.conn.execute("DROP TABLE IF EXISTS search_state")

    # -- indexing ---------------------------------------------------------------------------

    def index_text(self, title: str | None, text: str) -> str:
        return " ".join(self.tokenizer.words(f"{title}\n{text}" if title else text))

    def pending(self) -> list[int]:
        """Rowids whose text or dictionary changed since they were indexed, and, when the encoder is not
        the one the index was last built with, those without a vector from this encoder."""
        rows = self.store.conn.execute(
            "SELECT r.rowid FROM records r LEFT JOIN search_state s ON s.rowid = r.rowid "
            "WHERE s.rowid IS NULL OR s.content_hash != r.content_hash OR s.dict_version != ? ORDER BY r.rowid",
            (self.tokenizer.version,),
        ).fetchall()
        found = [int(r[0]) for r in rows]
        if self.store.get_meta("index_embedder") != self._encoder_name:  # the encoder changed (or semantic search came on)
            missing = self._without_vectors()  # a scan, once: afterwards this encoder embeds whatever is indexed
            if not missing:
                self.store.set_meta("index_embedder", self._encoder_name)
            found = sorted(set(found) | set(missing))
        return found

    @property
    def _encoder_name(self) -> str:
        return self.embedder.name if self.embedder is not None else ""

    def _without_vectors(self) -> list[int]:
        """Indexed records with no vector from this backend's encoder (none when semantic search is off)."""
        if self.embedder is None:
            return []
        rows = self.store.conn.execute(
            "SELECT s.rowid FROM search_state s WHERE s.vector_key IS NULL OR NOT EXISTS "
            "(SELECT 1 FROM embeddings e WHERE e.model = ? AND e.key = s.vector_key)",
            (self.embedder.name,),
        )
        return [int(r[0]) for r in rows]

    def index(self, rowids: Sequence[int]) -> int:
        """(Re)index the given records. Call inside the store's transaction for atomic batches."""
        conn = self.store.conn
        marks = ",".join("?" * len(rowids))
        rows = conn.execute(f"SELECT rowid, title, text, content_hash FROM records WHERE rowid IN ({marks})", list(rowids)).fetchall()
        keys = self._embed([embedded_text(r["title"], r["text"]) for r in rows])
        conn.executemany("DELETE FROM search_fts WHERE rowid = ?", [(r["rowid"],) for r in rows])
        words = self.tokenizer.words_many(f"{r['title']}\n{r['text']}" if r["title"] else r["text"] for r in rows)
        conn.executemany(
            "INSERT INTO search_fts(rowid, tokens, grams) VALUES (?, ?, ?)",
            [(r["rowid"], " ".join(w), bigrams(f"{r['title'] or ''}\n{r['text']}")) for r, w in zip(rows, words, strict=True)],
        )
        conn.executemany(
            "INSERT OR REPLACE INTO search_state(rowid, content_hash, dict_version, vector_key) VALUES (?, ?, ?, ?)",
            [(r["rowid"], r["content_hash"], self.tokenizer.version, key) for r, key in zip(rows, keys, strict=True)],
        )
        log_rowids(self.store, [int(r["rowid"]) for r in rows])  # the vector side files pick these up
        log_keyword_rowids(self.store, [int(r["rowid"]) for r in rows])  # and the keyword side files
        self.store.set_meta("index_dictionary_version", self.tokenizer.version)
        return len(rows)

    def check(self) -> dict[str, list[int]]:
        """Differences between store and index: records never indexed, stale ones, index rows with no record."""
        conn = self.store.conn
        missing = [
            r[0] for r in conn.execute("SELECT r.rowid FROM records r LEFT JOIN search_state s ON s.rowid = r.rowid WHERE s.rowid IS NULL")
        ]
        stale = [
            r[0]
            for r in conn.execute(
                "SELECT r.rowid FROM records r JOIN search_state s ON s.rowid = r.rowid "
                "WHERE s.content_hash != r.content_hash OR s.dict_version != ?",
                (self.tokenizer.version,),
            )
        ]
        if self.embedder is not None:  # semantic search is on: a record without this encoder's vector is stale too
            stale = sorted(set(stale) | set(self._without_vectors()))
        orphans = [r[0] for r in conn.execute("SELECT rowid FROM search_fts WHERE rowid NOT IN (SELECT rowid FROM records)")]
        orphans += [r[0] for r in conn.execute("SELECT rowid FROM search_state WHERE rowid NOT IN (SELECT rowid FROM records)")]
        return {"missing": missing, "stale": stale, "orphans": sorted(set(orphans))}

    def repair(self) -> dict[str, int]:
        """Make the index match the store. Call outside a transaction."""
        found = self.check()
        with self.store.transaction():
            self.store.conn.executemany("DELETE FROM search_fts WHERE rowid = ?", [(i,) for i in found["orphans"]])
            self.store.conn.executemany("DELETE FROM search_state WHERE rowid = ?", [(i,) for i in found["orphans"]])
            log_rowids(self.store, found["orphans"])
            log_keyword_rowids(self.store, found["orphans"])
            todo = found["missing"] + found["stale"]
            for i in range(0, len(todo), 1000):
                self.index(todo[i : i + 1000])
        return {k: len(v) for k, v in found.items()}

    def rebuild(self) -> int:
        """Drop the index and build it again from the store (embeddings come from the cache)."""
        with self.store.transaction():
            self.store.conn.execute("DELETE FROM search_fts")
            self.store.conn.execute("DELETE FROM search_state")
        done = self.repair()["missing"]
        self.keyword_cache.drop(self.store, rebuild=True)  # the keyword side files from scratch too
        if self.embedder is not None:  # the vector side files (and HNSW graph) from scratch
            self.vector_cache.drop(self.store)
            sync(self.store, self.embedder.name, rebuild=True)
        return done

    def sync_vectors(self) -> None:
        """Bring the vector and keyword side files up to date now (after indexing), not at the first search."""
        if self.embedder is not None:
            self.vector_cache.get(self.store, self.embedder.name)
        self.keyword_cache.get(self.store)

    def _embed(self, texts: list[str]) -> list[str | None]:
        """Embed (through the store's cache) and return each text's vector key."""
        if self.embedder is None or not texts:
            return [None] * len(texts)
        self.embedder.embed(texts, "passage")
        return [text_key(t, "passage") for t in texts]

    def _vectors(self) -> VectorIndex:
        """Every embedded record's vector, from the per-process cache (reloaded when ``vector_seq`` moves)."""
        assert self.embedder is not None
        return self.vector_cache.get(self.store, self.embedder.name)

    def _semantic(self, query: str, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """(rowids, similarities) of the ``semantic_depth`` nearest allowed records at or above ``min_similarity``.

        ``query``: the parsed query's text (no exclusions, filters or syntax); ``allowed`` is a boolean
        mask by rowid, None for every record."""
        if self.embedder is None or not query.strip():
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        vectors = self._vectors()
        if not vectors.size:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        found = vectors.search(self.embedder.embed([query], "query")[0], self.semantic_depth, allowed=allowed, floor=self.min_similarity)
        return self._lexical_rerank(query, *found)

    def _embedded_texts(self, rowids: np.ndarray) -> list[str]:
        """The texts ``index`` embedded for these records, in order."""
        marks = ",".join("?" * len(rowids))
        rows = self.store.conn.execute(f"SELECT rowid, title, text FROM records WHERE rowid IN ({marks})", rowids.tolist())
        by_id = {int(r[0]): embedded_text(r[1], r[2]) for r in rows}
        return [by_id.get(int(i), "") for i in rowids]

    def _lexical_rerank(self, query: str, rowids: np.ndarray, sims: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """An encoder with a sparse lexical channel (the static one) orders its dense hits by the fused score,
        dense cosine + lambda x sparse cosine: the dense vector finds the neighbourhood, the shared rare
        words order it (FAQ-like queries, which the dense vector alone ranks poorly). The set stays the
        dense one at or above the floor; only the order and the scores change."""
        model = unwrap(self.embedder) if self.embedder is not None else None
        if not len(rowids) or not getattr(model, "has_sparse", False):
            return rowids, sims
        assert model is not None
        sparse_q = model.embed_sparse([query], "query")  # type: ignore[attr-defined]
        sparse_d = model.embed_sparse(self._embedded_texts(rowids), "passage")  # type: ignore[attr-defined]
        fused = sims + model.lexical_weight * (sparse_d @ sparse_q.T).toarray().ravel()  # type: ignore[attr-defined]
        order = np.argsort(-fused, kind="stable")
        return rowids[order], fused[order].astype(np.float32)

    @staticmethod
    def _fused(rankings: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Reciprocal rank fusion (k=60) over the full rankings: every result stays reachable."""
        parts = [r for r in rankings if len(r)]
        if not parts:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        ids = np.concatenate(parts)
        contrib = np.concatenate([1.0 / (RRF_K + np.arange(1, len(r) + 1, dtype=np.float64)) for r in parts])
        unique, inverse = np.unique(ids, return_inverse=True)
        scores = np.bincount(inverse, weights=contrib)
        order = np.lexsort((unique, -scores))
        return unique[order], scores[order]

    def _materialise(self, matched: str, params: list[Any]) -> int:
        """Run the match once into the connection's temporary table; count, page and facets read it."""
        conn = self.store.conn
        conn.execute("DELETE FROM search_matches")
        conn.execute(f"INSERT INTO search_matches(rowid, score, created_at) SELECT rowid, score, created_at FROM ({matched})", params)
        return int(conn.execute("SELECT COUNT(*) FROM search_matches").fetchone()[0])

    def _materialise_ranked(self, ranked: Iterable[tuple[Any, Any]]) -> int:
        conn = self.store.conn
        conn.execute("DELETE FROM search_matches")
        conn.executemany("INSERT INTO search_matches(rowid, score) VALUES (?, ?)", ((int(r), float(v)) for r, v in ranked))
        conn.execute("UPDATE search_matches SET created_at = (SELECT created_at FROM records r WHERE r.rowid = search_matches.rowid)")
        return int(conn.execute("SELECT COUNT(*) FROM search_matches").fetchone()[0])

    # -- querying ---------------------------------------------------------------------------

    def _terms(self, chunk: str) -> list[str]:
        words = self.tokenizer.words(chunk)
        content = [w for w in words if w not in BUILTIN_STOPWORDS]
        return content or words

    def _match_expression(self, parsed: ParsedQuery, relaxed: bool) -> tuple[str | None, list[str]]:
        """FTS5 expression for the positive part, and every term (for highlighting)."""
        highlight: list[str] = []
        alts = []
        for alt in parsed.alternatives:
            chunks = []
            for chunk in alt:
                tokens = list(dict.fromkeys(self._terms(chunk)))
                highlight.extend(tokens)
                if tokens:
                    chunks.append(self._chunk_expression(chunk, tokens, relaxed))
            if chunks:
                alts.append("(" + (" OR " if relaxed else " AND ").join(chunks) + ")")
        parts = []
        if alts:
            parts.append("(" + " OR ".join(alts) + ")")
        for phrase in parsed.phrases:
            tokens = self.tokenizer.words(phrase)
            if tokens:
                highlight.append(phrase)
                parts.append(_quote(" ".join(tokens)))
        return (" AND ".join(parts) if parts else None), highlight

    @staticmethod
    def _chunk_expression(chunk: str, tokens: list[str], relaxed: bool) -> str:
        """The chunk's tokens, or its characters in a row: recall when jieba cut the text differently."""
        words = "(" + (" OR " if relaxed else " AND ").join("tokens : " + _quote(t) for t in tokens) + ")"
        grams = bigrams(chunk)
        return f"({words} OR grams : {_quote(grams)})" if grams and len(grams) <= 200 else words

    def _exclude_expression(self, parsed: ParsedQuery) -> str | None:
        groups = []
        for text in parsed.excludes:
            tokens = self.tokenizer.words(text)
            if tokens:
                groups.append(_quote(" ".join(tokens)))
        return " OR ".join(groups) if groups else None

    def _filter_sql(self, request: SearchRequest, filters: list[tuple[str, str]]) -> tuple[str, list[Any]]:
        clauses, params = [], []
        by_facet: dict[str, list[str]] = {}
        for facet, value in filters:
            by_facet.setdefault(facet, []).append(value)
        for facet, values in by_facet.items():
            marks = ",".join("?" * len(values))
            if facet in _RECORD_COLUMNS:
                clauses.append(f"{_RECORD_COLUMNS[facet]} IN ({marks})")
                params.extend(values)
            elif facet == "needs_review":
                clauses.append("r.rowid IN (SELECT record_rowid FROM needs_review)")
            elif facet == CREDIT_GRADE:
                if self._has_table("credit_grades"):  # no grading run yet: no record has a grade
                    clauses.append(f"r.customer_key IN (SELECT customer_key FROM credit_grades WHERE grade IN ({marks}))")
                    params.extend(values)
                else:
                    clauses.append("0")
            elif facet == IN_PROPOSAL:
                wanted = {v.strip().lower() in YES for v in values if v.strip().lower() in YES | NO}
                members = (
                    "SELECT m.record_id FROM demand_members m JOIN proposals p ON p.cluster_id = m.cluster_id"
                    if self._has_table("demand_members") and self._has_table("proposals")
                    else "SELECT NULL WHERE 0"
                )
                if wanted == {True}:
                    clauses.append(f"r.id IN ({members})")
                elif wanted == {False}:
                    clauses.append(f"r.id NOT IN ({members})")
                elif not wanted:  # neither yes nor no: nothing matches
                    clauses.append("0")
            else:  # values of one facet are alternatives, different facets must all hold
                clauses.append(f"r.rowid IN (SELECT record_rowid FROM labels WHERE facet = ? AND label IN ({marks}))")
                params.extend([facet, *values])
        if request.exclude_ids:
            clauses.append(f"r.id NOT IN ({','.join('?' * len(request.exclude_ids))})")
            params.extend(request.exclude_ids)
        if request.since:
            clauses.append("r.created_at >= ?")
            params.append(request.since.isoformat(timespec="seconds"))
        if request.until:
            clauses.append("r.created_at < ?")
            params.append(request.until.isoformat(timespec="seconds"))
        return (" AND ".join(clauses) or "1"), params

    def _has_table(self, name: str) -> bool:
        return has_table(self.store, name)

    def _matched_sql(
        self, match: str | None, exclude: str | None, where: str, params: list[Any], *, by_time: bool = False
    ) -> tuple[str, list[Any]]:
        """A SELECT of (rowid, score, created_at) for every matching record."""
        all_params: list[Any] = []
        if match and not by_time and "r." not in where.replace("r.rowid", ""):
            # nothing needs the records table: reading its rows (long JSON bodies) for every match
            # cost as much as the match itself on broad queries
            sql = "SELECT f.rowid AS rowid, -f.rank AS score, NULL AS created_at FROM search_fts f WHERE search_fts MATCH ?"
            all_params.append(match)
            # unary + hides the rowid from FTS5's planner: given "rowid IN (labels)", it would run the
            # MATCH once per labelled record instead of once per query (seconds at 100k)
            where = where.replace("r.rowid", "+f.rowid")
            rowid = "f.rowid"
        elif match:
            # CROSS JOIN keeps the full-text index as the outer loop: with a plain JOIN and a filter on a
            # records column, SQLite may scan records and run the MATCH once per record (seconds at 100k)
            sql = (
                "SELECT r.rowid AS rowid, -f.rank AS score, r.created_at AS created_at FROM search_fts f "
                "CROSS JOIN records r ON r.rowid = f.rowid WHERE search_fts MATCH ?"
            )
            all_params.append(match)
            rowid = "r.rowid"
        else:
            sql = "SELECT r.rowid AS rowid, 0.0 AS score, r.created_at AS created_at FROM records r WHERE 1"
            rowid = "r.rowid"
        sql += f" AND {where}"
        all_params.extend(params)
        if exclude:
            sql += f" AND {rowid} NOT IN (SELECT rowid FROM search_fts WHERE search_fts MATCH ?)"
            all_params.append(exclude)
        return sql, all_params

    def idf(self, words: Iterable[str]) -> IdfTable:
        """Document frequencies of ``words`` in the indexed corpus, read from FTS5's own vocabulary
        (``fts5vocab``): always current, nothing extra to store or refresh."""
        conn = self.store.conn
        conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.search_vocab USING fts5vocab(main, search_fts, col)")
        terms = sorted({w for w in words if w})
        df: dict[str, int] = {}
        for i in range(0, len(terms), 500):
            chunk = terms[i : i + 500]
            marks = ",".join("?" * len(chunk))
            rows = conn.execute(f"SELECT term, doc FROM temp.search_vocab WHERE col = 'tokens' AND term IN ({marks})", chunk)
            df.update((r[0], r[1]) for r in rows)
        docs = conn.execute("SELECT COUNT(*) FROM search_state").fetchone()[0]
        return IdfTable(docs=docs, df=df)

    def _like(self, request: SearchRequest) -> SearchRequest:
        """More like this: the record's own words become the query, and the record is excluded."""
        record = self.store.get(request.like or "")
        if record is None:
            raise SearchError(ErrorCode.E306, record_id=request.like)
        words = self.tokenizer.words(record.customer_text())
        # the record's most distinctive words against this corpus, not simply its first ones
        query = " OR ".join(w for w, _ in tfidf(words, self.idf(words), top=16)) if self.embedder is None else record.customer_text()[:200]
        mode = request.mode or ("semantic" if self.embedder else "keyword")
        return replace(request, query=query, like=None, mode=mode, exclude_ids=[*request.exclude_ids, record.id])

    def search(self, request: SearchRequest) -> SearchResponse:
        if request.like:
            return self.search(self._like(request))
        facet_names = set(request.facets) | {"needs_review", "escalation", "brand", "intent", "complaint_type", *DERIVED_FILTERS}
        parsed = parse_query(request.query, facet_names)
        where, params = self._filter_sql(request, list(request.filters) + parsed.filters)
        offset = decode_cursor(request)
        mode = request.mode or ("hybrid" if self.embedder is not None else "keyword")
        semantic = mode != "keyword" and self.embedder is not None and not parsed.is_empty
        # grades and proposals change without moving the search epoch: those filters are never cached
        derived = any(f in DERIVED_FILTERS for f, _ in [*request.filters, *parsed.filters])
        key = None if semantic or derived or self.result_cache is None else self._cache_key(parsed, where, params, request)
        result = self.result_cache.get(key) if self.result_cache is not None and key is not None else None
        if result is None:
            result = self._rank(parsed, where, params, request, mode if semantic else "keyword")
            if self.result_cache is not None and key is not None:
                self.result_cache.put(key, result)
        limit = max(0, min(request.limit, 1000))
        page_ids, page_scores = result.rowids[offset : offset + limit], result.scores[offset : offset + limit]
        records = self.store.get_by_rowids([int(r) for r in page_ids])
        sizes = result.group_sizes[offset : offset + limit] if result.group_sizes is not None else np.ones(len(page_ids), dtype=np.int64)
        hits = [
            Hit(record=rec, score=round(float(score), 4), highlights=highlight_spans(rec.text, result.terms), duplicates=int(size) - 1)
            for rec, score, size in zip(records, page_scores, sizes, strict=True)
        ]
        next_offset = offset + len(hits)
        return SearchResponse(
            total=result.total,
            hits=hits,
            facets=result.facets,
            next_cursor=encode_cursor(request, next_offset) if next_offset < result.total else None,
            relaxed=result.relaxed,
        )

    def _cache_key(self, parsed: ParsedQuery, where: str, params: list[Any], request: SearchRequest) -> tuple[Any, ...]:
        query = (tuple(map(tuple, parsed.alternatives)), tuple(parsed.phrases), tuple(parsed.excludes))
        return (
            str(self.store.path),
            self.store.search_epoch(),
            self.tokenizer.version,
            query,
            where,
            tuple(params),
            request.order,
            tuple(request.facets),
            request.collapse,
        )

    def _rank(self, parsed: ParsedQuery, where: str, params: list[Any], request: SearchRequest, mode: str) -> RankedResult:
        """Every match in order, with facet counts. Keyword: the match runs once, into the temporary
        table. Semantic: no full-text match at all, the filter is a mask over the vectors. Hybrid: both,
        fused with RRF in numpy."""
        exclude = self._exclude_expression(parsed)
        by_time = request.order != "relevance"
        relaxed = False
        match, terms = self._match_expression(parsed, relaxed=False)
        if mode == "semantic":
            sem_ids, sem_scores = self._semantic(parsed.text, self._allowed(exclude, where, params, request, parsed))
            return self._result(sem_ids, sem_scores.astype(np.float64), request, relaxed, terms)
        usable, mask = self._facet_mask(request, parsed)
        if mode == "hybrid" and match and not by_time and usable:
            return self._hybrid_in_memory(parsed, request, match, terms, exclude, mask)
        if mode == "keyword" and match and not by_time and usable and self._keywords() is not None:
            found = self._keyword_mode_in_memory(parsed, request, match, terms, exclude, mask)
            if found is not None:
                return found
        total = self._materialise(*self._matched_sql(match, exclude, where, params, by_time=by_time))
        if total == 0 and match and len(terms) > 1:
            relaxed = True
            match, terms = self._match_expression(parsed, relaxed=True)
            total = self._materialise(*self._matched_sql(match, exclude, where, params, by_time=by_time))
        if mode == "keyword":
            order = "score DESC, rowid" if not by_time and match else "created_at DESC, rowid"
            rows = self.store.conn.execute(f"SELECT rowid, score FROM search_matches ORDER BY {order}").fetchall()
            rowids = np.array([r[0] for r in rows], dtype=np.int64)
            scores = np.array([r[1] for r in rows], dtype=np.float64)
            return self._result(rowids, scores, request, relaxed, terms, time_ordered=True, materialised=True)
        keyword = (
            np.array([r[0] for r in self.store.conn.execute("SELECT rowid FROM search_matches ORDER BY score DESC, rowid")], dtype=np.int64)
            if match
            else np.zeros(0, dtype=np.int64)
        )
        if match and not relaxed and len(keyword) < self.semantic_depth and len(terms) > 1:
            # few records hold every term: the best any-term matches (BM25) follow them, so fusion has candidates
            any_match, _ = self._match_expression(parsed, relaxed=True)
            sql, sparams = self._matched_sql(any_match, exclude, where, params)
            top = f"SELECT rowid FROM ({sql}) ORDER BY score DESC, rowid LIMIT ?"
            extra = [r[0] for r in self.store.conn.execute(top, [*sparams, self.semantic_depth])]
            more = np.array(extra, dtype=np.int64)
            keyword = np.concatenate([keyword, more[~np.isin(more, keyword)]])
        sem_ids, _ = self._semantic(parsed.text, self._allowed(exclude, where, params, request, parsed))
        rowids, scores = self._fused([keyword, sem_ids])
        return self._result(rowids, scores, request, relaxed, terms)

    def _facet_mask(self, request: SearchRequest, parsed: ParsedQuery) -> tuple[bool, np.ndarray | None]:
        """(usable, mask): the filters as a mask from the in-memory facet index (None: no filter), when
        it holds every filtered facet and there is no time range or excluded id."""
        filters = [*request.filters, *parsed.filters]
        if request.exclude_ids or request.since or request.until or self.facet_cache is None:
            return False, None
        if not filters:
            return True, None
        index = self.facet_cache.get(self.store)
        if not all(index.covers(f) for f, _ in filters):
            return False, None
        return True, index.mask(filters)

    def _keyword_query(self, parsed: ParsedQuery, relaxed: bool) -> KeywordQuery | None:
        """The query for the numpy keyword index, built as ``_match_expression`` builds FTS5's; None when
        it needs exact adjacency (a quoted phrase, an exclusion of several tokens): FTS5 answers those."""
        if parsed.phrases:
            return None
        excludes = []
        for text in parsed.excludes:
            pieces = [p for w in self.tokenizer.words(text) for p in fts_tokens(w)]
            if len(pieces) > 1:
                return None
            excludes += pieces
        alternatives = []
        for alt in parsed.alternatives:
            chunks = []
            for chunk in alt:
                tokens = list(dict.fromkeys(self._terms(chunk)))
                words = [pieces for pieces in map(fts_tokens, tokens) if pieces]
                if words:
                    grams = bigrams(chunk)
                    chunks.append(Chunk(words, list(dict.fromkeys(fts_tokens(grams))) if grams and len(grams) <= 200 else []))
            if chunks:
                alternatives.append(chunks)
        return KeywordQuery(alternatives, relaxed, excludes) if alternatives else None

    def _keywords(self) -> KeywordIndex | None:
        """The numpy keyword index (large stores only; None: FTS5 answers alone)."""
        return self.keyword_cache.get(self.store)

    def _ranked_keywords(
        self, parsed: ParsedQuery, relaxed: bool, match: str, exclude: str | None, mask: np.ndarray | None, top: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Every keyword match (rowids, bm25 scores) best first, within the mask (only the best ``top`` when
        given): from the numpy index when there is one and it can answer the query, else from FTS5."""
        index = self._keywords()
        query = self._keyword_query(parsed, relaxed) if index is not None else None
        if index is None or query is None:
            ids, scores = self._keyword_in_memory(match, exclude, mask)
            return (ids[:top], scores[:top]) if top is not None else (ids, scores)
        ids, scores = index.evaluate(query, mask)
        if top is not None and len(ids) > top:  # a partial sort: the fallback needs only the head
            head = np.argpartition(-scores, top - 1)[:top]
            ids, scores = ids[head], scores[head]
        order = np.lexsort((ids, -scores))
        return ids[order], scores[order]

    def _keyword_in_memory(self, match: str, exclude: str | None, mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Every full-text match (rowids, BM25 scores) best first, filtered by the mask in numpy: no join
        with the records table, no temporary table."""
        sql, params = "SELECT rowid, -rank FROM search_fts WHERE search_fts MATCH ?", [match]
        if exclude:
            sql += " AND rowid NOT IN (SELECT rowid FROM search_fts WHERE search_fts MATCH ?)"
            params.append(exclude)
        flat = itertools.chain.from_iterable(self.store.conn.execute(sql, params))
        rows = np.fromiter(flat, dtype=np.float64).reshape(-1, 2)
        ids, scores = rows[:, 0].astype(np.int64), rows[:, 1]
        if mask is not None:
            keep = ids < len(mask)
            ids, scores = ids[keep], scores[keep]
            keep = mask[ids]
            ids, scores = ids[keep], scores[keep]
        order = np.lexsort((ids, -scores))
        return ids[order], scores[order]

    def _hybrid_in_memory(
        self, parsed: ParsedQuery, request: SearchRequest, match: str, terms: list[str], exclude: str | None, mask: np.ndarray | None
    ) -> RankedResult:
        """Hybrid with filters the facet index answers: keyword ranking and fusion in numpy."""
        relaxed = False
        keyword, _ = self._ranked_keywords(parsed, False, match, exclude, mask)
        if len(terms) > 1 and len(keyword) < self.semantic_depth:
            any_match, any_terms = self._match_expression(parsed, relaxed=True)
            if any_match and not len(keyword):  # no record holds every term: any-term matching, as in keyword mode
                relaxed, terms = True, any_terms
                keyword, _ = self._ranked_keywords(parsed, True, any_match, exclude, mask)
            elif any_match:  # few do: the best any-term matches follow them, so fusion has candidates
                more, _ = self._ranked_keywords(parsed, True, any_match, exclude, mask, top=len(keyword) + self.semantic_depth)
                more = more[~np.isin(more, keyword)][: self.semantic_depth]
                keyword = np.concatenate([keyword, more])
        sem_ids, _ = self._semantic(parsed.text, mask)
        rowids, scores = self._fused([keyword, sem_ids])
        return self._result(rowids, scores, request, relaxed, terms)

    def _keyword_mode_in_memory(
        self, parsed: ParsedQuery, request: SearchRequest, match: str, terms: list[str], exclude: str | None, mask: np.ndarray | None
    ) -> RankedResult | None:
        """Keyword mode from the numpy index (None when the query needs FTS5): every term, else any term."""
        if self._keyword_query(parsed, False) is None:
            return None
        relaxed = False
        rowids, scores = self._ranked_keywords(parsed, False, match, exclude, mask)
        if not len(rowids) and len(terms) > 1:
            any_match, any_terms = self._match_expression(parsed, relaxed=True)
            if any_match:
                relaxed, terms = True, any_terms
                rowids, scores = self._ranked_keywords(parsed, True, any_match, exclude, mask)
        return self._result(rowids, scores, request, relaxed, terms)

    def _allowed(
        self, exclude: str | None, where: str, params: list[Any], request: SearchRequest, parsed: ParsedQuery
    ) -> np.ndarray | None:
        """The filter as a boolean mask by rowid (None: no filter, every record): from the in-memory facet
        index when it holds every filtered facet, else from SQL."""
        if where == "1" and not exclude:
            return None
        filters = [*request.filters, *parsed.filters]
        simple = not (exclude or request.exclude_ids or request.since or request.until)
        if simple and self.facet_cache is not None and filters:
            index = self.facet_cache.get(self.store)
            if all(index.covers(f) for f, _ in filters):
                return index.mask(filters)
        base, bparams = self._matched_sql(None, exclude, where, params)
        ids = np.fromiter((r[0] for r in self.store.conn.execute(f"SELECT rowid FROM ({base})", bparams)), dtype=np.int64)
        mask = np.zeros(int(ids.max()) + 1 if len(ids) else 0, dtype=bool)
        mask[ids] = True
        return mask

    def _result(
        self,
        rowids: np.ndarray,
        scores: np.ndarray,
        request: SearchRequest,
        relaxed: bool,
        terms: Sequence[str],
        *,
        time_ordered: bool = False,
        materialised: bool = False,
    ) -> RankedResult:
        """Ordered (by time when asked), collapsed (when asked), with facet counts over exactly what is returned."""
        if request.order != "relevance" and not time_ordered:
            self._materialise_ranked(zip(rowids, scores, strict=True))
            rows = self.store.conn.execute("SELECT rowid, score FROM search_matches ORDER BY created_at DESC, rowid").fetchall()
            rowids = np.array([r[0] for r in rows], dtype=np.int64)
            scores = np.array([r[1] for r in rows], dtype=np.float64)
            materialised = True
        sizes = None
        if request.collapse and len(rowids):
            rowids, scores, sizes = collapse(rowids, scores, duplicate_groups(self.store))
            materialised = False
        if self.facet_cache is None and request.facets and not materialised:
            self._materialise_ranked(zip(rowids, scores, strict=True))
        return RankedResult(rowids, scores, len(rowids), relaxed, tuple(terms), self._facets(request.facets, rowids), sizes)

    def _facets(self, facets: Sequence[str], rowids: np.ndarray) -> dict[str, dict[str, int]]:
        """Counts over exactly the matched set (the temporary table): from the in-memory facet index
        when there is one, else in SQL driven from the matches (each reads its own few labels)."""
        if self.facet_cache is not None:
            return self.facet_cache.get(self.store).counts(rowids, facets)
        out: dict[str, dict[str, int]] = {f: {} for f in facets}
        conn = self.store.conn
        label_facets = [f for f in facets if f not in _RECORD_COLUMNS]
        if label_facets:
            marks = ",".join("?" * len(label_facets))
            for r in conn.execute(
                f"SELECT l.facet AS facet, l.label AS label, COUNT(*) AS n FROM search_matches h CROSS JOIN labels l "
                f"ON l.record_rowid = h.rowid WHERE l.facet IN ({marks}) GROUP BY l.facet, l.label ORDER BY l.facet, n DESC, l.label",
                label_facets,
            ):
                out[r["facet"]][r["label"]] = int(r["n"])
        for facet in facets:
            if facet in _RECORD_COLUMNS:
                col = _RECORD_COLUMNS[facet].split(".")[1]
                for r in conn.execute(
                    f"SELECT r.{col} AS v, COUNT(*) AS n FROM search_matches h CROSS JOIN records r ON r.rowid = h.rowid "
                    f"WHERE r.{col} IS NOT NULL GROUP BY r.{col} ORDER BY n DESC, v"
                ):
                    out[facet][str(r["v"])] = int(r["n"])
        return out


_CJK_OR_WORD = re.compile(r"[\u4e00-\u9fff]|[A-Za-z0-9]+")


def bigrams(text: str) -> str:
    """Overlapping character bigrams of the CJK and alphanumeric runs, lower-cased, space-joined.

    Indexed beside the jieba tokens; a query chunk's bigrams as an FTS5 phrase match the chunk as a
    contiguous string, whatever jieba made of it (网速慢 inside 家里网速慢).
    """
    units = [m.group().lower() for m in _CJK_OR_WORD.finditer(text)]
    if len(units) == 1:
        return units[0]
    return " ".join(units[i] + units[i + 1] for i in range(len(units) - 1))


def highlight_spans(text: str, terms: Sequence[str]) -> list[tuple[int, int]]:
    """Character spans of every term in ``text`` (case-insensitive), merged where they overlap."""
    lowered = text.lower()
    spans: list[tuple[int, int]] = []
    for term in {t.lower() for t in terms if t and not t.startswith("<")}:
        start = lowered.find(term)
        while start != -1:
            spans.append((start, start + len(term)))
            start = lowered.find(term, start + len(term))
    merged: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
        else:
            merged.append((s, e))
    return merged
