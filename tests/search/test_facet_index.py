"""The in-memory facet index counts exactly what SQL counts, and follows every write."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from api.pipeline import Components, label_store
from search.backends.base import SearchRequest
from search.backends.sqlite import SQLiteSearchBackend
from search.facet_index import FacetIndexCache
from search.store import Store

QUERIES = [("", []), ("流量", []), ("宽带", [("source", "tickets")]), ("", [("intent", "投诉")]), ("没有这个词的查询", []), ("5G 信号", [])]


def _pair(store: Store, components: Components) -> tuple[SQLiteSearchBackend, SQLiteSearchBackend]:
    in_sql = SQLiteSearchBackend(store, components.tokenizer)
    in_memory = SQLiteSearchBackend(store, components.tokenizer, facet_cache=FacetIndexCache())
    return in_sql, in_memory


def test_counts_equal_the_sql_counts(demo_store: Store, components: Components) -> None:
    in_sql, in_memory = _pair(demo_store, components)
    for query, filters in QUERIES:
        request = SearchRequest(query=query, filters=list(filters), limit=5)
        expected, got = in_sql.search(request), in_memory.search(request)
        assert got.facets == expected.facets, query
        assert got.total == expected.total and [h.record.id for h in got.hits] == [h.record.id for h in expected.hits]
    assert any(in_sql.search(SearchRequest(query=q, filters=list(f))).facets["intent"] for q, f in QUERIES)  # not all empty


def test_a_relabel_moves_the_epoch_and_the_counts_follow(tmp_path: Path, demo_store_path: Path, components: Components) -> None:
    db = tmp_path / "radar.db"
    shutil.copy(demo_store_path, db)
    with Store.open(db) as store:
        cache = FacetIndexCache()
        in_memory = SQLiteSearchBackend(store, components.tokenizer, facet_cache=cache)
        before_epoch = store.search_epoch()
        before = in_memory.search(SearchRequest(query="", limit=1)).facets["intent"]
        rowid = store.conn.execute("SELECT record_rowid FROM labels WHERE facet = 'intent' LIMIT 1").fetchone()[0]
        with store.transaction():
            store.write_labels(rowid, {}, [], "t")  # the record loses all its labels
        assert store.search_epoch() != before_epoch
        after = in_memory.search(SearchRequest(query="", limit=1)).facets["intent"]
        assert sum(after.values()) == sum(before.values()) - 1
        label_store(store, components, mode="changed", entities=False)  # nothing changed: the epoch stays
        epoch = store.search_epoch()
        label_store(store, components, mode="changed", entities=False)
        assert store.search_epoch() == epoch


def test_result_cache_answers_repeats_and_forgets_on_write(tmp_path: Path, demo_store_path: Path, components: Components) -> None:
    from search.result_cache import ResultCache

    db = tmp_path / "radar.db"
    shutil.copy(demo_store_path, db)
    with Store.open(db) as store:
        cache = ResultCache()
        cached = SQLiteSearchBackend(store, components.tokenizer, facet_cache=FacetIndexCache(), result_cache=cache)
        plain = SQLiteSearchBackend(store, components.tokenizer)
        request = SearchRequest(query="流量", limit=3)
        first, again = cached.search(request), cached.search(request)
        assert cache.hits == 1 and [h.record.id for h in again.hits] == [h.record.id for h in plain.search(request).hits]
        assert again.facets == first.facets == plain.search(request).facets
        page2 = cached.search(SearchRequest(query="流量", limit=3, cursor=first.next_cursor))
        assert cache.hits == 2 and not {h.record.id for h in page2.hits} & {h.record.id for h in first.hits}
        rowid = store.rowid(first.hits[0].record.id)
        with store.transaction():
            store.write_labels(rowid, {}, [], "t")
        after = cached.search(request)
        assert cache.misses == 2 and after.facets == plain.search(request).facets != first.facets


def test_filter_masks_equal_sql_filters(demo_store: Store) -> None:
    from search.facet_index import FacetIndex

    index = FacetIndex.build(demo_store)
    cases = [
        [("source", "tickets")],
        [("intent", "投诉"), ("source", "tickets"), ("source", "calls")],
        [("sentiment", "负面"), ("intent", "咨询")],
        [("intent", "no such label")],
    ]
    for filters in cases:
        mask = index.mask(filters)
        expected = {int(r[0]) for r in demo_store.conn.execute("SELECT rowid FROM records")}
        by: dict[str, list[str]] = {}
        for f, v in filters:
            by.setdefault(f, []).append(v)
        for f, values in by.items():
            marks = ",".join("?" * len(values))
            if f == "source":
                rows = demo_store.conn.execute(f"SELECT rowid FROM records WHERE source IN ({marks})", values)
            else:
                rows = demo_store.conn.execute(f"SELECT record_rowid FROM labels WHERE facet = ? AND label IN ({marks})", [f, *values])
            expected &= {int(r[0]) for r in rows}
        assert set(np.flatnonzero(mask).tolist()) == expected
