"""Complaint credit grades: a pure function of one customer's contact events and the scorecard.

score = neutral + sum over factors of weight * min(value, cap), clipped to 0..100, where each
value is a count of events weighted by their age window (and, for complaints, by complaint
type). Risk factors have non-negative weights, so more complaints, founded repeats or
escalations can never lower the score; unfounded complaints are the credibility side.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from insights.credit.events import ContactEvent
from insights.credit.scorecard import Guidance, Scorecard

__all__ = ["CustomerGrade", "FactorContribution", "factor_values", "grade_customer", "repeat_flags", "repeat_links"]

_MAX_LOOKBACK = 50  # earlier complaints compared per complaint: bounds a pathological history


@dataclass(frozen=True, slots=True)
class FactorContribution:
    name: str
    value: float  # weighted count (or 0..1 for value and tenure)
    weight: float
    points: float  # what it adds to the score: weight * min(value, cap)
    description: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "factor": self.name,
            "value": round(self.value, 4),
            "weight": self.weight,
            "points": round(self.points, 4),
            "description": self.description,
        }


@dataclass(frozen=True)
class CustomerGrade:
    customer_key: str
    grade: str
    name: str
    score: float
    factors: tuple[FactorContribution, ...]
    guidance: Guidance
    scorecard_version: str
    as_of: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "customer_key": self.customer_key,
            "grade": self.grade,
            "grade_name": self.name,
            "score": round(self.score, 2),
            "factors": [f.to_dict() for f in self.factors],
            "guidance": self.guidance.model_dump(),
            "scorecard_version": self.scorecard_version,
            "as_of": self.as_of.isoformat(timespec="seconds"),
        }


def _bigrams(text: str) -> frozenset[str]:
    return frozenset(text[i : i + 2] for i in range(len(text) - 1))


def _typed(event: ContactEvent) -> str | None:
    return event.complaint_type if event.complaint_type and event.complaint_type != "其他" else None


def repeat_links(events: Sequence[ContactEvent], scorecard: Scorecard) -> list[str | None]:
    """For each event (in time order): the record id of the earlier complaint it repeats on the same
    issue within ``repeat_days``, or ``None``. Same issue: the same complaint type when both have one
    (a dictionary lookup), else similar text (bigram Jaccard against the last few untyped complaints)."""
    links: list[str | None] = []
    last_of_type: dict[str, ContactEvent] = {}
    untyped: deque[tuple[ContactEvent, frozenset[str]]] = deque(maxlen=_MAX_LOOKBACK)
    for event in events:
        if not event.complaint:
            links.append(None)
            continue
        kind = _typed(event)
        if kind is not None:
            seen = last_of_type.get(kind)
            links.append(seen.record_id if seen is not None and (event.at - seen.at).days <= scorecard.repeat_days else None)
            last_of_type[kind] = event
            continue
        grams = _bigrams(event.text)
        match = None
        if grams:
            for earlier, other in reversed(untyped):
                close = (event.at - earlier.at).days <= scorecard.repeat_days
                if close and other and len(grams & other) / len(grams | other) >= scorecard.repeat_similarity:
                    match = earlier.record_id
                    break
        links.append(match)
        untyped.append((event, grams))
    return links


def repeat_flags(events: Sequence[ContactEvent], scorecard: Scorecard) -> list[bool]:
    return [link is not None for link in repeat_links(events, scorecard)]


def factor_values(events: Sequence[ContactEvent], scorecard: Scorecard, as_of: datetime) -> dict[str, float]:
    """Each factor's weighted count over the customer's events up to ``as_of``."""
    values = dict.fromkeys(("complaints", "founded_repeats", "escalations", "compensation", "dissatisfied", "unfounded"), 0.0)
    values["customer_value"] = max((e.value for e in events), default=0.0)
    values["tenure"] = min(1.0, max((e.tenure_years for e in events), default=0.0) / 10)
    for event, repeat in zip(events, repeat_flags(events, scorecard), strict=True):
        window = scorecard.window_weight((as_of - event.at).total_seconds() / 86400)
        if window == 0.0:
            continue
        if not event.complaint:
            values["dissatisfied"] += window * event.dissatisfied
            continue
        weighted = window * scorecard.type_weight(event.complaint_type)
        # a threat to go to the regulator is a risk whether or not the complaint was founded
        values["escalations"] += weighted * event.escalated
        if event.founded is False:  # found unfounded: otherwise it counts on the credibility side only
            values["unfounded"] += window
            continue
        values["complaints"] += weighted
        if repeat:
            values["founded_repeats"] += weighted
        values["compensation"] += window * event.compensation
    return values


def grade_customer(customer_key: str, events: Sequence[ContactEvent], scorecard: Scorecard, as_of: datetime) -> CustomerGrade:
    """The customer's grade, score and each factor's contribution (events in time order)."""
    values = factor_values(events, scorecard, as_of)
    factors = []
    for name, spec in scorecard.factors.items():
        value = values.get(name, 0.0)
        factors.append(FactorContribution(name, value, spec.weight, spec.weight * min(value, spec.cap), spec.description))
    score = min(100.0, max(0.0, scorecard.neutral_score + sum(f.points for f in factors)))
    grade = scorecard.grade_for(score)
    ranked = tuple(sorted(factors, key=lambda f: (-abs(f.points), f.name)))
    return CustomerGrade(customer_key, grade.grade, grade.name, round(score, 4), ranked, grade.guidance, scorecard.version, as_of)
