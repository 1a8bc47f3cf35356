"""Batch jobs started over the API: label, backfill, re-label all, re-index; progress and cancel.

Each job runs in a background thread with its own store connection and writes its progress
to the store's ``jobs`` table, so any worker process can report it and a cancel request
reaches it between batches. One job at a time per store: labelling batches hold the write lock.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from api.pipeline import Components, index_store, label_store
from radar.errors import APIError, ErrorCode
from search.store import Store

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["JOB_KINDS", "cancel_job", "start_job"]

logger = logging.getLogger(__name__)

# job kind -> label_store mode (None: index only)
JOB_KINDS: dict[str, str | None] = {"label": "changed", "backfill": "backfill", "relabel": "all", "reindex": None}


def start_job(db: Path, components: Components, kind: str, started_by: str, *, batch: int = 500) -> dict[str, Any]:
    """Record the job, then run it in a daemon thread; returns the job as first recorded."""
    with Store.open(db) as store, store.transaction():
        running = store.jobs(limit=1, status="running")
        if running:
            raise APIError(ErrorCode.E506, kind=running[0]["kind"], job_id=running[0]["id"])
        versions = {"taxonomy": components.taxonomy.version, "mode": JOB_KINDS[kind] or "index"}
        job_id = store.start_job(kind, versions, total=_total(store, kind), started_by=started_by)
    thread = threading.Thread(target=_run, args=(db, components, kind, job_id, batch), name=f"radar-job-{job_id}", daemon=True)
    thread.start()
    with Store.open(db) as store:
        job = store.job(job_id)
    assert job is not None
    return job


def _total(store: Store, kind: str) -> int | None:
    # exact only where it is cheap; a "changed" run discovers its size as it goes
    return store.count() if kind in ("relabel", "reindex") else None


def _run(db: Path, components: Components, kind: str, job_id: int, batch: int) -> None:
    with Store.open(db) as store:
        try:
            mode = JOB_KINDS[kind]
            if mode is not None:
                label_store(store, components, mode=mode, batch=batch, entities=True, job_id=job_id)
                if store.cancel_requested(job_id):
                    return
                index_store(store, components)
            else:
                done = components.backend(store).rebuild()
                store.job_progress(job_id, done)
                store.finish_job(job_id, {"indexed": done})
        except Exception as exc:  # a job must end in a recorded state, whatever went wrong
            logger.exception("job %s failed", job_id)
            store.finish_job(job_id, {}, "failed", [f"{type(exc).__name__}: {exc}"])


def cancel_job(store: Store, job_id: int) -> dict[str, Any]:
    job = store.job(job_id)
    if job is None:
        raise APIError(ErrorCode.E507, job_id=job_id)
    store.request_cancel(job_id)
    found = store.job(job_id)
    assert found is not None
    return found
