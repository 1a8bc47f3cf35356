"""需求过滤: does a record carry an actionable demand, complaint or suggestion, or is it noise?

A pure function of the record and its labels, with the reason kept. Filtering never deletes:
the score and reason are stored beside the record and proposals simply skip the noise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from radar.records import Record, Source

__all__ = ["DemandVerdict", "demand_verdict"]

_PUNCT = r"[\s，。！!?？~～、]*"
_GREETING = re.compile(rf"^{_PUNCT}(?:你好|您好|在吗|在不在|谢谢|感谢|好的|嗯+|哦+|ok|OK|没有了|没事了|再见|拜拜){_PUNCT}$")
_SPAM = re.compile(r"(?:https?://|www\.|加微信|加v|加V|代理|兼职|刷单|低价出|出售|优惠券领取|点击链接)", re.IGNORECASE)
_REPEATED = re.compile(r"(.)\1{7,}")
_DEMAND_WORDS = re.compile(
    r"(?:希望|建议|要求|能否|能不能|可不可以|请尽快|尽快|解决|处理|改进|取消|退|开通|办理|增加|降低|为什么|怎么|投诉|反映)"
)
_ANSWERED = re.compile(r"(?:已解决|解决了|明白了|知道了|清楚了|好的谢谢|没问题了)")

ACTIONABLE_INTENTS = {"投诉": 0.9, "建议": 0.85, "办理": 0.6, "咨询": 0.45}


@dataclass(frozen=True, slots=True)
class DemandVerdict:
    is_demand: bool
    score: float  # 0..1
    reason: str


def demand_verdict(record: Record, threshold: float = 0.5) -> DemandVerdict:
    """Score one record; ``reason`` names what decided it."""
    text = record.customer_text().strip()
    if record.duplicate_of:
        return DemandVerdict(False, 0.1, f"exact or near repeat of {record.duplicate_of}")
    if len(text) < 4 or _GREETING.match(text):
        return DemandVerdict(False, 0.05, "greeting or chatter, no content")
    if _SPAM.search(text) or _REPEATED.search(text):
        return DemandVerdict(False, 0.1, "spam or advertising pattern")
    intent = record.label_names("intent")
    score = ACTIONABLE_INTENTS.get(intent[0], 0.4) if intent else 0.4
    reasons = [f"intent {intent[0]}" if intent else "no clear intent"]
    if record.source == Source.TICKETS:
        score, reasons = max(score, 0.9), ["a complaint ticket"]
    if record.labels.get("demand_category") or record.labels.get("complaint_type"):
        score = min(1.0, score + 0.15)
        reasons.append("demand category or complaint type found")
    if _DEMAND_WORDS.search(text):
        score = min(1.0, score + 0.1)
        reasons.append("asks for something")
    if record.source == Source.CALLS and intent and intent[0] == "咨询" and _ANSWERED.search(text):
        score = min(score, 0.3)
        reasons = ["a question answered on the call"]
    return DemandVerdict(score >= threshold, round(score, 3), "; ".join(reasons))
