from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.pipeline import Components
from radar.errors import SearchError
from search.backends.base import SearchRequest
from search.store import Store
from tests.search.test_query import HOSTILE


def _full(hit: object) -> str:
    rec = hit.record  # type: ignore[attr-defined]
    return f"{rec.title or ''}\n{rec.text}"


def _search(store: Store, components: Components, **kw: object) -> object:
    return components.backend(store).search(SearchRequest(**kw))  # type: ignore[arg-type]


def test_keyword_hits_contain_the_term_and_highlights_land(demo_store: Store, components: Components) -> None:
    res = _search(demo_store, components, query="流量", limit=50)
    assert res.total > 0
    for hit in res.hits:
        assert "流量" in _full(hit)
        assert hit.highlights or "流量" not in hit.record.text
        for start, end in hit.highlights:
            assert hit.record.text[start:end].lower() == "流量"


def test_facet_counts_match_the_filtered_results(demo_store: Store, components: Components) -> None:
    res = _search(demo_store, components, query="流量", filters=[("intent", "投诉")], limit=1000)
    assert res.total == len(res.hits) > 0
    assert all("投诉" in h.record.label_names("intent") for h in res.hits)
    assert res.facets["intent"] == {"投诉": res.total}
    counted = Counter(label for h in res.hits for label in h.record.label_names("demand_category"))
    assert dict(counted) == res.facets["demand_category"]
    assert sum(res.facets["source"].values()) == res.total


def test_filters_on_record_fields_and_sub_labels(demo_store: Store, components: Components) -> None:
    res = _search(demo_store, components, filters=[("source", "tickets"), ("demand_category", "消费/流量")], limit=1000)
    assert res.total > 0
    assert all(h.record.source.value == "tickets" and "消费/流量" in h.record.label_names("demand_category") for h in res.hits)


def test_cursor_reaches_every_result_once(demo_store: Store, components: Components) -> None:
    full = _search(demo_store, components, query="套餐", limit=1000)
    seen, cursor = [], None
    while True:
        page = _search(demo_store, components, query="套餐", limit=7, cursor=cursor)
        seen.extend(h.record.id for h in page.hits)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [h.record.id for h in full.hits] and len(set(seen)) == full.total


def test_cursor_from_another_query_is_refused(demo_store: Store, components: Components) -> None:
    page = _search(demo_store, components, query="套餐", limit=2)
    with pytest.raises(SearchError) as err:
        _search(demo_store, components, query="流量", limit=2, cursor=page.next_cursor)
    assert err.value.code == "E304"


def test_exclude_and_phrase(demo_store: Store, components: Components) -> None:
    with_term = _search(demo_store, components, query="流量", limit=1000)
    without = _search(demo_store, components, query="流量 -扣费", limit=1000)
    assert 0 < without.total < with_term.total
    assert all("扣费" not in _full(h) for h in without.hits)
    phrase = _search(demo_store, components, query='"营业厅排队"', limit=1000)
    assert phrase.total > 0 and all("营业厅排队" in _full(h) for h in phrase.hits)


def test_and_first_then_relaxed(demo_store: Store, components: Components) -> None:
    strict = _search(demo_store, components, query="宽带 断网", limit=1000)
    assert not strict.relaxed and all("宽带" in _full(h) and "断网" in _full(h) for h in strict.hits)
    relaxed = _search(demo_store, components, query="宽带 彗星撞地球", limit=1000)
    assert relaxed.relaxed and relaxed.total > 0


def test_time_order(demo_store: Store, components: Components) -> None:
    res = _search(demo_store, components, order="time", limit=1000)
    dates = [h.record.created_at for h in res.hits if h.record.created_at]
    assert dates == sorted(dates, reverse=True)


def test_hostile_queries_never_raise(demo_store: Store, components: Components) -> None:
    for q in [*HOSTILE, "流" * 10_000, 'intent:投诉 "', "-流量", "source:tickets"]:
        res = _search(demo_store, components, query=q)
        assert res.total >= 0


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=120))
def test_fuzz_backend_query_building(demo_store: Store, components: Components, text: str) -> None:
    _search(demo_store, components, query=text, limit=3)


def test_index_follows_text_changes(tmp_path, components: Components, sample_dir) -> None:  # type: ignore[no-untyped-def]
    from api.pipeline import index_store, ingest_sample, label_store
    from radar.settings import Settings

    with Store.open(tmp_path / "r.db") as store:
        ingest_sample(store, sample_dir, Settings())
        label_store(store, components)
        assert index_store(store, components) == store.count()
        assert index_store(store, components) == 0  # nothing changed, nothing re-indexed
        backend = components.backend(store)
        assert backend.pending() == []


def test_character_bigrams_recall_what_jieba_cut_differently(demo_store: Store, components: Components) -> None:
    from search.backends.sqlite import bigrams

    assert bigrams("网速慢5G") == "网速 速慢 慢5g"
    probe = _straddling_probe(demo_store, components)
    res = _search(demo_store, components, query=probe, limit=1000)
    assert res.total > 0 and all(probe in _full(h) for h in res.hits)


def _straddling_probe(store: Store, components: Components) -> str:
    """Three Chinese characters of a stored text that cross a jieba token boundary (no token holds them)."""
    import re

    for (text,) in store.conn.execute("SELECT text FROM records WHERE source = 'tickets' ORDER BY rowid"):
        tokens = components.tokenizer.cut(text)
        pos = 0
        for tok in tokens[:-1]:
            pos += len(tok)
            probe = text[pos - 2 : pos + 1]
            if len(tok) >= 2 and re.fullmatch(r"[\u4e00-\u9fff]{3}", probe) and probe not in components.tokenizer.words(probe)[:1]:
                return probe
    raise AssertionError("no probe found")


def test_an_index_from_before_bigrams_is_rebuilt(tmp_path, components: Components, sample_dir) -> None:  # type: ignore[no-untyped-def]
    from api.pipeline import index_store, ingest_sample
    from radar.settings import Settings

    with Store.open(tmp_path / "old.db") as store:
        ingest_sample(store, sample_dir, Settings())
        store.conn.execute("CREATE VIRTUAL TABLE search_fts USING fts5(tokens)")  # the old shape
        assert index_store(store, components) == store.count()
        assert _search(store, components, query=_straddling_probe(store, components)).total > 0


def test_check_reports_and_repairs_drift(tmp_path, components: Components, sample_dir) -> None:  # type: ignore[no-untyped-def]
    from api.pipeline import index_store, ingest_sample
    from radar.settings import Settings

    with Store.open(tmp_path / "r.db") as store:
        ingest_sample(store, sample_dir, Settings())
        index_store(store, components)
        backend = components.backend(store)
        assert not any(backend.check().values())
        store.conn.execute("DELETE FROM search_state WHERE rowid = 1")  # as if a crash lost one entry
        store.conn.execute("UPDATE search_state SET content_hash = 'x' WHERE rowid = 2")
        store.conn.execute("INSERT INTO search_fts(rowid, tokens, grams) VALUES (999999, 'ghost', 'gh')")
        found = backend.check()
        assert (found["missing"], found["stale"], found["orphans"]) == ([1], [2], [999999])
        assert backend.repair() == {"missing": 1, "stale": 1, "orphans": 1}
        assert not any(backend.check().values())
        assert backend.rebuild() == store.count()
        assert _search(store, components, query="流量").total > 0


def test_idf_comes_from_the_indexed_corpus(demo_store: Store, components: Components) -> None:
    backend = components.backend(demo_store)
    table = backend.idf(["流量", "从未出现的词"])
    n_flow = sum("流量" in components.tokenizer.words(f"{r.title}\n{r.text}" if r.title else r.text) for _, r in _all_records(demo_store))
    assert table.docs == demo_store.count()
    assert table.df.get("流量") == n_flow
    assert "从未出现的词" not in table.df


def test_more_like_this_queries_with_the_records_distinctive_words(demo_store: Store, components: Components) -> None:
    some = next(r for _, r in _all_records(demo_store) if len(r.text) > 30)
    res = _search(demo_store, components, like=some.id, limit=5)
    assert res.total > 0
    assert some.id not in [h.record.id for h in res.hits]


def test_entities_are_stored_when_labelling(demo_store: Store) -> None:
    labels = {row["label"] for _, r in _all_records(demo_store) for row in demo_store.entities(r.id)}
    assert {"CHANNEL", "MONEY"} <= labels
    for _, rec in _all_records(demo_store)[:50]:
        for row in demo_store.entities(rec.id):
            assert rec.text[row["start"] : row["end"]] == row["text"]


def _all_records(store: Store) -> list:  # type: ignore[type-arg]
    return [pair for batch in store.iter_unlabelled(mode="all", label_version="", batch=1000) for pair in batch]
