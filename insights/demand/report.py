"""The periodic demand-analysis report (用户需求分析报告): one self-contained HTML file with charts.

Sections: volumes and mix by demand category, channel and region; weekly trends; top proposals
with evidence and a radar chart of their priority dimensions; emerging themes; the proposal
workflow. Every text shown is re-masked (defence in depth: records are masked at ingestion) and
HTML-escaped; charts are PNGs embedded as data URIs, so the file opens anywhere offline.
"""

from __future__ import annotations

import base64
import html
import io
import logging
import re
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from insights.demand.service import list_proposals
from insights.demand.tables import ensure_tables
from insights.demand.trends import emerging, volumes
from nlp.pii import mask_pii
from radar.charts import cjk_font
from radar.errors import APIError, ErrorCode

if TYPE_CHECKING:
    from search.store import Store

__all__ = ["build_report", "parse_period"]

logger = logging.getLogger(__name__)

_PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
DIMENSIONS = ("volume", "growth", "breadth", "customer_value", "intensity", "escalation")
DIMENSION_NAMES = {
    "volume": "声量",
    "growth": "增长",
    "breadth": "广度",
    "customer_value": "客户价值",
    "intensity": "情绪强度",
    "escalation": "升级占比",
}


def parse_period(value: str) -> tuple[str, str]:
    """``2026-10`` -> (``2026-10-01``, ``2026-11-01``): the month's first day and the next month's."""
    m = re.fullmatch(r"(\d{4})-(\d{2})", value.strip())
    if not m or not 1 <= int(m.group(2)) <= 12 or not 1 <= int(m.group(1)) <= 9998:
        raise APIError(ErrorCode.E501, reason=f"period '{value}' is not YYYY-MM", command="report")
    year, month = int(m.group(1)), int(m.group(2))
    start = date(year, month, 1)
    end = date(year + (month == 12), month % 12 + 1, 1)
    return start.isoformat(), end.isoformat()


def _safe(text: Any) -> str:
    masked, _ = mask_pii(str(text))
    return html.escape(_PHONE.sub("<手机号>", masked))


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _bar(counts: dict[str, int], title: str) -> str:
    import matplotlib.pyplot as plt

    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:12]
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.barh([k for k, _ in reversed(items)], [v for _, v in reversed(items)], color="#3b7dd8")
    ax.set_title(title)
    return _png(fig)


def _lines(periods: list[str], series: dict[str, list[int]], title: str) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3))
    top = sorted(series.items(), key=lambda kv: -sum(kv[1]))[:6]
    for key, counts in top:
        ax.plot(range(len(periods)), counts, marker="o", label=key)
    step = max(1, len(periods) // 8)
    ax.set_xticks(range(0, len(periods), step), periods[::step], rotation=30, fontsize=7)
    ax.set_title(title)
    if top:
        ax.legend(fontsize=7)
    return _png(fig)


def _radar(dims: dict[str, float], title: str) -> str:
    import matplotlib.pyplot as plt
    import numpy as np

    angles = np.linspace(0, 2 * np.pi, len(DIMENSIONS), endpoint=False).tolist()
    values = [dims.get(d, 0.0) for d in DIMENSIONS]
    fig = plt.figure(figsize=(3.2, 3.2))
    ax = fig.add_subplot(111, polar=True)
    ax.plot(angles + angles[:1], values + values[:1], color="#d8573b")
    ax.fill(angles + angles[:1], values + values[:1], color="#d8573b", alpha=0.25)
    ax.set_xticks(angles, [DIMENSION_NAMES[d] for d in DIMENSIONS], fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_title(title[:16], fontsize=9)
    return _png(fig)


def _counts(store: Store, sql: str, params: list[Any]) -> dict[str, int]:
    return {str(k): n for k, n in store.conn.execute(sql, params).fetchall() if k is not None}


def _mixes(store: Store, start: str, end: str) -> dict[str, dict[str, int]]:
    rng = [start, end]
    rec = "FROM records r WHERE r.created_at >= ? AND r.created_at < ?"
    return {
        "demand_category": _counts(
            store,
            "SELECT l.label, COUNT(*) FROM labels l JOIN records r ON r.rowid = l.record_rowid "
            "WHERE l.facet = 'demand_category' AND instr(l.label, '/') = 0 AND r.created_at >= ? "
            "AND r.created_at < ? GROUP BY l.label",
            rng,
        ),
        "channel": _counts(store, f"SELECT r.channel, COUNT(*) {rec} GROUP BY r.channel", rng),
        "region": _counts(store, f"SELECT r.region, COUNT(*) {rec} GROUP BY r.region", rng),
        "source": _counts(store, f"SELECT r.source, COUNT(*) {rec} GROUP BY r.source", rng),
    }


def build_report(store: Store, period: str, out: Path, *, top: int = 10) -> dict[str, Any]:
    """Write the report for ``period`` (YYYY-MM) to ``out``; returns what it holds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["font.sans-serif"] = [f for f in (cjk_font(), "DejaVu Sans") if f]
    plt.rcParams["axes.unicode_minus"] = False
    ensure_tables(store)
    start, end = parse_period(period)
    mixes = _mixes(store, start, end)
    weekly = volumes(store, by="demand_category", period="week", until=end)
    rising = emerging(weekly["periods"], weekly["series"])
    proposals = list_proposals(store, limit=top)
    status = _counts(store, "SELECT status, COUNT(*) FROM proposals WHERE merged_into IS NULL GROUP BY status", [])
    total = sum(mixes["source"].values())
    parts = [
        f"<h1>用户需求分析报告 · {html.escape(period)}</h1>",
        f"<p class='meta'>{total} records from {start} to {end} (exclusive) · "
        f"generated {datetime.now():%Y-%m-%d %H:%M} by Demand Radar</p>",
        "<h2>Volumes and mix</h2><div class='charts'>",
        *(f"<img alt='{name}' src='{_bar(counts, name)}'>" for name, counts in mixes.items() if counts),
        "</div>",
        "<h2>Weekly trend by demand category</h2>",
        f"<img alt='trend' src='{_lines(weekly['periods'], weekly['series'], '需求类别 / week')}'>"
        if weekly["periods"]
        else "<p>No dated records.</p>",
        "<h2>Emerging themes</h2>",
        _emerging_table(rising),
        f"<h2>Top {len(proposals)} demand proposals</h2>",
        *(_proposal_html(i, p) for i, p in enumerate(proposals, 1)),
        "<h2>Proposal workflow</h2>",
        f"<img alt='workflow' src='{_bar(status, '提案状态')}'>"
        if status
        else "<p>No proposals yet: run <code>radar proposals build</code>.</p>",
    ]
    page = _PAGE.format(title=html.escape(f"用户需求分析报告 {period}"), body="\n".join(parts))
    leaked = _PHONE.findall(re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", page))
    if leaked:  # cannot happen: every text went through _safe; fail loudly rather than ship a number
        raise RuntimeError(f"report would contain {len(leaked)} phone numbers")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return {
        "path": str(out),
        "period": period,
        "records": total,
        "proposals": len(proposals),
        "emerging": [e.to_dict() for e in rising],
        "status": status,
        "mix": mixes,
    }


def _trend_img(weekly: dict[str, Any]) -> str:
    if not weekly["periods"]:
        return "<p>No dated records.</p>"
    return f"<img alt='trend' src='{_lines(weekly['periods'], weekly['series'], '需求类别 / week')}'>"


def _emerging_table(rising: list[Any]) -> str:
    if not rising:
        return "<p>None this week: no theme beat its 4-week baseline (2x and Poisson p &lt; 0.01).</p>"
    rows = "".join(
        f"<tr><td>{_safe(e.key)}</td><td>{e.period}</td><td>{e.count}</td><td>{e.baseline:.1f}</td><td>{e.p_value:.2g}</td></tr>"
        for e in rising
    )
    return f"<table><tr><th>theme</th><th>week</th><th>records</th><th>baseline</th><th>p</th></tr>{rows}</table>"


def _proposal_html(rank: int, p: dict[str, Any]) -> str:
    ev = p["evidence"]
    quotes = "".join(f"<li><code>{_safe(q['record_id'])}</code> {_safe(q['quote'])}</li>" for q in ev.get("quotes", [])[:3])
    mix = ", ".join(f"{_safe(k)} {v}" for k, v in list(ev.get("by_region", {}).items())[:5])
    chart = _radar(p["dimensions"], p["title"]) if rank <= 3 else ""
    return (
        f"<div class='proposal'><h3>{rank}. {_safe(p['title'])}</h3>"
        + (f"<img class='radar' alt='priority dimensions' src='{chart}'>" if chart else "")
        + f"<p><b>{_safe(p['department'])}</b> · {_safe(p['tier'])} · {p['size']} records · priority {p['priority']:.2f} · "
        f"status {_safe(p['status'])} · <code>{_safe(p['id'])}</code></p>"
        f"<p>{_safe(p['summary'])}</p><p class='meta'>regions: {mix or '—'} · likes {ev.get('likes', 0)} · "
        f"escalation share {ev.get('escalation_share', 0):.0%}</p><ul>{quotes}</ul></div>"
    )


_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: "WenQuanYi Micro Hei", "Noto Sans CJK SC", sans-serif;
       margin: 2em auto; max-width: 1100px; color: #222; }}
h1 {{ border-bottom: 3px solid #3b7dd8; }} .meta {{ color: #666; font-size: 0.9em; }}
.charts img {{ max-width: 48%; margin: 0.5%; }} table {{ border-collapse: collapse; }}
td, th {{ border: 1px solid #ccc; padding: 4px 8px; }}
.proposal {{ border: 1px solid #ddd; border-radius: 6px; padding: 0.5em 1em;
             margin: 1em 0; overflow: auto; }}
.radar {{ float: right; width: 220px; }}
</style></head><body>
{body}
</body></html>
"""
