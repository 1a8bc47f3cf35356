"""Trends, emerging themes and the periodic report (demand managers, viewers)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse

from api.deps import StoreDep, require
from api.keys import Principal
from insights.demand.report import build_report
from insights.demand.trends import emerging, volumes

__all__ = ["router"]

router = APIRouter(tags=["trends"])
Readers = Annotated[Principal, Depends(require("demand_manager", "viewer"))]


@router.get("/trends")
def trends(
    store: StoreDep,
    _: Readers,
    by: Annotated[
        str, Query(pattern="^(demand_category|complaint_type|intent|product|channel|region|source|cluster)$")
    ] = "demand_category",
    period: Annotated[str, Query(pattern="^(day|week|month)$")] = "week",
    since: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}")] = None,
    until: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}")] = None,
) -> dict[str, Any]:
    """Volumes per period (zeros kept) and the emerging themes (one-sided Poisson test, see the README)."""
    doc = volumes(store, by=by, period=period, since=since, until=until)
    doc["emerging"] = [e.to_dict() for e in emerging(doc["periods"], doc["series"])]
    return doc


@router.get("/reports/{period}", response_class=HTMLResponse)
def report(store: StoreDep, _: Readers, period: Annotated[str, PathParam(pattern=r"^\d{4}-\d{2}$")]) -> str:
    """The demand-analysis report for a month (YYYY-MM) as one self-contained HTML page."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.html"
        build_report(store, period, out)
        return out.read_text(encoding="utf-8")
