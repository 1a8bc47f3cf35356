"""Trained models in the registry: list, show, promote, attach to a facet's ensemble (data teams; admins decide)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from api.deps import SettingsDep, StoreDep, require
from api.keys import Principal
from api.schemas import ModelOut, RowId
from api.taxonomies import active_taxonomy
from search.store import Store

__all__ = ["router"]

router = APIRouter(tags=["models"])
DataTeam = Annotated[Principal, Depends(require("labeler"))]
Admin = Annotated[Principal, Depends(require())]


def _doc(store: Store, model_id: int) -> dict[str, Any]:
    return _row_doc(store.model(model_id))  # E306 (404) for an unknown id


def _row_doc(row: Any) -> dict[str, Any]:
    return {
        **{k: row[k] for k in ("id", "name", "path", "facet", "created_at")},
        "promoted": bool(row["promoted"]),
        "attached": bool(row["attached"]),
        "card": json.loads(row["card"]),
    }


@router.get("/models", response_model=list[ModelOut])
def models(store: StoreDep, _: DataTeam) -> list[dict[str, Any]]:
    """Registered models with their cards (type, training data, held-out metrics) and flags."""
    return [_row_doc(r) for r in store.models()]


@router.get("/models/{model_id}", response_model=ModelOut)
def model(model_id: RowId, store: StoreDep, _: DataTeam) -> dict[str, Any]:
    return _doc(store, model_id)


@router.post("/models/{model_id}/promote", response_model=ModelOut)
def promote(model_id: RowId, store: StoreDep, _: Admin) -> dict[str, Any]:
    """The chosen model for its facet (one per facet)."""
    _doc(store, model_id)
    store.set_model_flag(model_id, "promoted")
    return _doc(store, model_id)


@router.post("/models/{model_id}/attach", response_model=ModelOut)
def attach(
    model_id: RowId,
    store: StoreDep,
    settings: SettingsDep,
    _: Admin,
    facet: Annotated[str, Query(max_length=50, examples=["complaint_type"])],
) -> dict[str, Any]:
    """Let the model vote in the facet's ensemble; a ``backfill`` job re-labels the store with it."""
    _doc(store, model_id)
    active_taxonomy(store, settings).facet(facet)  # E204 for an unknown facet
    store.set_model_flag(model_id, "attached", facet)
    return _doc(store, model_id)
