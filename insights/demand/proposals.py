"""Proposal drafts from a cluster of demand records: title, problem statement, evidence, priority,
owning department and tier. Pure functions over the cluster's members."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from insights.demand.clustering import vectorize
from insights.demand.config import ProposalConfig
from nlp.keywords import tfidf
from radar.records import Record

__all__ = ["Draft", "Member", "draft_proposal", "member_from_record", "route_department", "tier_for"]

_SENTENCE = re.compile(r"[^。！？!?；;\n]+[。！？!?；;]?")
TIERS = ("地市", "省", "总部")


@dataclass(frozen=True)
class Member:
    """What a proposal needs from one record."""

    record_id: str
    source: str
    channel: str | None
    region: str | None
    created_at: datetime | None
    title: str | None
    text: str
    likes: int = 0
    negative: float = 0.0  # negative-sentiment intensity 0..1
    sentiment: str = "中性"
    escalation: bool = False
    products: tuple[str, ...] = ()
    demand: tuple[str, ...] = ()  # demand_category paths
    complaint_type: str | None = None
    value: float | None = None  # customer value 0..1 where known
    route_labels: tuple[tuple[str, float], ...] = ()  # (label path, score) for routing


def member_from_record(record: Record, value: float | None = None) -> Member:
    sentiment = record.labels.get("sentiment", [])
    polarity = sentiment[0].label if sentiment else "中性"
    negative = max(0.0, (sentiment[0].score - 0.5) * 2) if polarity == "负面" else 0.0
    likes = record.extra.get("likes", 0)
    complaint = record.labels.get("complaint_type", [])
    demand = record.labels.get("demand_category", [])
    return Member(
        record_id=record.id,
        source=record.source.value,
        channel=record.channel,
        region=record.region,
        created_at=record.created_at,
        title=record.title,
        text=record.customer_text() if record.turns else record.text,
        likes=int(likes) if isinstance(likes, int | float) or str(likes).isdigit() else 0,
        negative=round(negative, 4),
        sentiment=polarity,
        escalation="escalation" in record.labels,
        products=tuple(lab.label for lab in record.labels.get("product", [])),
        demand=tuple(lab.label for lab in demand),
        complaint_type=complaint[0].label if complaint else None,
        value=value,
        route_labels=tuple((lab.label, lab.score) for lab in [*demand, *complaint]),
    )


@dataclass
class Draft:
    cluster_id: str
    title: str
    keywords: list[str]
    summary: str
    size: int
    department: str
    department_scores: dict[str, float]
    tier: str
    tier_reason: str
    priority: float
    dimensions: dict[str, float]
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _mix(values: Sequence[str | None]) -> dict[str, int]:
    return dict(Counter(v for v in values if v).most_common())


def _sentences(members: Sequence[Member]) -> list[tuple[str, str]]:
    out = []
    for m in members:
        for s in _SENTENCE.findall(f"{m.title}。{m.text}" if m.title else m.text):
            s = s.strip()
            if 8 <= len(s) <= 120:
                out.append((m.record_id, s))
    return out


def summarize(members: Sequence[Member], words: Callable[[str], list[str]], idf: Callable[[str], float], limit: int = 2) -> str:
    """Extractive: the sentences closest to the cluster's centroid, without near repeats."""
    sentences = _sentences(members)[:400]
    if not sentences:
        return members[0].text[:120] if members else ""
    vectors = vectorize([(words(s), s) for _, s in sentences], idf)
    centroid = np.asarray(vectors.mean(axis=0)).ravel()
    scores = vectors @ centroid
    chosen: list[int] = []
    for i in np.argsort(-scores, kind="stable"):
        if all((vectors[int(i)] @ vectors[j].T).toarray()[0, 0] < 0.6 for j in chosen):
            chosen.append(int(i))
        if len(chosen) >= limit:
            break
    return "".join(sentences[i][1] if sentences[i][1][-1] in "。！？!?；;" else sentences[i][1] + "。" for i in chosen)


def route_department(
    members: Sequence[Member], label_departments: Mapping[str, str], feedback: Mapping[tuple[str, str], float], config: ProposalConfig
) -> tuple[str, dict[str, float]]:
    """The owning department: the taxonomy's routing of the members' labels, shifted by what
    reviewers accepted or re-routed before (``feedback[(label, department)]``)."""
    votes: dict[str, float] = {}
    labels: Counter[str] = Counter()
    for m in members:
        for label, score in m.route_labels:
            labels[label] += 1
            dept = label_departments.get(label) or label_departments.get(label.split("/")[0])
            if dept:
                votes[dept] = votes.get(dept, 0.0) + score
    total_labels = sum(labels.values()) or 1
    for (label, dept), weight in feedback.items():
        if label in labels:
            votes[dept] = votes.get(dept, 0.0) + config.routing.feedback_weight * weight * labels[label] / total_labels * len(members)
    if not votes or max(votes.values()) <= 0:
        return config.routing.default_department, {}
    ranked = sorted(votes.items(), key=lambda kv: (-kv[1], kv[0]))
    return ranked[0][0], {k: round(v, 3) for k, v in ranked}


def tier_for(members: Sequence[Member], province_of: Mapping[str, str], config: ProposalConfig) -> tuple[str, str]:
    """地市 when concentrated in one city, 省 across cities, 总部 across provinces or on a policy matter."""
    rules = config.tiers
    policy = sum(any(k in m.text for k in rules.policy_keywords) for m in members)
    if members and policy / len(members) >= rules.policy_share:
        return "总部", f"{policy} of {len(members)} records raise a policy matter"
    cities = Counter(m.region for m in members if m.region)
    provinces = {province_of.get(c) or province_of.get(c.rstrip("市")) for c in cities}
    provinces.discard(None)
    if len(provinces) > 1:
        return "总部", f"across provinces: {', '.join(sorted(p for p in provinces if p))}"
    if not cities:
        return "地市", "no region recorded: handled where it was raised"
    city, n = cities.most_common(1)[0]
    if n / sum(cities.values()) >= rules.city_share:
        return "地市", f"{n} of {sum(cities.values())} records in {city}"
    return "省", f"across {len(cities)} cities"


def _dimensions(members: Sequence[Member], as_of: datetime, max_volume: float) -> dict[str, float]:
    volume = len(members) + math.sqrt(sum(m.likes for m in members))
    recent = sum(1 for m in members if m.created_at and as_of - timedelta(days=30) <= m.created_at <= as_of)
    before = sum(1 for m in members if m.created_at and as_of - timedelta(days=60) <= m.created_at < as_of - timedelta(days=30))
    regions = len({m.region for m in members if m.region})
    channels = len({m.channel for m in members if m.channel}) + len({m.source for m in members}) - 1
    values = [m.value for m in members if m.value is not None]
    return {
        "volume": round(min(1.0, math.log1p(volume) / math.log1p(max(max_volume, volume))), 4),
        "growth": round(((recent - before) / (recent + before + 1) + 1) / 2, 4),
        "breadth": round(0.5 * min(1.0, (regions - 1) / 5) + 0.5 * min(1.0, max(0, channels - 1) / 5), 4) if regions else 0.0,
        "customer_value": round(sum(values) / len(values), 4) if values else 0.0,
        "intensity": round(sum(m.negative for m in members) / len(members), 4),
        "escalation": round(sum(m.escalation for m in members) / len(members), 4),
    }


def _evidence(members: Sequence[Member], central: Sequence[str]) -> dict[str, Any]:
    by_id = {m.record_id: m for m in members}
    periods = _mix([m.created_at.strftime("%Y-%m") if m.created_at else None for m in members])
    return {
        "record_ids": [m.record_id for m in members],
        "quotes": [{"record_id": r, "quote": (by_id[r].title or by_id[r].text)[:100]} for r in central[:5]],
        "by_source": _mix([m.source for m in members]),
        "by_channel": _mix([m.channel for m in members]),
        "by_region": _mix([m.region for m in members]),
        "by_period": dict(sorted(periods.items())),
        "sentiment": _mix([m.sentiment for m in members]),
        "products": _mix([p for m in members for p in m.products]),
        "demand_category": _mix([d.split("/")[0] for m in members for d in m.demand]),
        "complaint_type": _mix([m.complaint_type for m in members]),
        "escalation_share": round(sum(m.escalation for m in members) / len(members), 4),
        "likes": sum(m.likes for m in members),
    }


# members whose text a draft reads: tokenising every member of a 10,000-record theme says no more
TEXT_SAMPLE = 1000


def _spread(members: Sequence[Member], limit: int) -> Sequence[Member]:
    if len(members) <= limit:
        return members
    return [members[i * len(members) // limit] for i in range(limit)]


def draft_proposal(
    cluster_id: str,
    members: Sequence[Member],
    *,
    config: ProposalConfig,
    words: Callable[[str], list[str]],
    idf: Callable[[str], float],
    label_departments: Mapping[str, str],
    feedback: Mapping[tuple[str, str], float],
    province_of: Mapping[str, str],
    as_of: datetime,
    max_volume: float,
) -> Draft:
    """One proposal draft for a cluster (members in a fixed order). Counts, evidence and priority
    take every member; the words (keywords, title, summary, quotes) come from at most
    ``TEXT_SAMPLE`` of them, spread evenly over the joining order."""
    read = _spread(members, TEXT_SAMPLE)
    member_words = [words(f"{m.title}。{m.text}" if m.title else m.text) for m in read]
    keywords = [w for w, _ in tfidf([w for ws in member_words for w in ws], idf, top=8)]
    vectors = vectorize([(ws, m.text) for ws, m in zip(member_words, read, strict=True)], idf)
    centroid = np.asarray(vectors.mean(axis=0)).ravel()
    order = np.argsort(-(vectors @ centroid), kind="stable")
    central = [read[int(i)].record_id for i in order]
    head = read[int(order[0])]
    title = (head.title or _SENTENCE.findall(head.text)[0] if head.text else "").strip()[:40] or "、".join(keywords[:3])
    dims = _dimensions(members, as_of, max_volume)
    weights = config.priority_weights.model_dump()
    priority = round(sum(weights[k] * v for k, v in dims.items()), 4)
    department, scores = route_department(members, label_departments, feedback, config)
    tier, reason = tier_for(members, province_of, config)
    return Draft(
        cluster_id=cluster_id,
        title=title,
        keywords=keywords,
        summary=summarize([read[int(i)] for i in order[:30]], words, idf),
        size=len(members),
        department=department,
        department_scores=scores,
        tier=tier,
        tier_reason=reason,
        priority=priority,
        dimensions=dims,
        evidence=_evidence(members, central),
    )
