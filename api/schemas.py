"""Response models: the OpenAPI document's shapes, with examples. Requests live beside their routes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ClassifyOut",
    "ErrorOut",
    "EvidenceOut",
    "HitOut",
    "IngestOut",
    "JobOut",
    "LabelOut",
    "ModelOut",
    "SavedSearchOut",
    "SearchOut",
    "TaxonomyVersionOut",
    "ERRORS",
    "RowId",
]

# an id of a store row: SQLite integers are 64-bit, so anything larger is a 422, not an overflow
RowId = Annotated[int, Path(ge=1, le=2**63 - 1, examples=[1])]


class ErrorOut(BaseModel):
    """Every error: a stable code, what happened, and how to fix it."""

    code: str = Field(examples=["E503"])
    message: str = Field(examples=["Role 'viewer' may not POST /proposals/P-1/status"])
    hint: str = Field(examples=["Ask an admin for a key with one of the roles: admin, demand_manager."])


# the error responses every protected route can give, for the OpenAPI document
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "Missing, wrong or revoked API key (E502)"},
    403: {"model": ErrorOut, "description": "The key's role may not do this (E503)"},
    422: {"model": ErrorOut, "description": "Invalid argument (E501)"},
    429: {"model": ErrorOut, "description": "Rate limit of the key (E504)"},
}


class EvidenceOut(BaseModel):
    text: str = Field(examples=["扣了58元"])
    start: int = Field(examples=[5], description="Character offset in the text; -1 for a structured field")
    end: int = Field(examples=[10])


class LabelOut(BaseModel):
    label: str = Field(examples=["消费/资费"], description="Chinese name; sub-labels are paths")
    score: float = Field(ge=0, le=1, examples=[0.82])
    source: str = Field(examples=["rules"], description="Which classifier gave it: rules, a trained model, zero-shot")
    evidence: list[EvidenceOut] = []


class ClassifyOut(BaseModel):
    text: str = Field(description="The text as classified: normalised, personal data masked")
    labels: dict[str, list[LabelOut]] = Field(description="Per facet, best first")
    needs_review: list[str] = Field(description="Facets where the labeler was unsure")
    taxonomy_version: str


class HitOut(BaseModel):
    id: str = Field(examples=["tickets:GD00000017"])
    source: str = Field(examples=["tickets"])
    created_at: str | None = None
    title: str | None = None
    text: str = Field(description="Masked text")
    labels: dict[str, list[LabelOut]]
    score: float
    highlights: list[list[int]] = Field(description="[start, end) character spans of the text that matched")
    duplicates: int = Field(0, description="With collapse: other results that nearly repeat this one, folded into it")


class SearchOut(BaseModel):
    total: int
    relaxed: bool = Field(description="True when no record had every word and the query was relaxed to any word")
    hits: list[HitOut]
    facets: dict[str, dict[str, int]] = Field(description="Counts per facet value over the filtered set")
    next_cursor: str | None = None


class SavedSearchOut(BaseModel):
    name: str
    query: str
    filters: list[list[str]]
    rule: bool


class IngestOut(BaseModel):
    source: str
    filename: str | None
    report: dict[str, Any] = Field(
        examples=[{"read": 120, "ingested": 117, "updated": 0, "duplicates": 1, "quarantined": 2, "near_duplicates": 3}],
        description="read = ingested + updated + duplicates + quarantined",
    )
    job: dict[str, Any] | None = Field(None, description="The label job started for the new records, if any")


class JobOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: int
    kind: str = Field(examples=["backfill"])
    status: str = Field(examples=["running"], description="running, done, cancelled or failed")
    started_at: str
    finished_at: str | None = None
    done: int = Field(description="Records processed so far")
    total: int | None = Field(None, description="Records to process, where known in advance")
    cancel_requested: bool
    started_by: str | None = None
    counts: dict[str, Any]
    versions: dict[str, Any]
    errors: list[str]


class ModelOut(BaseModel):
    id: int
    name: str
    path: str
    facet: str | None
    promoted: bool
    attached: bool
    created_at: str
    card: dict[str, Any] = Field(description="The model card: type, data, held-out metrics")


class TaxonomyVersionOut(BaseModel):
    version: str = Field(examples=["2026.11.2"])
    fingerprint: str
    uploaded_by: str
    uploaded_at: str
    active: bool
