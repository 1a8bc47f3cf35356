"""Speaker inference for transcripts without labels: agent turns are formulaic."""

from __future__ import annotations

import re

__all__ = ["agent_score", "infer_speakers"]

_AGENT_CUES = re.compile(
    r"很高兴为您服务|请问有什么(可以)?帮(您|你)|请问还有(什么|其他)|还有其他(问题|业务)|感谢(您的)?来电|"
    r"请稍等|稍等一下|工号|为您(查询|办理|登记|核实|反馈)|帮您(查|看|办|登记|反馈|核实)|给您(发|办|查)|"
    r"您(的|这个)?(号码|套餐|业务)|女士|先生|请您|您看|您好[，,]?(请讲|请说)|请讲|不客气|祝您生活愉快|评价"
)
_CUSTOMER_CUES = re.compile(r"我(的|想|要|那个|这个|都|就|是|不|没)|怎么回事|为什么|咋|给我|帮我|你们")


def agent_score(text: str) -> int:
    return len(_AGENT_CUES.findall(text)) * 2 - len(_CUSTOMER_CUES.findall(text))


def infer_speakers(turns: list[str]) -> list[str]:
    """'agent' or 'customer' for each turn.

    Turns with a clear cue take it; the rest alternate from their neighbour, starting with the
    agent (10086 calls open with the agent's greeting).
    """
    labels: list[str | None] = []
    for text in turns:
        score = agent_score(text)
        labels.append("agent" if score >= 2 else "customer" if score < 0 else None)
    previous = "customer"  # so that an unclear first turn becomes the agent's greeting
    out = []
    for label in labels:
        current = label or ("agent" if previous == "customer" else "customer")
        out.append(current)
        previous = current
    return out
