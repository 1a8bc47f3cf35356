"""Health and metrics (Prometheus text format); no key needed, nothing personal in them."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from api.deps import StoreDep

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/health")
def health(store: StoreDep) -> dict[str, object]:
    return {"status": "ok", "records": store.count()}


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(request: Request, store: StoreDep) -> str:
    lines = ["# HELP radar_records Records in the store by source.", "# TYPE radar_records gauge"]
    lines += [f'radar_records{{source="{source}"}} {n}' for source, n in sorted(store.count_by("source").items())]
    lines += ["# HELP radar_needs_review Records with a facet needing review.", "# TYPE radar_needs_review gauge"]
    review = store.conn.execute("SELECT COUNT(DISTINCT record_rowid) FROM needs_review").fetchone()[0]
    lines.append(f"radar_needs_review {review}")
    running = store.conn.execute("SELECT COUNT(*) FROM jobs WHERE status = 'running'").fetchone()[0]
    lines += ["# HELP radar_jobs_running Batch jobs running.", "# TYPE radar_jobs_running gauge", f"radar_jobs_running {running}"]
    lines += request.app.state.metrics.render()
    return "\n".join(lines) + "\n"
