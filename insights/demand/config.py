"""Proposal configuration: a versioned YAML file (``insights/data/proposals.yaml``), validated."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from insights.demand.clustering import ClusterParams
from radar.errors import ErrorCode, InsightsError
from radar.yaml_models import load_yaml_model

__all__ = ["ProposalConfig", "load_proposal_config"]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ClusteringConfig(_Frozen):
    join: float = Field(0.25, gt=0, le=1)
    merge: float = Field(0.5, gt=0, le=1)
    split_cohesion: float = Field(0.2, ge=0, le=1)
    min_size: int = Field(3, ge=2)
    embedding_weight: float = Field(0.3, ge=0, le=1)
    exact_limit: int = Field(4096, ge=0)
    batch: int = Field(256, ge=1)

    def params(self) -> ClusterParams:
        return ClusterParams(
            self.join,
            self.merge,
            self.split_cohesion,
            self.min_size,
            batch=self.batch,
            embedding_weight=self.embedding_weight,
            exact_limit=self.exact_limit,
        )


class DraftRule(_Frozen):
    min_size: int = Field(5, ge=1)
    min_priority: float = Field(0.0, ge=0, le=1)


class PriorityWeights(_Frozen):
    volume: float = 0.4
    growth: float = 0.15
    breadth: float = 0.1
    customer_value: float = 0.1
    intensity: float = 0.1
    escalation: float = 0.15


class TierRules(_Frozen):
    city_share: float = Field(0.8, gt=0, le=1)
    policy_share: float = Field(0.2, gt=0, le=1)
    policy_keywords: list[str] = Field(default_factory=list)


class RoutingRules(_Frozen):
    default_department: str = "服务"
    feedback_weight: float = Field(2.0, ge=0)


class ProposalConfig(_Frozen):
    version: str
    clustering: ClusteringConfig = ClusteringConfig()
    draft: DraftRule = DraftRule()
    demand_threshold: float = Field(0.5, ge=0, le=1)
    priority_weights: PriorityWeights = PriorityWeights()
    tiers: TierRules = TierRules()
    routing: RoutingRules = RoutingRules()


def bundled_config_path() -> Path:
    return Path(str(resources.files("insights").joinpath("data/proposals.yaml")))


def load_proposal_config(path: Path | None = None) -> ProposalConfig:
    """The configuration at ``path`` (default: the bundled one), validated; errors carry code E406."""
    return load_yaml_model(path or bundled_config_path(), ProposalConfig, ErrorCode.E406, InsightsError)
