"""Batch jobs: start labelling, backfill, re-label or re-index; follow progress; cancel (data teams)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from api.deps import ComponentsDep, SettingsDep, StoreDep, require
from api.jobs import JOB_KINDS, cancel_job, start_job
from api.keys import Principal
from api.schemas import JobOut, RowId
from radar.errors import APIError, ErrorCode

__all__ = ["router"]

router = APIRouter(tags=["jobs"])
DataTeam = Annotated[Principal, Depends(require("labeler"))]


class JobRequest(BaseModel):
    kind: str = Field(
        pattern="^(" + "|".join(JOB_KINDS) + ")$",
        examples=["backfill"],
        description="label: new and changed records; backfill: also those labelled by another taxonomy or model; "
        "relabel: every record; reindex: rebuild the search index",
    )


@router.post("/jobs", response_model=JobOut, status_code=202)
def start(body: JobRequest, settings: SettingsDep, components: ComponentsDep, principal: DataTeam) -> dict[str, Any]:
    """Start a job in the background (409 with E506 while another runs)."""
    return start_job(settings.db, components, body.kind, principal.name, batch=settings.batch_size)


@router.get("/jobs", response_model=list[JobOut])
def jobs(
    store: StoreDep,
    _: DataTeam,
    status: Annotated[str | None, Query(pattern="^(running|done|cancelled|failed)$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[dict[str, Any]]:
    """Jobs newest first, with progress (done / total) and counts."""
    return store.jobs(limit=limit, status=status)


@router.get("/jobs/{job_id}", response_model=JobOut)
def job(job_id: RowId, store: StoreDep, _: DataTeam) -> dict[str, Any]:
    found = store.job(job_id)
    if found is None:
        raise APIError(ErrorCode.E507, job_id=job_id)
    return found


@router.post("/jobs/{job_id}/cancel", response_model=JobOut)
def cancel(job_id: RowId, store: StoreDep, _: DataTeam) -> dict[str, Any]:
    """Ask a running job to stop after its current batch; what it committed stays."""
    return cancel_job(store, job_id)
