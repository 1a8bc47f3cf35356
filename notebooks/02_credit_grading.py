# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Complaint credit grading (投诉客户信用分级) — a worked example on GENERATED histories
#
# Every customer and complaint below is **synthetic**, written here to show the mechanics.
# The grade supports differentiated service; it is **not a blacklist**: every grade keeps the
# standard time limits or better, and every view of a grade is audited.
#
# Scale and direction: the score is the attention a customer's next complaint deserves, 0..100;
# 50 is neutral (no complaint history, grade C). Risk factors raise it (complaints not found
# unfounded, founded repeats, escalations, compensation demands, dissatisfied contacts, customer
# value, tenure); unfounded complaints lower it. A (≥ 80) gets a specialist seat, 2 h / 24 h time
# limits, a callback and manager review; D and E get "verify first", never slower handling.

# %%
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from insights.credit.events import ContactEvent
from insights.credit.grading import grade_customer
from insights.credit.scorecard import load_scorecard
from insights.credit.service import grade_store, triage_queue
from insights.credit.tables import ensure_tables, upsert_events
from search.store import Store

card = load_scorecard()
now = datetime(2026, 11, 24, 12, 0)
print(card.version, [(g.grade, g.min_score, g.name) for g in card.grades])


def event(customer: str, n: int, days_ago: float, **kw: object) -> ContactEvent:
    fields = {"complaint": True, "source": "tickets", "complaint_type": "网络质量", "open": False}
    return ContactEvent(customer_key=customer, record_id=f"{customer}-{n}", at=now - timedelta(days=days_ago), **{**fields, **kw})  # type: ignore[arg-type]


# %% [markdown]
# ## Four generated customers
# - **王** (network): three founded network-quality complaints in a month, the last one threatening 工信部, still open;
# - **李** (billing): one open billing dispute, calm;
# - **张** (unfounded repeats): four billing complaints found unfounded, one open;
# - **赵** (silent): two angry calls, no ticket — a potential complainant, not in the queue.

# %%
histories = {
    "王": [
        event("王", 1, 28, founded=True),
        event("王", 2, 12, founded=True),
        event("王", 3, 1, escalated=True, open=True, intensity=0.8, value=1.0),
    ],
    "李": [event("李", 1, 2, complaint_type="费用争议", open=True, intensity=0.2, value=0.5)],
    "张": [event("张", i, 5 + 10 * i, complaint_type="费用争议", founded=False) for i in range(1, 5)]
    + [event("张", 9, 1, complaint_type="费用争议", open=True)],
    "赵": [event("赵", i, i * 3, complaint=False, source="calls", complaint_type=None, dissatisfied=True, intensity=0.7) for i in (1, 2)],
}

# %% [markdown]
# ## Each factor's contribution
# The score is the neutral 50 plus the factors' points; the table lists them largest first.

# %%
for name, events in histories.items():
    grade = grade_customer(name, sorted(events, key=lambda e: e.at), card, now)  # events in time order
    parts = ", ".join(f"{f.name} {f.points:+.1f}" for f in grade.factors if f.points)
    print(f"{name}: grade {grade.grade} ({grade.name}), score {grade.score:.1f} = 50 {parts or '(no factors)'}")
    print(f"    guidance: {grade.guidance.model_dump()}")

# %% [markdown]
# ## The triage queue
# The same histories in a store, graded, then ranked: priority = 0.35 × grade level + 0.35 × escalation
# risk + 0.2 × share of the time limit used + 0.1 × customer value; ties go to the earlier deadline.

# %%
store = Store.open(Path(tempfile.mkdtemp(prefix="radar-credit-")) / "radar.db")
store.conn.execute("PRAGMA foreign_keys = OFF")  # events without records: this notebook writes events directly
ensure_tables(store)
with store.transaction():
    upsert_events(store, [(i, ev) for i, ev in enumerate((e for evs in histories.values() for e in evs), start=1)])
report = grade_store(store, card, as_of=now, full=True)
queue = triage_queue(store, card, now=now)
for rank, item in enumerate(queue["items"], 1):
    why = "; ".join(f"{r['reason']} ({r['part']:.2f})" for r in item["reasons"])
    print(
        f"{rank}. {item['record_id']:6} grade {item['grade']} risk {item['risk']:.2f} priority {item['priority']:.2f} "
        f"deadline {item['deadline']}  {item['guidance']['seat']}  — {why or 'no risk signals'}"
    )

# %%
assert [i["record_id"] for i in queue["items"]][0] == "王-3", "the escalated network repeat must come first"
assert "赵-1" not in {i["record_id"] for i in queue["items"]}, "a customer with no ticket is not in the queue"
