"""One contract for every search backend: always on the embedded SQLite backend, and on
Elasticsearch when ES_URL points to a server (none can run on these machines; the ES cases skip
with that reason otherwise). Plus the ES request builder, fuzzed: no string breaks a body."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.pipeline import Components
from search.backends.base import SearchRequest
from search.backends.es_query import filter_clauses, search_body, text_query
from search.backends.sqlite import SQLiteSearchBackend
from search.query import parse_query
from search.store import Store

HOSTILE = [
    '"',
    "((",
    "*",
    "a:b:c",
    "AND OR NOT NEAR",
    "'; DROP TABLE records; --",
    '{"query": {"match_all": {}}}',
    "流量" * 3000,
    "😤\x00\x07",
    "-",
    '"-"',
]


@pytest.fixture(params=["sqlite", "elasticsearch"])
def backend(request: pytest.FixtureRequest, demo_store: Store, components: Components) -> Iterator[Any]:
    if request.param == "sqlite":
        yield SQLiteSearchBackend(demo_store, components.tokenizer)
        return
    url = os.environ.get("ES_URL")
    if not url:
        pytest.skip("ES_URL is not set: no Elasticsearch server to run the contract against (none can run on these machines)")
    from search.backends.elasticsearch import ElasticsearchBackend

    es = ElasticsearchBackend.from_url(demo_store, components.tokenizer, url, prefix=f"radar-test-{uuid.uuid4().hex[:8]}")
    es.ensure()
    with demo_store.transaction():
        es.index([int(r[0]) for r in demo_store.conn.execute("SELECT rowid FROM records")])
    es.refresh()
    yield es
    es.client.indices.delete(index=f"{es.prefix}-*")
    demo_store.conn.execute("DELETE FROM es_state")


def _all(backend: Any, request: SearchRequest) -> list[Any]:
    hits, cursor = [], None
    while True:
        page = backend.search(SearchRequest(**{**request.__dict__, "cursor": cursor, "limit": 7}))
        hits += page.hits
        cursor = page.next_cursor
        if not cursor:
            return hits


def test_hits_hold_the_term_and_highlights_land_on_it(backend: Any) -> None:
    response = backend.search(SearchRequest(query="流量", limit=10))
    assert response.total > 0 and response.hits
    for hit in response.hits:
        assert hit.highlights and all(hit.record.text[s:e].lower() == "流量" for s, e in hit.highlights)


def test_facet_counts_equal_counting_every_result(backend: Any) -> None:
    request = SearchRequest(query="宽带", filters=[("source", "tickets")])
    first = backend.search(request)
    every = _all(backend, request)
    assert len(every) == first.total == len({h.record.id for h in every})  # the cursor reaches each result once
    for facet in ("intent", "source"):
        counted: dict[str, int] = {}
        for hit in every:
            names = [hit.record.source.value] if facet == "source" else hit.record.label_names(facet)
            for name in names:
                counted[name] = counted.get(name, 0) + 1
        assert first.facets[facet] == counted


def test_filters_combine_and_exclusions_hold(backend: Any) -> None:
    complaints = _all(backend, SearchRequest(query="", filters=[("intent", "投诉"), ("source", "tickets")]))
    assert complaints and all("投诉" in h.record.label_names("intent") and h.record.source.value == "tickets" for h in complaints)
    without = _all(backend, SearchRequest(query="流量 -扣费"))
    assert without and all("扣费" not in h.record.text for h in without)


def test_all_words_first_then_any_word(backend: Any) -> None:
    strict = backend.search(SearchRequest(query="流量 扣费"))
    assert not strict.relaxed and strict.total > 0
    relaxed = backend.search(SearchRequest(query="流量 不存在的词语甲乙"))
    assert relaxed.relaxed and relaxed.total > 0


def test_hostile_strings_return_results_or_nothing(backend: Any) -> None:
    for text in HOSTILE:
        response = backend.search(SearchRequest(query=text, limit=3))
        assert response.total >= 0


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=300), value=st.text(max_size=40), relaxed=st.booleans())
def test_es_bodies_are_built_from_any_string(text: str, value: str, relaxed: bool, components: Components) -> None:
    parsed = parse_query(text, {"intent", "source"})
    positive, terms = text_query(parsed, components.tokenizer.words, relaxed=relaxed)
    filters, must_not = filter_clauses([*parsed.filters, ("intent", value)], exclude_ids=[value])
    body = search_body(
        positive,
        [components.tokenizer.words(t) for t in parsed.excludes],
        filters,
        must_not,
        facets=("intent",),
        size=10,
        offset=0,
        by_time=False,
    )
    encoded = json.dumps(body, ensure_ascii=False)
    assert "query_string" not in encoded and "simple_query_string" not in encoded  # user text is only ever a value
    intents = [v for f, v in parsed.filters if f == "intent"] + [value]
    assert json.loads(encoded) == body and {"terms": {"facets.intent": intents}} in body["query"]["bool"]["filter"]
