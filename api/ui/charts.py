"""Small inline SVG charts for the pages: no chart library, no CDN, nothing to download."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from markupsafe import Markup, escape

__all__ = ["bars", "highlight", "radar", "sparkline"]

PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#65a30d", "#475569", "#ea580c")
DIMENSION_NAMES = {
    "volume": "声量",
    "growth": "增长",
    "breadth": "广度",
    "customer_value": "客户价值",
    "intensity": "情绪强度",
    "escalation": "升级风险",
}


def highlight(text: str, spans: Sequence[Sequence[int]]) -> Markup:
    """The text with each [start, end) span in <mark>; every piece escaped, overlaps merged."""
    out, pos = [], 0
    for start, end in sorted((max(0, s), min(len(text), e)) for s, e in spans):
        if end <= pos:
            continue
        start = max(start, pos)
        out += [escape(text[pos:start]), Markup("<mark>"), escape(text[start:end]), Markup("</mark>")]
        pos = end
    out.append(escape(text[pos:]))
    return Markup("").join(out)


def radar(dimensions: Mapping[str, float], size: int = 240) -> Markup:
    """A radar chart of a proposal's priority dimensions (each in [0, 1])."""
    names = list(dimensions)
    if len(names) < 3:
        return Markup("")
    c, r = size / 2, size / 2 - 42
    points = [_polar(c, r * min(1.0, max(0.0, float(dimensions[n]))), i, len(names)) for i, n in enumerate(names)]
    rings = "".join(
        f'<polygon points="{_ring(c, r * k / 4, len(names))}" fill="none" stroke="#cbd5e1" stroke-width="1"/>' for k in range(1, 5)
    )
    axes, labels = [], []
    for i, n in enumerate(names):
        x, y = _polar(c, r, i, len(names))
        lx, ly = _polar(c, r + 22, i, len(names))
        axes.append(f'<line x1="{c}" y1="{c}" x2="{x:.1f}" y2="{y:.1f}" stroke="#cbd5e1"/>')
        value = float(dimensions[n])
        labels.append(
            f'<text x="{lx:.1f}" y="{ly:.1f}" text-anchor="middle" font-size="12">{escape(DIMENSION_NAMES.get(n, n))} {value:.2f}</text>'
        )
    shape = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    return Markup(
        f'<svg class="radar" role="img" aria-label="优先级雷达图" viewBox="0 0 {size} {size}" width="{size}" height="{size}">'
        f'{rings}{"".join(axes)}<polygon points="{shape}" fill="rgba(37,99,235,.25)" stroke="#2563eb" stroke-width="2"/>'
        f"{''.join(labels)}</svg>"
    )


def _polar(c: float, radius: float, i: int, n: int) -> tuple[float, float]:
    angle = -math.pi / 2 + 2 * math.pi * i / n
    return c + radius * math.cos(angle), c + radius * math.sin(angle)


def _ring(c: float, radius: float, n: int) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in (_polar(c, radius, i, n) for i in range(n)))


def sparkline(values: Sequence[float], width: int = 160, height: int = 36, label: str = "趋势") -> Markup:
    """A line of counts per period, last point marked."""
    if not values:
        return Markup("")
    top = max(max(values), 1)
    step = width / max(len(values) - 1, 1)
    pts = [(i * step, height - 3 - (height - 6) * v / top) for i, v in enumerate(values)]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
    lx, ly = pts[-1]
    return Markup(
        f'<svg class="spark" role="img" aria-label="{escape(label)}" viewBox="-3 0 {width + 6} {height}" width="{width}" height="{height}">'
        f'<polyline points="{line}" fill="none" stroke="#2563eb" stroke-width="2"/>'
        f'<circle cx="{lx:.1f}" cy="{ly:.1f}" r="3" fill="#dc2626"/></svg>'
    )


def bars(periods: Sequence[str], series: Mapping[str, Sequence[int]], top: int = 6, height: int = 180) -> Markup:
    """Stacked columns per period for the ``top`` largest series, with a legend."""
    names = sorted(series, key=lambda n: -sum(series[n]))[:top]
    if not periods or not names:
        return Markup('<p class="muted">暂无数据</p>')
    totals = [sum(series[n][i] for n in names) for i in range(len(periods))]
    peak, col = float(max(max(totals), 1)), 48
    width = col * len(periods) + 40
    parts = []
    for i, period in enumerate(periods):
        y = float(height - 20)
        for k, n in enumerate(names):
            h = (height - 30) * series[n][i] / peak
            y -= h
            parts.append(
                f'<rect x="{30 + i * col}" y="{y:.1f}" width="{col - 12}" height="{h:.1f}" fill="{PALETTE[k % len(PALETTE)]}">'
                f"<title>{escape(n)} {escape(period)}: {series[n][i]}</title></rect>"
            )
        parts.append(
            f'<text x="{30 + i * col + (col - 12) / 2}" y="{height - 5}" font-size="11" text-anchor="middle">{escape(period)}</text>'
        )
    legend = "".join(
        f'<span class="legend"><i style="background:{PALETTE[k % len(PALETTE)]}"></i>{escape(n)}</span>' for k, n in enumerate(names)
    )
    svg = f'<svg class="bars" role="img" viewBox="0 0 {width} {height}" width="100%" height="{height}" preserveAspectRatio="xMinYMin meet">'
    return Markup(f"{svg}{''.join(parts)}</svg><div>{legend}</div>")
