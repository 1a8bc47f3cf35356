"""Records (masked by default) and a customer's contact history (complaint teams only, audited).

Raw contact numbers are shown only to admins, and to a complaint agent for a complaint they have
claimed in the triage queue; every such view is written to the audit log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from api.deps import StoreDep, require
from api.keys import Principal
from insights.credit.scorecard import load_scorecard
from insights.credit.service import audit, contact_history
from insights.credit.tables import ensure_tables
from radar.errors import APIError, ErrorCode
from search.store import Store

__all__ = ["router"]

router = APIRouter(tags=["records"])
Reader = Annotated[Principal, Depends(require("demand_manager", "complaint_agent", "labeler", "viewer"))]
Complaints = Annotated[Principal, Depends(require("complaint_agent"))]


def _may_reveal(store: Store, principal: Principal, record_id: str) -> bool:
    if principal.role == "admin":
        return True
    if principal.role != "complaint_agent":
        return False
    ensure_tables(store)
    row = store.conn.execute("SELECT claimed_by FROM triage_claims WHERE record_id = ?", (record_id,)).fetchone()
    return row is not None and row[0] == principal.name


@router.get("/records/{record_id}")
def get_record(record_id: str, store: StoreDep, principal: Reader, reveal: bool = False) -> dict[str, Any]:
    """The record as stored (text masked), its labels with evidence, entities, and per-turn sentiment.
    ``reveal=true`` adds the raw contact numbers where the caller's role and queue allow it."""
    record = store.get(record_id)
    if record is None:
        raise APIError(ErrorCode.E505, record_id=record_id)
    doc = record.model_dump(mode="json", exclude={"original_text"})
    doc["labels"] = {f: [lab.to_dict() for lab in labs] for f, labs in record.labels.items()}
    doc["entities"] = [dict(r) for r in store.entities(record_id)]
    if principal.role not in ("admin", "complaint_agent"):
        doc.pop("customer_key", None)  # the link across channels is a complaint-team tool
    if reveal:
        if not _may_reveal(store, principal, record_id):
            raise APIError(
                ErrorCode.E503,
                role=principal.role,
                action="see raw contact numbers of this record",
                roles="admin, or complaint_agent holding the complaint's claim",
            )
        rows = store.conn.execute("SELECT kind, value FROM raw_identifiers WHERE record_id = ?", (record_id,)).fetchall()
        doc["raw_identifiers"] = [dict(r) for r in rows]
        ensure_tables(store)
        with store.transaction():
            audit(store, principal.name, "reveal_pii", record_id=record_id, detail=f"{len(rows)} identifiers")
    return doc


@router.get("/customers/{customer_key}/history")
def customer_history(customer_key: str, store: StoreDep, principal: Complaints) -> dict[str, Any]:
    """客户接触信息视图: contacts in time order with repeat links, the credit grade and its factors (audited)."""
    return contact_history(store, load_scorecard(), customer_key, viewer=principal.name)
