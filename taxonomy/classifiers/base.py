"""The classifier protocol and the small value types classifiers exchange."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from radar.records import Evidence

__all__ = ["Candidate", "Classifier", "Document"]


@dataclass(frozen=True, slots=True)
class Document:
    """What a classifier sees: the customer's words plus structured hints from the source."""

    text: str
    source: str | None = None
    complaint_type_path: tuple[str, ...] = ()
    turns: tuple[tuple[str, str], ...] = ()  # (speaker, text) of a call, for per-turn sentiment


@dataclass(slots=True)
class Candidate:
    """A label a classifier proposes for a facet, before the ensemble decides."""

    facet: str
    label_id: str
    score: float
    source: str
    evidence: list[Evidence] = field(default_factory=list)


@runtime_checkable
class Classifier(Protocol):
    """Proposes scored candidates per facet. ``warm_up`` loads resources; ``run`` is pure."""

    name: str

    def warm_up(self) -> None: ...

    def run(self, doc: Document) -> list[Candidate]: ...
