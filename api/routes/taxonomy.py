"""The taxonomy: view the active one, validate and upload versions, activate one, diff two (admins own it)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query

from api.deps import SettingsDep, StoreDep, require
from api.keys import Principal
from api.schemas import TaxonomyVersionOut
from api.taxonomies import activate, active_taxonomy, add_version, get_version, list_versions, parse_upload
from radar.errors import APIError, ErrorCode
from taxonomy.schema import Taxonomy
from taxonomy.versioning import diff_taxonomies

__all__ = ["router"]

router = APIRouter(tags=["taxonomy"])
Reader = Annotated[Principal, Depends(require("demand_manager", "complaint_agent", "labeler", "viewer"))]
DataTeam = Annotated[Principal, Depends(require("labeler"))]
Admin = Annotated[Principal, Depends(require())]
MAX_YAML = 2_000_000
EXAMPLE = "version: 2026.12.1\nfacets:\n  - name: intent\n    labels:\n      - {id: consult, name: 咨询, keywords: [请问, 怎么]}\n"
YamlBody = Annotated[str, Body(media_type="application/yaml", max_length=MAX_YAML, examples=[EXAMPLE])]


def _tree(taxonomy: Taxonomy) -> dict[str, Any]:
    return {
        "version": taxonomy.version,
        "fingerprint": taxonomy.fingerprint,
        "facets": [
            {
                "name": f.name,
                "description": f.description,
                "multi_label": f.multi_label,
                "labels": [
                    {
                        "id": lab.id,
                        "name": lab.name,
                        "path": f.path(lab.id),
                        "parent": lab.parent,
                        "department": lab.department,
                        "description": lab.description,
                        "keywords": lab.keywords,
                        "negative_keywords": lab.negative_keywords,
                        "examples": lab.examples,
                        "retired": lab.retired,
                    }
                    for lab in f.labels
                ],
            }
            for f in taxonomy.facets
        ],
    }


@router.get("/taxonomy")
def view(store: StoreDep, settings: SettingsDep, _: Reader) -> dict[str, Any]:
    """The active taxonomy: facets, labels with paths, departments and keywords."""
    return _tree(active_taxonomy(store, settings))


@router.post("/taxonomy/validate")
def validate(text: YamlBody, _: DataTeam) -> dict[str, Any]:
    """Validate a taxonomy YAML without keeping it (422 with E201 and the reasons when invalid)."""
    taxonomy = parse_upload(text)
    return {
        "valid": True,
        "version": taxonomy.version,
        "fingerprint": taxonomy.fingerprint,
        "facets": {f.name: len(f.labels) for f in taxonomy.facets},
    }


@router.get("/taxonomy/versions", response_model=list[TaxonomyVersionOut])
def versions(store: StoreDep, _: DataTeam) -> list[dict[str, Any]]:
    return list_versions(store)


@router.post("/taxonomy/versions", response_model=TaxonomyVersionOut, status_code=201)
def upload(text: YamlBody, store: StoreDep, principal: Admin) -> dict[str, Any]:
    """Keep a new version (validated; the same content is kept once). It takes effect when activated."""
    return add_version(store, text, principal.name)


@router.post("/taxonomy/versions/{ref}/activate", response_model=TaxonomyVersionOut)
def make_active(ref: str, store: StoreDep, _: Admin) -> dict[str, Any]:
    """Classify with this version from now on; start a ``backfill`` job to re-label the store with it."""
    return activate(store, ref)


@router.get("/taxonomy/diff")
def diff(
    store: StoreDep,
    settings: SettingsDep,
    _: DataTeam,
    old: Annotated[str, Query(max_length=100, examples=["bundled"])] = "bundled",
    new: Annotated[str, Query(max_length=100, examples=["active"])] = "active",
) -> dict[str, Any]:
    """Labels added, removed, retired, renamed and with changed rules, between two versions
    (a version string, a fingerprint, ``active`` or ``bundled``)."""
    if old == new:
        raise APIError(ErrorCode.E501, reason="old and new name the same version", command="taxonomy diff")
    return diff_taxonomies(get_version(store, old, settings), get_version(store, new, settings))
