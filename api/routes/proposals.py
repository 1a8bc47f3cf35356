"""Demand proposals: list, detail, status changes with notes (demand managers)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from api.deps import StoreDep, require
from api.keys import Principal
from insights.demand.service import get_proposal, list_proposals, set_status

__all__ = ["router"]

router = APIRouter(tags=["proposals"])
Managers = Annotated[Principal, Depends(require("demand_manager"))]
Readers = Annotated[Principal, Depends(require("demand_manager", "viewer"))]


class StatusChange(BaseModel):
    status: str | None = Field(None, pattern="^(draft|submitted|accepted|rejected|in_progress|done)$", examples=["submitted"])
    note: str = Field("", max_length=2000, examples=["送省公司市场部评审"])
    assignee: str | None = Field(None, max_length=100)
    due: str | None = Field(None, pattern=r"^\d{4}-\d{2}-\d{2}$", examples=["2026-12-31"])
    department: str | None = Field(None, pattern="^(市场|数据|集客|服务|网络)$")


@router.get("/proposals")
def proposals(store: StoreDep, _: Readers, status: str | None = None, limit: int = 50) -> dict[str, Any]:
    return {"proposals": list_proposals(store, status=status, limit=min(max(limit, 1), 500))}


@router.get("/proposals/{proposal_id}")
def proposal(proposal_id: str, store: StoreDep, _: Readers) -> dict[str, Any]:
    return get_proposal(store, proposal_id)


@router.post("/proposals/{proposal_id}/status")
def change(proposal_id: str, body: StatusChange, store: StoreDep, principal: Managers) -> dict[str, Any]:
    """Move along draft → submitted → accepted / rejected → in_progress → done (409 with E407 otherwise)."""
    return set_status(
        store,
        proposal_id,
        body.status,
        actor=principal.name,
        note=body.note,
        assignee=body.assignee,
        due=body.due,
        department=body.department,
    )
