"""The numpy keyword index answers as FTS5 does (same matches, FTS5's own bm25), follows writes
through its delta, and cuts text as FTS5's unicode61 tokenizer does."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.pipeline import Components
from search import keyword_index
from search.backends.base import SearchRequest
from search.backends.sqlite import SQLiteSearchBackend
from search.facet_index import FacetIndexCache
from search.keyword_index import KeywordIndexCache, fts_tokens, keyword_side_dir
from search.query import parse_query
from search.store import Store


@pytest.fixture
def store(tmp_path: Path, demo_store_path: Path) -> Store:
    """A copy of the demo store: the side files and the writes below stay out of the shared one."""
    db = tmp_path / "radar.db"
    shutil.copy(demo_store_path, db)
    opened = Store.open(db)
    yield opened
    opened.close()


def _backends(store: Store, components: Components) -> tuple[SQLiteSearchBackend, SQLiteSearchBackend]:
    """(FTS5 alone, numpy postings), both with the in-memory facet index."""
    fts = SQLiteSearchBackend(store, components.tokenizer, facet_cache=FacetIndexCache(), keyword_cache=KeywordIndexCache(min_docs=10**9))
    numpy = SQLiteSearchBackend(store, components.tokenizer, facet_cache=FacetIndexCache(), keyword_cache=KeywordIndexCache(min_docs=0))
    return fts, numpy


def _queries(store: Store, components: Components) -> list[str]:
    """Words and two-word queries drawn from the store's own text, frequent and rare, plus a few fixed ones."""
    texts = [r[0] for r in store.conn.execute("SELECT text FROM records ORDER BY rowid LIMIT 120")]
    counts = Counter(w for t in texts for w in set(components.tokenizer.words(t)) if len(w) >= 2)
    ranked = [w for w, _ in counts.most_common()]
    words = ranked[:15] + ranked[-15:]
    pairs = [f"{a} {b}" for a, b in zip(words[::2], words[1::2], strict=False)]
    return [*words, *pairs, "流量 不存在的词语甲乙", "5G 信号", "宽带 OR 流量", "流量 -扣费", "网速慢", "APP登录"]


def test_matches_and_scores_equal_fts5(store: Store, components: Components) -> None:
    fts, numpy = _backends(store, components)
    index = numpy._keywords()
    assert index is not None and index.docs == store.conn.execute("SELECT COUNT(*) FROM search_fts").fetchone()[0]
    tickets = FacetIndexCache().get(store).mask([("source", "tickets")])
    compared = 0
    for text in _queries(store, components):
        parsed = parse_query(text, set())
        for relaxed in (False, True):
            for mask in (None, tickets):
                match, _ = fts._match_expression(parsed, relaxed)
                query = numpy._keyword_query(parsed, relaxed)
                if match is None or query is None:
                    continue
                want_ids, want_scores = fts._keyword_in_memory(match, fts._exclude_expression(parsed), mask)
                got_ids, got_scores = index.evaluate(query, mask)
                order = np.argsort(got_ids)
                expected = dict(zip(want_ids.tolist(), want_scores.tolist(), strict=True))
                assert sorted(expected) == got_ids[order].tolist(), (text, relaxed)
                assert np.allclose([expected[i] for i in got_ids[order].tolist()], got_scores[order], rtol=1e-9), (text, relaxed)
                compared += len(want_ids) > 0
    assert compared >= 40  # the comparison saw real matches, not only empty sets


def test_search_answers_equal_with_and_without_the_postings(store: Store, components: Components) -> None:
    fts, numpy = _backends(store, components)
    for text in _queries(store, components):
        for filters in ([], [("source", "tickets")]):
            for mode in ("keyword", "hybrid"):
                request = SearchRequest(query=text, filters=list(filters), mode=mode, facets=("intent", "source"), limit=50)
                want, got = fts.search(request), numpy.search(request)
                assert (got.total, got.relaxed, got.facets) == (want.total, want.relaxed, want.facets), text
                assert {h.record.id for h in got.hits} == {h.record.id for h in want.hits}, text


def _set_text(store: Store, backend: SQLiteSearchBackend, rowid: int, text: str) -> None:
    with store.transaction():
        store.conn.execute("UPDATE records SET text = ?, title = NULL, content_hash = content_hash || 'x' WHERE rowid = ?", (text, rowid))
        backend.index([rowid])


def test_writes_reach_search_through_the_delta_without_a_rebuild(store: Store, components: Components) -> None:
    _, numpy = _backends(store, components)
    assert numpy.search(SearchRequest(query="qzvfrob", mode="keyword")).total == 0
    state = json.loads((keyword_side_dir(store.path) / "state.json").read_text())
    rowid, old_text = store.conn.execute("SELECT rowid, text FROM records ORDER BY rowid LIMIT 1").fetchone()
    rare = next(w for w in components.tokenizer.words(old_text) if len(w) >= 2)
    before = {h.record.id for h in numpy.search(SearchRequest(query=rare, mode="keyword", limit=500)).hits}
    _set_text(store, numpy, rowid, "新的投诉内容 qzvfrob 测试")
    index = numpy._keywords()
    assert index is not None and index.delta is not None and index.delta.docs == 1
    found = numpy.search(SearchRequest(query="qzvfrob", mode="keyword"))
    record_id = store.conn.execute("SELECT id FROM records WHERE rowid = ?", (rowid,)).fetchone()[0]
    assert [h.record.id for h in found.hits] == [record_id]
    after = {h.record.id for h in numpy.search(SearchRequest(query=rare, mode="keyword", limit=500)).hits}
    assert record_id in before and after == before - {record_id}  # the old text no longer matches
    assert json.loads((keyword_side_dir(store.path) / "state.json").read_text())["files"] == state["files"]  # no rebuild


def test_a_large_delta_rebuilds_the_side_files(store: Store, components: Components, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keyword_index, "DELTA_MIN", 0)  # a tenth of the store at most
    _, numpy = _backends(store, components)
    numpy.search(SearchRequest(query="流量", mode="keyword"))
    first = json.loads((keyword_side_dir(store.path) / "state.json").read_text())
    rowids = [r[0] for r in store.conn.execute("SELECT rowid FROM records ORDER BY rowid LIMIT 60")]
    for rowid in rowids:
        _set_text(store, numpy, rowid, f"重写的内容 编号{rowid} qzvfrob")
    found = numpy.search(SearchRequest(query="qzvfrob", mode="keyword", limit=100))
    second = json.loads((keyword_side_dir(store.path) / "state.json").read_text())
    assert second["seq"] > first["seq"] and second["files"] != first["files"]
    index = numpy._keywords()
    assert index is not None and index.delta is None  # everything is in the rebuilt side files
    assert found.total == len(rowids)
    assert not set(first["files"].values()) & {p.name for p in keyword_side_dir(store.path).iterdir()}  # old files removed


_ALPHABET = st.sampled_from(list("流量套餐宽带网速慢投诉的了 \t\n,.!?，。！？（）【】“”-_/:;'\"abcXYZ019ＡＢ１２éüßΩж😀\u3000\u00a0²½"))


@settings(max_examples=150, deadline=None)
@given(text=st.text(alphabet=_ALPHABET, max_size=60))
def test_tokens_are_cut_as_fts5_unicode61_cuts_them(text: str) -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE t USING fts5(x, tokenize = 'unicode61 remove_diacritics 0')")
    conn.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, instance)")
    conn.execute("INSERT INTO t(x) VALUES (?)", (text,))
    expected = [r[0] for r in conn.execute("SELECT term FROM v ORDER BY offset")]
    assert fts_tokens(text) == expected


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=200), mode=st.sampled_from(["keyword", "hybrid"]))
def test_any_string_gets_an_answer_from_the_postings(text: str, mode: str, store: Store, components: Components) -> None:
    _, numpy = _backends(store, components)
    response = numpy.search(SearchRequest(query=text, mode=mode, filters=[("source", "tickets")], facets=("intent",), limit=5))
    assert response.total >= len(response.hits) and sum(response.facets["intent"].values()) >= 0
