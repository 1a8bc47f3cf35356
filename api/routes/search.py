"""Search: keyword, semantic or hybrid, with filters, facet counts and a cursor."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from api.deps import ComponentsDep, StoreDep, require
from api.keys import Principal
from radar.errors import APIError, ErrorCode
from search.backends.base import SearchRequest

__all__ = ["router"]

router = APIRouter(tags=["search"])
Reader = Annotated[Principal, Depends(require("demand_manager", "complaint_agent", "labeler", "viewer"))]


def _filters(values: list[str]) -> list[tuple[str, str]]:
    out = []
    for value in values:
        facet, sep, wanted = value.partition(":")
        if not sep or not facet.strip() or not wanted.strip():
            raise APIError(ErrorCode.E501, reason=f"filter '{value}' is not facet:value", command="search")
        out.append((facet.strip(), wanted.strip()))
    return out


@router.get("/search")
def search(
    store: StoreDep,
    components: ComponentsDep,
    _: Reader,
    q: Annotated[str, Query(max_length=500, examples=["流量 扣费"])] = "",
    filter: Annotated[list[str], Query(examples=[["intent:投诉"]])] = [],  # noqa: B006 - FastAPI reads the default, never mutates it
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    cursor: str | None = None,
    mode: Annotated[str | None, Query(pattern="^(keyword|semantic|hybrid)$")] = None,
    order: Annotated[str, Query(pattern="^(relevance|time)$")] = "relevance",
) -> dict[str, Any]:
    """Hits with masked text, labels and highlight spans, facet counts over the filtered set, and the next cursor."""
    backend = components.backend(store, semantic=mode in ("semantic", "hybrid"))
    response = backend.search(
        SearchRequest(query=q, filters=_filters(filter), limit=limit, cursor=cursor, mode=mode or "keyword", order=order)
    )
    return {
        "total": response.total,
        "relaxed": response.relaxed,
        "hits": [
            {
                "id": h.record.id,
                "source": h.record.source.value,
                "created_at": h.record.created_at.isoformat() if h.record.created_at else None,
                "title": h.record.title,
                "text": h.record.text,
                "labels": {f: [lab.to_dict() for lab in labs] for f, labs in h.record.labels.items()},
                "score": h.score,
                "highlights": [list(span) for span in h.highlights],
            }
            for h in response.hits
        ],
        "facets": response.facets,
        "next_cursor": response.next_cursor,
    }
