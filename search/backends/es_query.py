"""Elasticsearch request bodies from a parsed user query: pure functions, no client, no I/O.

Every piece of user text reaches Elasticsearch as a *value* (``match``, ``match_phrase``, ``terms``),
never as query syntax (no ``query_string``): any string, however hostile, builds a valid body.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from search.backends.base import CREDIT_GRADE, IN_PROPOSAL, NO, YES
from search.query import ParsedQuery

__all__ = ["GROUP_FIELD", "RECORD_FIELDS", "facet_field", "filter_clauses", "search_body", "text_query"]

RECORD_FIELDS = {"source": "source", "region": "region", CREDIT_GRADE: "credit_grade", IN_PROPOSAL: "in_proposal"}
GROUP_FIELD = "group"  # the original a record repeats (its own id for an original): collapse key
Terms = Callable[[str], list[str]]


def facet_field(facet: str) -> str:
    return RECORD_FIELDS.get(facet, f"facets.{facet}")


def filter_clauses(
    filters: Sequence[tuple[str, str]], *, since: datetime | None = None, until: datetime | None = None, exclude_ids: Sequence[str] = ()
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(filter, must_not): values of one facet are alternatives, different facets must all hold."""
    by_facet: dict[str, list[str]] = {}
    for facet, value in filters:
        by_facet.setdefault(facet, []).append(value)
    clauses: list[dict[str, Any]] = []
    for facet, values in by_facet.items():
        if facet == "needs_review":
            clauses.append({"exists": {"field": "needs_review"}})
        elif facet == IN_PROPOSAL:
            wanted = sorted({"yes" if v.strip().lower() in YES else "no" for v in values if v.strip().lower() in YES | NO})
            clauses.append({"terms": {"in_proposal": wanted}})  # neither yes nor no: an empty terms list matches nothing
        else:
            clauses.append({"terms": {facet_field(facet): values}})
    if since or until:
        bounds = {k: v.isoformat(timespec="seconds") for k, v in (("gte", since), ("lt", until)) if v is not None}
        clauses.append({"range": {"created_at": bounds}})
    must_not: list[dict[str, Any]] = [{"terms": {"id": list(exclude_ids)}}] if exclude_ids else []
    return clauses, must_not


def _chunk(chunk: str, tokens: list[str], relaxed: bool) -> dict[str, Any]:
    """The chunk's tokens, or its characters in a row (the bigram subfield): recall when jieba cut differently."""
    words = {"match": {"tokens": {"query": " ".join(tokens), "operator": "or" if relaxed else "and"}}}
    return {"bool": {"should": [words, {"match_phrase": {"text.grams": chunk}}], "minimum_should_match": 1}}


def text_query(parsed: ParsedQuery, terms_of: Terms, *, relaxed: bool) -> tuple[dict[str, Any] | None, list[str]]:
    """The positive part of the query (None: match all) and every term, for highlighting."""
    highlight: list[str] = []
    alternatives = []
    for alt in parsed.alternatives:
        chunks = []
        for chunk in alt:
            tokens = list(dict.fromkeys(terms_of(chunk)))
            highlight.extend(tokens)
            if tokens:
                chunks.append(_chunk(chunk, tokens, relaxed))
        if chunks:
            alternatives.append({"bool": {"should" if relaxed else "must": chunks, **({"minimum_should_match": 1} if relaxed else {})}})
    must: list[dict[str, Any]] = []
    if alternatives:
        must.append({"bool": {"should": alternatives, "minimum_should_match": 1}})
    for phrase in parsed.phrases:
        tokens = terms_of(phrase)
        if tokens:
            highlight.append(phrase)
            must.append({"match_phrase": {"tokens": " ".join(tokens)}})
    return ({"bool": {"must": must}} if must else None), highlight


def search_body(
    positive: dict[str, Any] | None,
    excludes: Sequence[list[str]],
    filters: list[dict[str, Any]],
    must_not: list[dict[str, Any]],
    *,
    facets: Sequence[str],
    size: int,
    offset: int,
    by_time: bool,
    collapse: bool = False,
) -> dict[str, Any]:
    """A complete ``search`` body: query, sort, page, exact total and a terms aggregation per facet.

    ``collapse``: one hit per duplicate group (``group``), each with its group's size in the
    ``duplicates`` inner hits, and the number of groups in the ``groups`` aggregation."""
    negative = must_not + [{"match_phrase": {"tokens": " ".join(tokens)}} for tokens in excludes if tokens]
    query = {"bool": {"must": [positive] if positive else [{"match_all": {}}], "filter": filters, "must_not": negative}}
    sort: list[Any] = (
        [{"created_at": {"order": "desc", "missing": "_last"}}, {"id": "asc"}] if by_time or not positive else ["_score", {"id": "asc"}]
    )
    body: dict[str, Any] = {
        "query": query,
        "sort": sort,
        "from": offset,
        "size": size,
        "track_total_hits": True,
        "_source": ["id"],
        "aggs": {f: {"terms": {"field": facet_field(f), "size": 100}} for f in facets},
    }
    if collapse:
        body["collapse"] = {"field": GROUP_FIELD, "inner_hits": {"name": "duplicates", "size": 0, "track_total_hits": True}}
        body["aggs"]["groups"] = {"cardinality": {"field": GROUP_FIELD, "precision_threshold": 40000}}
    return body
