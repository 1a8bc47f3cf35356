"""The complaint-credit scorecard: a versioned YAML file, validated (see ``insights/data/credit_scorecard.yaml``)."""

from __future__ import annotations

import hashlib
import json
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from radar.errors import ErrorCode, InsightsError
from radar.yaml_models import load_yaml_model

__all__ = ["FactorDef", "GradeDef", "Guidance", "Scorecard", "load_scorecard"]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Window(_Frozen):
    days: int = Field(gt=0)
    weight: float = Field(ge=0)


class FactorDef(_Frozen):
    weight: float
    cap: float = Field(gt=0)
    side: Literal["risk", "credibility"]
    description: str = ""

    @model_validator(mode="after")
    def _sign_matches_side(self) -> FactorDef:
        # the monotonicity the complaint teams rely on: risk factors can only raise the score
        if (self.side == "risk") != (self.weight >= 0):
            raise ValueError(f"a {self.side} factor needs a {'non-negative' if self.side == 'risk' else 'negative'} weight")
        return self


class Guidance(_Frozen):
    seat: str
    response_hours: float = Field(gt=0)
    resolution_hours: float = Field(gt=0)
    callback: bool = False
    manager_review: bool = False
    verify_first: bool = False


class GradeDef(_Frozen):
    grade: str
    min_score: float
    name: str
    level: float = Field(0.5, ge=0, le=1, description="the grade's part in triage priority, 0..1")
    guidance: Guidance


class RiskWeights(_Frozen):
    threat_cue: float = 0.45
    intensity: float = 0.3
    repeat_contact: float = 0.1
    unresolved_before: float = 0.15
    overdue: float = 0.35
    grade_a: float = 0.1


class PriorityWeights(_Frozen):
    grade: float = 0.35
    risk: float = 0.35
    urgency: float = 0.2
    customer_value: float = 0.1


class PotentialRule(_Frozen):
    min_dissatisfied: int = 2
    window_days: int = 30
    min_intensity: float = 0.3


class Scorecard(_Frozen):
    version: str
    neutral_score: float = 50.0
    windows: list[Window]
    repeat_days: int = 30
    repeat_similarity: float = Field(0.5, ge=0, le=1)
    factors: dict[str, FactorDef]
    complaint_type_weights: dict[str, float] = Field(default_factory=lambda: {"default": 1.0})
    compensation_cues: list[str] = Field(default_factory=list)
    brand_value: dict[str, float] = Field(default_factory=dict)
    star_value: dict[str, float] = Field(default_factory=dict)
    grades: list[GradeDef]
    risk: RiskWeights = RiskWeights()
    priority: PriorityWeights = PriorityWeights()
    potential: PotentialRule = PotentialRule()

    @model_validator(mode="after")
    def _grades_cover_the_scale(self) -> Scorecard:
        mins = [g.min_score for g in self.grades]
        if mins != sorted(mins, reverse=True) or not mins or mins[-1] > 0:
            raise ValueError("grades must be listed from the highest min_score down, and the last must start at 0")
        if sorted(w.days for w in self.windows) != [w.days for w in self.windows]:
            raise ValueError("windows must be listed from the shortest")
        missing = {"complaints", "founded_repeats", "escalations", "unfounded"} - set(self.factors)
        if missing:
            raise ValueError(f"factors missing: {', '.join(sorted(missing))}")
        return self

    @cached_property
    def fingerprint(self) -> str:
        payload = json.dumps(self.model_dump(mode="json"), ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:12]

    @property
    def neutral_grade(self) -> str:
        return self.grade_for(self.neutral_score).grade

    def grade_for(self, score: float) -> GradeDef:
        return next(g for g in self.grades if score >= g.min_score)

    def by_grade(self, grade: str) -> GradeDef:
        return next(g for g in self.grades if g.grade == grade)

    def type_weight(self, complaint_type: str | None) -> float:
        default = self.complaint_type_weights.get("default", 1.0)
        return self.complaint_type_weights.get(complaint_type or "", default)

    def window_weight(self, age_days: float) -> float:
        """Weight of an event this many days old: 0 beyond the longest window."""
        if age_days < 0:
            return 0.0  # after the grading date: not yet history
        return next((w.weight for w in self.windows if age_days <= w.days), 0.0)


def bundled_scorecard_path() -> Path:
    return Path(str(resources.files("insights").joinpath("data/credit_scorecard.yaml")))


def load_scorecard(path: Path | None = None) -> Scorecard:
    """The scorecard at ``path`` (default: the bundled one), validated; errors carry code E403."""
    return load_yaml_model(path or bundled_scorecard_path(), Scorecard, ErrorCode.E403, InsightsError)
