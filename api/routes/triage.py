"""The complaint triage queue: list, claim, release (complaint agents; grades are theirs and admins' only)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from api.deps import StoreDep, require
from api.keys import Principal
from insights.credit.scorecard import load_scorecard
from insights.credit.service import TRIAGE_FILTERS, claim, release, triage_queue
from radar.errors import APIError, ErrorCode

__all__ = ["router"]

router = APIRouter(tags=["triage"])
Agents = Annotated[Principal, Depends(require("complaint_agent"))]


@router.get("/triage")
def queue(
    store: StoreDep,
    principal: Agents,
    filter: Annotated[list[str], Query(examples=[["region:广州"]])] = [],  # noqa: B006 - read, never mutated
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    """Open complaints, most urgent first, each with grade, risk, deadline, guidance and reasons (audited)."""
    pairs = []
    for value in filter:
        name, sep, wanted = value.partition(":")
        if not sep or name not in TRIAGE_FILTERS:
            raise APIError(
                ErrorCode.E501, reason=f"filter '{value}': name:value with name one of {', '.join(TRIAGE_FILTERS)}", command="triage"
            )
        pairs.append((name, wanted))
    return triage_queue(store, load_scorecard(), filters=pairs, limit=limit, viewer=principal.name)


@router.post("/triage/{record_id}/claim")
def claim_item(record_id: str, store: StoreDep, principal: Agents) -> dict[str, Any]:
    return claim(store, record_id, principal.name)


@router.post("/triage/{record_id}/release")
def release_item(record_id: str, store: StoreDep, principal: Agents) -> dict[str, Any]:
    return release(store, record_id, principal.name)
