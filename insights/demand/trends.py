"""Volumes per label, cluster or region per day, week or month, and emerging themes.

Emerging, the stated test: for each key, the count ``c`` in the latest period against the mean
``m`` of the ``baseline`` periods before it. The key is emerging when ``c >= min_count``,
``c >= ratio * m`` and a one-sided Poisson test rejects "no growth" at ``alpha``:
P(X >= c | X ~ Poisson(max(m, 0.5))) < alpha. The floor of 0.5 keeps a theme that was silent
from looking infinitely new after one or two records.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from scipy.stats import poisson

if TYPE_CHECKING:
    from search.store import Store

__all__ = ["Emerging", "emerging", "period_of", "volumes"]

PERIODS = ("day", "week", "month")
BY = ("demand_category", "complaint_type", "intent", "product", "channel", "region", "source", "cluster")


def period_of(when: datetime | date, period: str) -> str:
    day = when.date() if isinstance(when, datetime) else when
    if period == "day":
        return day.isoformat()
    if period == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{day.year}-{day.month:02d}"


def _periods_between(start: date, end: date, period: str) -> list[str]:
    out: list[str] = []
    day = start
    while day <= end:
        p = period_of(day, period)
        if not out or out[-1] != p:
            out.append(p)
        day += timedelta(days=1)
    return out


def _rows(store: Store, by: str, since: str | None, until: str | None) -> Iterable[tuple[str, str]]:
    where, params = ["r.created_at IS NOT NULL"], []
    if since:
        where.append("r.created_at >= ?")
        params.append(since)
    if until:
        where.append("r.created_at < ?")
        params.append(until)
    cond = " AND ".join(where)
    if by in ("channel", "region", "source"):
        sql = f"SELECT r.created_at, r.{by} FROM records r WHERE {cond} AND r.{by} IS NOT NULL"
    elif by == "cluster":
        sql = f"SELECT r.created_at, m.cluster_id FROM records r JOIN demand_members m ON m.record_id = r.id WHERE {cond}"
    else:
        # top level of hierarchical labels: 消费/流量 counts as 消费
        sql = (
            f"SELECT r.created_at, l.label FROM records r JOIN labels l ON l.record_rowid = r.rowid "
            f"WHERE {cond} AND l.facet = ? AND instr(l.label, '/') = 0"
        )
        params.append(by)
    return store.conn.execute(sql, params).fetchall()


def volumes(
    store: Store, *, by: str = "demand_category", period: str = "week", since: str | None = None, until: str | None = None
) -> dict[str, Any]:
    """``{"periods": [...], "series": {key: [count per period]}}``, every period present (zeros kept)."""
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    first: date | None = None
    last: date | None = None
    for created, key in _rows(store, by, since, until):
        day = datetime.fromisoformat(created).date()
        first, last = min(first or day, day), max(last or day, day)
        counts[key][period_of(day, period)] += 1
    periods = _periods_between(first, last, period) if first and last else []
    series = {k: [c.get(p, 0) for p in periods] for k, c in sorted(counts.items())}
    return {"by": by, "period": period, "periods": periods, "series": series}


@dataclass(frozen=True)
class Emerging:
    key: str
    period: str
    count: int
    baseline: float
    ratio: float
    p_value: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "period": self.period,
            "count": self.count,
            "baseline": round(self.baseline, 3),
            "ratio": round(self.ratio, 2),
            "p_value": float(f"{self.p_value:.3g}"),
        }


def emerging(
    periods: list[str],
    series: Mapping[str, list[int]],
    *,
    baseline: int = 4,
    ratio: float = 2.0,
    min_count: int = 5,
    alpha: float = 0.01,
) -> list[Emerging]:
    """Keys whose latest period beats their baseline by the test in the module docstring."""
    if len(periods) < 2:
        return []
    out = []
    for key, counts in series.items():
        current = counts[-1]
        history = counts[-1 - baseline : -1] or [0]
        mean = sum(history) / len(history)
        if current < min_count or current < ratio * mean:
            continue
        p = float(poisson.sf(current - 1, max(mean, 0.5)))
        if p < alpha:
            out.append(Emerging(key, periods[-1], current, mean, current / max(mean, 0.5), p))
    return sorted(out, key=lambda e: (e.p_value, -e.count, e.key))
