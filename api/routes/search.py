"""Search: keyword, semantic or hybrid, with filters, facet counts and a cursor; export; saved searches."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from api.deps import ComponentsDep, StoreDep, require
from api.keys import Principal
from api.schemas import SavedSearchOut, SearchOut
from insights.demand.rules import list_searches, save_search
from radar.errors import APIError, ErrorCode
from radar.fastjson import dumps
from search.backends.base import CREDIT_GRADE, SearchBackend, SearchRequest, SearchResponse
from search.query import parse_query

__all__ = ["hit_doc", "parse_filters", "router"]

router = APIRouter(tags=["search"])
Reader = Annotated[Principal, Depends(require("demand_manager", "complaint_agent", "labeler", "viewer"))]
Managers = Annotated[Principal, Depends(require("demand_manager", "labeler"))]
Query_ = Annotated[str, Query(max_length=500, examples=["流量 扣费"])]
Filters = Annotated[list[str], Query(examples=[["intent:投诉"]], description="facet:value, repeatable; source, channel, region too")]
Mode = Annotated[str | None, Query(pattern="^(keyword|semantic|hybrid)$")]
EXPORT_MAX = 10_000
EXPORT_COLUMNS = ("id", "source", "created_at", "title", "text", "labels")


def parse_filters(values: list[str]) -> list[tuple[str, str]]:
    out = []
    for value in values:
        facet, sep, wanted = value.partition(":")
        if not sep or not facet.strip() or not wanted.strip():
            raise APIError(ErrorCode.E501, reason=f"filter '{value}' is not facet:value", command="search")
        out.append((facet.strip(), wanted.strip()))
    return out


def hit_doc(h: Any) -> dict[str, Any]:
    return {
        "id": h.record.id,
        "source": h.record.source.value,
        "created_at": h.record.created_at.isoformat() if h.record.created_at else None,
        "title": h.record.title,
        "text": h.record.text,
        "labels": {f: [lab.to_dict() for lab in labs] for f, labs in h.record.labels.items()},
        "score": h.score,
        "highlights": [list(span) for span in h.highlights],
        "duplicates": int(getattr(h, "duplicates", 0)),
    }


GRADE_ROLES = ("admin", "complaint_agent")  # credit grades are theirs only (insights/credit), so is filtering by them


def guard_grade_filter(principal: Principal, q: str, filters: list[str], path: str) -> None:
    """A credit_grade filter (``--filter`` or typed ``credit_grade:X``) reveals grades: complaint agents and admins only."""
    wanted = [f for f, _ in parse_filters(filters)] + [f for f, _ in parse_query(q, {CREDIT_GRADE}).filters]
    if CREDIT_GRADE in wanted and principal.role not in GRADE_ROLES:
        raise APIError(ErrorCode.E503, role=principal.role, action=f"GET {path} with a credit_grade filter", roles=", ".join(GRADE_ROLES))


def run_search(backend: SearchBackend, q: str, filters: list[str], *, facets: bool = True, **kw: Any) -> SearchResponse:
    request = SearchRequest(query=q, filters=parse_filters(filters), mode=kw.pop("mode", None) or "keyword", **kw)
    if not facets:
        request.facets = ()
    return backend.search(request)


@router.get("/search", response_model=SearchOut)
def search(
    store: StoreDep,
    components: ComponentsDep,
    principal: Reader,
    q: Query_ = "",
    filter: Filters = [],  # noqa: B006 - FastAPI reads the default, never mutates it
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    mode: Mode = None,
    order: Annotated[str, Query(pattern="^(relevance|time)$")] = "relevance",
    collapse: Annotated[bool, Query(description="Near duplicates as one hit, counted in `duplicates` (the UI turns it on)")] = False,
) -> dict[str, Any]:
    """Hits with masked text, labels and highlight spans, facet counts over the filtered set, and the next cursor.

    Filters also take ``credit_grade:A`` (complaint agents and admins only) and ``in_proposal:yes|no``."""
    guard_grade_filter(principal, q, filter, "/search")
    backend = components.backend(store, semantic=mode in ("semantic", "hybrid"))
    response = run_search(backend, q, filter, limit=limit, cursor=cursor, mode=mode, order=order, collapse=collapse)
    return {
        "total": response.total,
        "relaxed": response.relaxed,
        "hits": [hit_doc(h) for h in response.hits],
        "facets": response.facets,
        "next_cursor": response.next_cursor,
    }


def _export_rows(backend: SearchBackend, q: str, filters: list[str], limit: int) -> Iterator[dict[str, Any]]:
    cursor, sent = None, 0
    while sent < limit:
        response = run_search(backend, q, filters, facets=False, limit=min(200, limit - sent), cursor=cursor, order="time")
        for h in response.hits:
            doc = hit_doc(h)
            doc["labels"] = {f: [lab["label"] for lab in labs] for f, labs in doc["labels"].items()}
            yield doc
        sent += len(response.hits)
        cursor = response.next_cursor
        if not cursor or not response.hits:
            return


def _csv_lines(rows: Iterator[dict[str, Any]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")  # Excel opens UTF-8 CSV as Chinese only with the BOM
    writer.writerow(EXPORT_COLUMNS)
    for row in rows:
        labels = "; ".join(f"{f}={'|'.join(v)}" for f, v in row["labels"].items())
        writer.writerow([row["id"], row["source"], row["created_at"] or "", row["title"] or "", row["text"], labels])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


@router.get("/search/export", response_class=StreamingResponse, responses={200: {"content": {"text/csv": {}, "application/x-ndjson": {}}}})
def export(
    store: StoreDep,
    components: ComponentsDep,
    principal: Reader,
    q: Query_ = "",
    filter: Filters = [],  # noqa: B006
    format: Annotated[str, Query(pattern="^(csv|jsonl)$")] = "csv",
    limit: Annotated[int, Query(ge=1, le=EXPORT_MAX)] = 1000,
) -> StreamingResponse:
    """Every hit (masked text, label names) as CSV for Excel or JSONL, newest first, up to 10,000."""
    parse_filters(filter)  # a bad filter is a 422 before the stream starts
    guard_grade_filter(principal, q, filter, "/search/export")
    rows = _export_rows(components.backend(store, semantic=False), q, filter, limit)
    if format == "jsonl":
        return StreamingResponse((dumps(r) + "\n" for r in rows), media_type="application/x-ndjson")
    headers = {"Content-Disposition": 'attachment; filename="radar-export.csv"'}
    return StreamingResponse(_csv_lines(rows), media_type="text/csv; charset=utf-8", headers=headers)


class SavedSearchIn(BaseModel):
    name: str = Field(min_length=1, max_length=100, examples=["流量包扣费争议"])
    query: str = Field("", max_length=500, examples=["流量包 扣费"])
    filters: list[str] = Field(default_factory=list, max_length=20, examples=[["intent:投诉"]])
    rule: bool = Field(False, description="Also tag records matching it as they arrive (`radar searches apply`)")


@router.get("/searches", response_model=list[SavedSearchOut])
def searches(store: StoreDep, _: Reader) -> list[dict[str, Any]]:
    return [{k: s[k] for k in ("name", "query", "filters", "rule")} for s in list_searches(store)]


@router.post("/searches", response_model=SavedSearchOut, status_code=201)
def save(body: SavedSearchIn, store: StoreDep, _: Managers) -> dict[str, Any]:
    """Save (or replace) a named search; with ``rule`` it also tags new matching records."""
    return save_search(store, body.name, body.query, parse_filters(body.filters), rule=body.rule)
