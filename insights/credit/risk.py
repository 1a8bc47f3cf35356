"""Escalation risk of one open complaint: a noisy-or of named parts, each with its reason.

The time-dependent part (how much of the resolution time limit is used) is kept apart, so the
triage queue can add it at query time for any "now" without recomputing the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from insights.credit.events import ContactEvent
from insights.credit.scorecard import Scorecard

__all__ = ["RiskParts", "combine", "static_risk", "time_used"]

MAX_REPEAT_CONTACTS = 3
MAX_UNRESOLVED = 2


@dataclass(frozen=True, slots=True)
class RiskParts:
    value: float  # 0..1, without the time part
    reasons: tuple[tuple[str, float], ...]  # (reason, its part) in descending part


def combine(*parts: float) -> float:
    miss = 1.0
    for p in parts:
        miss *= 1.0 - min(1.0, max(0.0, p))
    return 1.0 - miss


def static_risk(complaint: ContactEvent, history: Sequence[ContactEvent], grade: str, scorecard: Scorecard) -> RiskParts:
    """Risk from the complaint's text, the customer's repeat contacts and unresolved earlier
    complaints, and the grade. ``history``: the customer's events, in time order."""
    w = scorecard.risk
    reasons: list[tuple[str, float]] = []
    if complaint.escalated:
        reasons.append(("升级或威胁升级 (工信部/12300/315/媒体等)", w.threat_cue))
    if complaint.intensity > 0:
        reasons.append((f"情绪强度 {complaint.intensity:.2f}", w.intensity * complaint.intensity))
    earlier = [e for e in history if e.at < complaint.at and e.record_id != complaint.record_id]
    window = scorecard.repeat_days
    same = [e for e in earlier if (complaint.at - e.at).days <= window and _same_issue(e, complaint)]
    if same:
        n = min(MAX_REPEAT_CONTACTS, len(same))
        reasons.append((f"{window}天内同一问题已接触 {len(same)} 次", w.repeat_contact * n))
    unresolved = [e for e in earlier if e.complaint and e.open]
    if unresolved:
        n = min(MAX_UNRESOLVED, len(unresolved))
        reasons.append((f"此前有 {len(unresolved)} 张投诉未解决", w.unresolved_before * n))
    if grade == scorecard.grades[0].grade:
        reasons.append((f"信用等级 {grade}", w.grade_a))
    reasons.sort(key=lambda r: -r[1])
    return RiskParts(round(combine(*(p for _, p in reasons)), 4), tuple((r, round(p, 4)) for r, p in reasons))


def _same_issue(a: ContactEvent, b: ContactEvent) -> bool:
    if a.complaint_type and b.complaint_type:
        return a.complaint_type == b.complaint_type
    return a.source != "tickets" and (a.dissatisfied or a.complaint)  # an unhappy call or post before the ticket


def time_used(created_at: datetime, now: datetime, resolution_hours: float) -> float:
    """Share of the resolution time limit already used, 0..1."""
    hours = (now - created_at).total_seconds() / 3600
    return min(1.0, max(0.0, hours / resolution_hours))
