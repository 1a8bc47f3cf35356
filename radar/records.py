"""The record model: one record per feedback item, whatever channel it came from."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field

__all__ = [
    "Evidence",
    "Label",
    "Record",
    "Source",
    "TicketFields",
    "Turn",
    "content_hash",
    "embedded_text",
    "record_id",
]


def embedded_text(title: str | None, text: str) -> str:
    """What the encoders embed for a record: its title and body (the search index and clustering agree on it)."""
    return f"{title}。{text}" if title else text


class Source(StrEnum):
    """The four feedback sources."""

    FORUM = "forum"
    CALLS = "calls"
    TICKETS = "tickets"
    FORMS = "forms"


Speaker = Literal["agent", "customer", "unknown"]


class Turn(BaseModel):
    """One turn of a 10086 call. ``speaker`` is inferred when the source has no labels."""

    speaker: Speaker = "unknown"
    text: str
    start_ms: int | None = None
    end_ms: int | None = None
    inferred: bool = False


class TicketFields(BaseModel):
    """Structured fields of a complaint ticket (投诉工单) as the source system holds them."""

    complaint_type_path: list[str] = Field(default_factory=list, description="投诉类型, split into levels")
    brand: str | None = None
    star: str | None = None
    result: str | None = None
    founded: bool | None = None
    escalated: bool | None = None
    repeated: bool | None = None
    satisfaction: str | None = None
    closed_at: datetime | None = None


# Evidence and Label are plain slotted dataclasses, not pydantic models: the labeller makes
# several per record, millions of times in a batch job, and validation cost a third of its time.
# Record still validates them when it is built (pydantic understands dataclasses).
@dataclass(slots=True)
class Evidence:
    """A span of the classified text that supports a label (character offsets, end exclusive; -1 for a structured field)."""

    text: str
    start: int
    end: int

    @classmethod
    def of(cls, text: str, start: int, end: int) -> Evidence:
        return cls(text, start, end)

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "start": self.start, "end": self.end}


@dataclass(slots=True)
class Label:
    """One label on a record. ``label`` is the Chinese name; sub-labels are paths (``触点/营业厅``)."""

    label: str
    score: float
    source: str
    evidence: list[Evidence] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not 0.0 <= self.score <= 1.0:
            raise ValueError(f"label score must lie in [0, 1], got {self.score}")

    @classmethod
    def of(cls, label: str, score: float, source: str, evidence: list[Evidence]) -> Label:
        """Positional shorthand for the labelling hot path; the score is clipped to [0, 1]."""
        return cls(label, min(1.0, max(0.0, score)), source, evidence)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Label:
        evidence = [e if isinstance(e, Evidence) else Evidence(e["text"], e["start"], e["end"]) for e in data.get("evidence", [])]
        return cls(data["label"], float(data["score"]), data["source"], evidence)

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "score": self.score, "source": self.source, "evidence": [e.to_dict() for e in self.evidence]}


class Record(BaseModel):
    """A feedback item after ingestion. ``text`` is normalised and PII-masked."""

    id: str
    source: Source
    source_id: str
    channel: str | None = None
    created_at: datetime | None = None
    region: str | None = None
    customer_key: str | None = None
    title: str | None = None
    text: str
    original_text: str | None = Field(default=None, description="Before normalisation, PII masked.")
    quoted_text: str | None = Field(default=None, description="Quoted earlier posts, kept apart.")
    turns: list[Turn] = Field(default_factory=list)
    ticket: TicketFields | None = None
    extra: dict[str, Any] = Field(default_factory=dict)
    duplicate_of: str | None = None
    labels: dict[str, list[Label]] = Field(default_factory=dict)
    needs_review: list[str] = Field(default_factory=list)
    taxonomy_version: str | None = None
    model_version: str | None = None

    def customer_text(self) -> str:
        """What the customer said: customer turns for calls, title and body elsewhere."""
        if self.turns:
            said = [t.text for t in self.turns if t.speaker != "agent"]
            return "。".join(said) if said else self.text
        return f"{self.title}。{self.text}" if self.title else self.text

    def label_names(self, facet: str) -> list[str]:
        return [lab.label for lab in self.labels.get(facet, [])]

    @property
    def content_hash(self) -> str:
        return content_hash(self.source.value, self.title or "", self.text)


def record_id(source: Source | str, source_id: str) -> str:
    """Stable record id: the source and the id the source system gave the item."""
    return f"{Source(source).value}:{source_id}"


def content_hash(*parts: str) -> str:
    """Hash of the content; labels and embeddings are keyed on it so unchanged text is not redone."""
    digest = hashlib.blake2b(digest_size=16)
    for part in parts:
        digest.update(part.encode("utf-8"))
        digest.update(b"\x1f")
    return digest.hexdigest()
