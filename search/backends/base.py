"""The search backend protocol and its request/response types."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from nlp.keywords import IdfTable
from radar.records import Record

__all__ = [
    "CREDIT_GRADE",
    "DERIVED_FILTERS",
    "IN_PROPOSAL",
    "NO",
    "RECORD_FILTERS",
    "YES",
    "Hit",
    "SearchBackend",
    "SearchRequest",
    "SearchResponse",
]

# filters answered from record columns; every other facet comes from the labels
RECORD_FILTERS = ("source", "region", "channel_field")
# filters answered from the insights tables: the customer's complaint credit grade (credit_grades, by
# customer_key) and whether the record is in a demand proposal (a member of a cluster with a proposal)
CREDIT_GRADE = "credit_grade"
IN_PROPOSAL = "in_proposal"
DERIVED_FILTERS = (CREDIT_GRADE, IN_PROPOSAL)
YES = frozenset({"yes", "true", "1", "是"})
NO = frozenset({"no", "false", "0", "否"})


@dataclass
class SearchRequest:
    query: str = ""
    filters: list[tuple[str, str]] = field(default_factory=list)
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 10
    cursor: str | None = None
    order: str = "relevance"  # or "time"
    mode: str | None = None  # keyword | semantic | hybrid; None: hybrid when the backend has an embedder
    like: str | None = None  # more like this record id (the record itself is left out)
    exclude_ids: Sequence[str] = ()
    collapse: bool = False  # near duplicates (records.duplicate_of) as one hit, with Hit.duplicates counting the rest
    facets: Sequence[str] = ("demand_category", "complaint_type", "intent", "sentiment", "product", "channel", "source", "region")


@dataclass
class Hit:
    record: Record
    score: float
    highlights: list[tuple[int, int]] = field(default_factory=list)
    duplicates: int = 0  # with collapse: other results repeating this one, folded into it


@dataclass
class SearchResponse:
    total: int
    hits: list[Hit]
    facets: dict[str, dict[str, int]]
    next_cursor: str | None = None
    relaxed: bool = False  # True when no record held every term and any-term matching was used


@runtime_checkable
class SearchBackend(Protocol):
    """Indexes records from the store and answers searches with facet counts."""

    name: str

    def index(self, rowids: Sequence[int]) -> int: ...

    def search(self, request: SearchRequest) -> SearchResponse: ...

    def idf(self, words: Iterable[str]) -> IdfTable:
        """Document frequencies of ``words`` in the indexed corpus (TF-IDF keywords, more-like-this)."""
        ...
