"""Ad-hoc classification: text in, labels with scores and evidence out (nothing is stored)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from api.deps import ComponentsDep, require
from api.keys import Principal
from api.schemas import ClassifyOut
from nlp.normalize import normalize
from nlp.pii import mask_pii
from taxonomy.classifiers.base import Document

__all__ = ["router"]

router = APIRouter(tags=["classify"])
MAX_CHARS = 20_000


class ClassifyRequest(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_CHARS, examples=["5G套餐每月扣了58元，流量却不够用，太坑了"])
    source: str | None = Field(None, pattern="^(forum|calls|tickets|forms)$", examples=["tickets"])


@router.post("/classify", response_model=ClassifyOut)
def classify(
    body: ClassifyRequest,
    components: ComponentsDep,
    _: Annotated[Principal, Depends(require("demand_manager", "complaint_agent", "labeler", "viewer"))],
) -> dict[str, Any]:
    """Labels per facet (best first, each with score, source and evidence) and the facets needing review.
    The text is normalised and personal data masked first, as at ingestion."""
    text, _found = mask_pii(normalize(body.text))
    result = components.labeler.run(Document(text=text, source=body.source))
    return {
        "text": text,
        "labels": {facet: [lab.to_dict() for lab in labs] for facet, labs in result.labels.items()},
        "needs_review": result.needs_review,
        "taxonomy_version": components.taxonomy.version,
    }
