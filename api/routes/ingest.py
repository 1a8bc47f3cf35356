"""Ingestion over HTTP: upload a file for any source, or pull a configured source (admins, data teams).

An upload is read in chunks up to the size limit (E508 past it), kept in a private temporary
folder under a name the server chooses, and ingested exactly as ``radar ingest`` would: bad rows
are quarantined with their reason and counted in the answer. New records are labelled and
indexed by a ``label`` job started afterwards (``label=false`` skips it)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, UploadFile
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool

from api.deps import ComponentsDep, SettingsDep, StoreDep, require
from api.jobs import start_job
from api.keys import Principal
from api.schemas import IngestOut
from ingestion.convert import ConvertOptions
from ingestion.pipeline import ingest_path
from ingestion.sources import ingest_config, load_sources_config
from radar.errors import APIError, ErrorCode, IngestionError, RadarError
from radar.settings import Settings

__all__ = ["SUFFIXES", "router"]

router = APIRouter(tags=["ingest"])
DataTeam = Annotated[Principal, Depends(require("labeler"))]

# what each source's readers understand
SUFFIXES: dict[str, tuple[str, ...]] = {
    "forum": (".jsonl", ".json"),
    "calls": (".jsonl", ".json", ".csv", ".xlsx", ".txt"),
    "tickets": (".csv", ".tsv", ".txt", ".xlsx", ".xlsm"),
    "forms": (".json", ".jsonl", ".csv", ".xlsx"),
}
CHUNK = 1 << 20


async def _save(upload: UploadFile, folder: Path, source: str, limit_mb: float) -> Path:
    suffix = Path(upload.filename or "").suffix.lower()
    if suffix not in SUFFIXES[source]:
        raise APIError(ErrorCode.E509, filename=upload.filename or "(no name)", source=source, options=", ".join(SUFFIXES[source]))
    limit, size = int(limit_mb * (1 << 20)), 0
    target = folder / f"upload{suffix}"  # the server's name: the caller's file name never becomes a path
    with target.open("wb") as out:
        while chunk := await upload.read(CHUNK):
            size += len(chunk)
            if size > limit:
                raise APIError(ErrorCode.E508, limit_mb=limit_mb)
            out.write(chunk)
    if size == 0:
        raise APIError(ErrorCode.E101, path=upload.filename or "upload", reason="the file is empty")
    return target


def _label_job(settings: Settings, components: ComponentsDep, principal: Principal, wanted: bool, ingested: int) -> dict[str, Any] | None:
    if not wanted or ingested == 0:
        return None
    try:
        return start_job(settings.db, components, "label", principal.name)
    except RadarError as exc:  # a running job will not pick these up; say so instead of failing the upload
        return {"status": "not_started", **exc.to_dict()}


@router.post("/ingest/{source}", response_model=IngestOut)
async def upload(
    source: Annotated[str, PathParam(pattern="^(forum|calls|tickets|forms)$")],
    file: UploadFile,
    store: StoreDep,
    settings: SettingsDep,
    components: ComponentsDep,
    principal: DataTeam,
    encoding: Annotated[str | None, Query(max_length=20, examples=["gbk"])] = None,
    fmt: Annotated[str | None, Query(alias="format", pattern="^(jsonl|sep|text)$")] = None,
    label: bool = True,
) -> dict[str, Any]:
    """Ingest one file: counts of ingested, updated, duplicate and quarantined rows, and the label job."""
    with tempfile.TemporaryDirectory(prefix="radar-upload-") as tmp:
        path = await _save(file, Path(tmp), source, settings.max_upload_mb)
        try:  # reading and labelling is CPU work: off the event loop
            report = await run_in_threadpool(
                ingest_path, source, path, store, ConvertOptions.from_settings(settings), fmt=fmt, encoding=encoding
            )
        except IngestionError as exc:  # say which upload, never the server's temporary path
            reason = exc.message.replace(str(path), file.filename or "upload")
            raise APIError(ErrorCode.E512, filename=file.filename or "upload", source=source, reason=reason) from exc
    doc = report.to_dict()
    doc.pop("quarantine_path", None)  # a server path means nothing to the caller
    job = _label_job(settings, components, principal, label, report.ingested + report.updated)
    return {"source": source, "filename": file.filename, "report": doc, "job": job}


@router.post("/ingest/pull/{name}", response_model=IngestOut)
def pull(
    name: str, store: StoreDep, settings: SettingsDep, components: ComponentsDep, principal: DataTeam, label: bool = True
) -> dict[str, Any]:
    """Pull one source of the server's sources.yaml (forum API, SQL table or folder) from its cursor."""
    config_path = settings.sources_config
    if config_path is None:
        raise APIError(ErrorCode.E510, name=name, config="RADAR_SOURCES_CONFIG (not set)", options="none")
    config = load_sources_config(config_path)
    chosen = [s for s in config.sources if s.name == name]
    if not chosen:
        raise APIError(ErrorCode.E510, name=name, config=str(config_path), options=", ".join(s.name for s in config.sources))
    reports = ingest_config(config.model_copy(update={"sources": chosen}), store, ConvertOptions.from_settings(settings))
    doc = reports[name].to_dict()
    doc.pop("quarantine_path", None)
    ingested = reports[name].ingested + reports[name].updated
    return {
        "source": chosen[0].source.value,
        "filename": None,
        "report": doc,
        "job": _label_job(settings, components, principal, label, ingested),
    }
