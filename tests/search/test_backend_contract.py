"""One contract for every search backend: always on the embedded SQLite backend, and on
Elasticsearch when ES_URL points to a server (none can run on these machines; the ES cases skip
with that reason otherwise). Plus the ES request builder, fuzzed: no string breaks a body."""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.pipeline import Components
from insights.credit.tables import ensure_tables as credit_tables
from insights.demand.tables import ensure_tables as demand_tables
from search.backends.base import SearchRequest
from search.backends.es_query import filter_clauses, search_body, text_query
from search.backends.sqlite import SQLiteSearchBackend
from search.facet_index import FacetIndexCache
from search.keyword_index import KeywordIndexCache
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


@contextmanager
def _backend(kind: str, store: Store, components: Components) -> Iterator[Any]:
    if kind == "sqlite":
        yield SQLiteSearchBackend(store, components.tokenizer)
        return
    if kind == "sqlite-postings":  # facets from memory, keywords from the numpy postings (as above 200,000 records)
        yield SQLiteSearchBackend(store, components.tokenizer, facet_cache=FacetIndexCache(), keyword_cache=KeywordIndexCache(min_docs=0))
        return
    url = os.environ.get("ES_URL")
    if not url:
        pytest.skip("ES_URL is not set: no Elasticsearch server to run the contract against (none can run on these machines)")
    from search.backends.elasticsearch import ElasticsearchBackend

    es = ElasticsearchBackend.from_url(store, components.tokenizer, url, prefix=f"radar-test-{uuid.uuid4().hex[:8]}")
    es.ensure()
    with store.transaction():
        es.index([int(r[0]) for r in store.conn.execute("SELECT rowid FROM records")])
    es.refresh()
    try:
        yield es
    finally:
        es.client.indices.delete(index=f"{es.prefix}-*")
        store.conn.execute("DELETE FROM es_state")


@pytest.fixture(params=["sqlite", "sqlite-postings", "elasticsearch"])
def backend(request: pytest.FixtureRequest, demo_store: Store, components: Components) -> Iterator[Any]:
    with _backend(request.param, demo_store, components) as found:
        yield found


@dataclass
class Derived:
    backend: Any
    grades: dict[str, str]  # record id -> its customer's credit grade
    proposed: set[str]  # record ids in a cluster with a proposal
    records: int


@pytest.fixture(params=["sqlite", "sqlite-postings", "elasticsearch"])
def derived(request: pytest.FixtureRequest, demo_store_path: Path, tmp_path: Path, components: Components) -> Iterator[Derived]:
    """A copy of the demo store with credit grades for its customers and two demand clusters, one with a proposal."""
    path = tmp_path / "derived.db"
    with sqlite3.connect(demo_store_path) as src, sqlite3.connect(path) as dst:
        src.backup(dst)
    store = Store.open(path)
    credit_tables(store)
    demand_tables(store)
    rows = store.conn.execute("SELECT id, customer_key FROM records ORDER BY rowid").fetchall()
    customers = sorted({r["customer_key"] for r in rows if r["customer_key"]})
    grade_of = {c: "ABCDE"[i % 5] for i, c in enumerate(customers)}
    with store.transaction():
        store.conn.executemany(
            "INSERT INTO credit_grades(customer_key, grade, score, factors, scorecard_version, as_of, computed_at) "
            "VALUES (?, ?, 50, '[]', 'test', '2026-01-01', '2026-01-01')",
            list(grade_of.items()),
        )
        ids = [r["id"] for r in rows]
        store.conn.executemany(
            "INSERT INTO demand_members(record_id, cluster_id, seq) VALUES (?, ?, ?)",
            [(rid, "c1", i) for i, rid in enumerate(ids[:12])] + [(rid, "c2", i) for i, rid in enumerate(ids[12:20])],
        )
        store.conn.execute(
            "INSERT INTO proposals VALUES ('p1', 'c1', 't', 's', '[]', 12, 'draft', 'd', NULL, 't', 'r', 1.0, '{}', '{}', '{}', "
            "NULL, NULL, NULL, 'v', '2026-01-01', '2026-01-01')"
        )
    grades = {r["id"]: grade_of[r["customer_key"]] for r in rows if r["customer_key"]}
    try:
        with _backend(request.param, store, components) as found:
            yield Derived(found, grades, set(ids[:12]), len(rows))
    finally:
        store.close()


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


def test_collapse_folds_near_duplicates_into_one_hit_with_a_count(backend: Any) -> None:
    plain = _all(backend, SearchRequest(query="", order="time"))
    folded = _all(backend, SearchRequest(query="", order="time", collapse=True))
    first = backend.search(SearchRequest(query="", order="time", collapse=True))
    link = {h.record.id: h.record.duplicate_of for h in plain}

    def root(rid: str) -> str:  # a repeat of a repeat belongs to the first original
        while link.get(rid) and link[rid] != rid:
            rid = str(link[rid])
        return rid

    group = {rid: root(rid) for rid in link}
    assert any(h.record.duplicate_of for h in plain), "the demo sample holds near duplicates"
    assert len(folded) == first.total < len(plain)
    assert sum(1 + h.duplicates for h in folded) == len(plain)
    leads = [group[h.record.id] for h in folded]
    assert len(leads) == len(set(leads))  # one hit per group
    sizes: dict[str, int] = {}
    for g in group.values():
        sizes[g] = sizes.get(g, 0) + 1
    assert all(h.duplicates == sizes[group[h.record.id]] - 1 for h in folded)
    seen: set[str] = set()  # each group is shown by its best-placed member
    best = []
    for h in plain:
        if group[h.record.id] not in seen:
            seen.add(group[h.record.id])
            best.append(h.record.id)
    assert [h.record.id for h in folded] == best
    assert all(h.duplicates == 0 for h in backend.search(SearchRequest(query="", limit=50)).hits)  # off by default


def test_credit_grade_filter(derived: Derived) -> None:
    for wanted in (["A"], ["B", "E"]):
        hits = _all(derived.backend, SearchRequest(query="", filters=[("credit_grade", g) for g in wanted]))
        expected = {rid for rid, g in derived.grades.items() if g in wanted}
        assert expected and {h.record.id for h in hits} == expected
    typed = derived.backend.search(SearchRequest(query="credit_grade:C", limit=200))
    assert typed.total == sum(g == "C" for g in derived.grades.values())
    assert derived.backend.search(SearchRequest(query="", filters=[("credit_grade", "Z")])).total == 0


def test_in_proposal_filter(derived: Derived) -> None:
    yes = _all(derived.backend, SearchRequest(query="", filters=[("in_proposal", "yes")]))
    assert {h.record.id for h in yes} == derived.proposed  # members of a cluster without a proposal are not in one
    no = derived.backend.search(SearchRequest(query="", filters=[("in_proposal", "no")]))
    assert no.total == derived.records - len(derived.proposed)
    assert derived.backend.search(SearchRequest(query="", filters=[("in_proposal", "maybe")])).total == 0
    both = derived.backend.search(SearchRequest(query="", filters=[("in_proposal", "yes"), ("credit_grade", "A")]))
    assert both.total == sum(1 for rid in derived.proposed if derived.grades.get(rid) == "A")


def test_es_documents_carry_group_grade_and_proposal(derived: Derived, components: Components) -> None:
    """What the ES backend indexes, checked without a server (the documents are built from the store)."""
    from search.backends.elasticsearch import ElasticsearchBackend

    if derived.backend.name != "sqlite":
        pytest.skip("the documents are checked once")
    store = derived.backend.store
    es = ElasticsearchBackend(store, components.tokenizer, client=None)
    rowids = [int(r[0]) for r in store.conn.execute("SELECT rowid FROM records ORDER BY rowid")]
    docs = {doc["id"]: doc for _, _, doc in es._documents(rowids)}
    assert {i for i, d in docs.items() if d["in_proposal"] == "yes"} == derived.proposed
    assert {i: d["credit_grade"] for i, d in docs.items() if d["credit_grade"]} == derived.grades
    groups = {i: d["group"] for i, d in docs.items()}
    assert all(groups[g] == g for g in groups.values())  # every group is named by its original
    assert any(g != i for i, g in groups.items())


def test_es_filter_and_collapse_bodies() -> None:
    filters, _ = filter_clauses([("credit_grade", "A"), ("credit_grade", "B"), ("in_proposal", "是"), ("in_proposal", "no")])
    assert {"terms": {"credit_grade": ["A", "B"]}} in filters and {"terms": {"in_proposal": ["no", "yes"]}} in filters
    assert filter_clauses([("in_proposal", "maybe")])[0] == [{"terms": {"in_proposal": []}}]
    body = search_body(None, [], [], [], facets=("intent",), size=10, offset=0, by_time=False, collapse=True)
    assert body["collapse"]["field"] == "group" and body["aggs"]["groups"]["cardinality"]["field"] == "group"
    assert "collapse" not in search_body(None, [], [], [], facets=(), size=10, offset=0, by_time=False)
