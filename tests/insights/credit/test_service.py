"""Grading over a store: incremental runs, history, the triage queue, claims and audit."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from api.pipeline import Components, label_store
from insights.credit.scorecard import load_scorecard
from insights.credit.service import claim, contact_history, grade_store, potential_complainants, release, triage_queue
from radar.errors import InsightsError
from radar.records import Record, Source, TicketFields
from search.store import Store

CARD = load_scorecard()
NOW = datetime(2026, 11, 24, 12, 0)


def _ticket(
    n: int, customer: str | None, days_ago: float, text: str, *, closed: bool = False, region: str = "广州", **fields: object
) -> Record:
    created = NOW - timedelta(days=days_ago)
    ticket = TicketFields(
        complaint_type_path=[str(fields.pop("kind", "网络质量"))], closed_at=created + timedelta(days=1) if closed else None, **fields
    )  # type: ignore[arg-type]
    return Record(
        id=f"tickets:T{n}",
        source=Source.TICKETS,
        source_id=f"T{n}",
        created_at=created,
        region=region,
        customer_key=customer,
        channel="10086",
        text=text,
        ticket=ticket,
    )


def _call(n: int, customer: str, days_ago: float, text: str) -> Record:
    return Record(
        id=f"calls:C{n}",
        source=Source.CALLS,
        source_id=f"C{n}",
        created_at=NOW - timedelta(days=days_ago),
        customer_key=customer,
        text=text,
    )


ANGRY = "信号太差了，天天掉线，非常不满意，再不解决我就去工信部投诉"
CALM = "家里宽带有点慢，麻烦看一下"
UPSET = "你们的服务太差了，非常失望，真的很生气"


def _store(tmp_path: Path, components: Components, records: list[Record]) -> Store:
    store = Store.open(tmp_path / "credit.db")
    _add(store, components, records)
    return store


def _add(store: Store, components: Components, records: list[Record]) -> None:
    with store.transaction():
        for rec in records:
            store.upsert(rec, dedup_key=rec.id)
    label_store(store, components, entities=False)


@pytest.fixture()
def store(tmp_path: Path, components: Components) -> Store:
    records = [
        _ticket(1, "alice", 2, ANGRY, escalated=True),
        _ticket(2, "alice", 20, ANGRY, closed=True, founded=True),
        _ticket(3, "bob", 1, CALM, kind="业务办理"),
        _ticket(4, "carol", 5, CALM, kind="费用争议", region="深圳"),
        _ticket(5, None, 3, ANGRY),  # no customer key: still queued, neutral grade
        _call(1, "dave", 3, UPSET),
        _call(2, "dave", 6, UPSET),
        _call(3, "erin", 2, UPSET),  # only once: not yet a potential complainant
    ]
    return _store(tmp_path, components, records)


def test_grades_risks_and_queue_order(store: Store) -> None:
    report = grade_store(store, CARD, as_of=NOW)
    assert report.full and report.customers_graded == 5 and report.open_complaints == 4
    queue = triage_queue(store, CARD, now=NOW, viewer="lead")
    assert [tuple(r) for r in store.conn.execute("SELECT viewer, action FROM credit_audit")] == [("lead", "view_queue")]
    ids = [item["record_id"] for item in queue["items"]]
    assert ids[0] == "tickets:T1"  # escalated, repeat, angry
    assert set(ids) == {"tickets:T1", "tickets:T3", "tickets:T4", "tickets:T5"}  # closed T2 is not queued
    top = queue["items"][0]
    assert top["risk"] > queue["items"][-1]["risk"]
    assert any("工信部" in r["reason"] for r in top["reasons"]) and top["guidance"]["seat"]
    anonymous = next(i for i in queue["items"] if i["record_id"] == "tickets:T5")
    assert anonymous["grade"] == CARD.neutral_grade and anonymous["customer_key"] is None
    priorities = [i["priority"] for i in queue["items"]]
    assert priorities == sorted(priorities, reverse=True)
    assert triage_queue(store, CARD, now=NOW) == queue  # deterministic


def test_time_passing_raises_urgency_and_risk(store: Store) -> None:
    grade_store(store, CARD, as_of=NOW)
    now = {i["record_id"]: i for i in triage_queue(store, CARD, now=NOW)["items"]}
    later = {i["record_id"]: i for i in triage_queue(store, CARD, now=NOW + timedelta(days=4))["items"]}
    assert later["tickets:T3"]["risk"] > now["tickets:T3"]["risk"] and later["tickets:T3"]["overdue"]


def test_filters(store: Store) -> None:
    grade_store(store, CARD, as_of=NOW)
    assert [i["record_id"] for i in triage_queue(store, CARD, now=NOW, filters=[("region", "深圳")])["items"]] == ["tickets:T4"]
    graded_a = triage_queue(store, CARD, now=NOW, filters=[("grade", "A")])
    assert all(i["grade"] == "A" for i in graded_a["items"])
    with pytest.raises(InsightsError) as err:
        triage_queue(store, CARD, now=NOW, filters=[("colour", "red")])
    assert err.value.code == "E401"


def test_claim_release_and_audit(store: Store) -> None:
    grade_store(store, CARD, as_of=NOW)
    claim(store, "tickets:T3", "alice-agent")
    with pytest.raises(InsightsError) as err:
        claim(store, "tickets:T3", "bob-agent")
    assert err.value.code == "E405"
    unclaimed = triage_queue(store, CARD, now=NOW, filters=[("claimed_by", "none")])
    assert "tickets:T3" not in [i["record_id"] for i in unclaimed["items"]]
    mine = triage_queue(store, CARD, now=NOW, filters=[("claimed_by", "alice-agent")])
    assert [i["record_id"] for i in mine["items"]] == ["tickets:T3"]
    claim(store, "tickets:T3", "lead", force=True)
    release(store, "tickets:T3", "lead")
    with pytest.raises(InsightsError) as missing:
        claim(store, "tickets:NOPE", "x")
    assert missing.value.code == "E404"
    actions = [tuple(r) for r in store.conn.execute("SELECT viewer, action FROM credit_audit ORDER BY rowid")]
    assert actions == [("alice-agent", "claim"), ("lead", "claim"), ("lead", "release")]


def test_incremental_regrade_keeps_history(store: Store, components: Components) -> None:
    grade_store(store, CARD, as_of=NOW)
    again = grade_store(store, CARD, as_of=NOW)
    assert not again.full and again.customers_graded == 0 and again.events_refreshed == 0
    before = store.conn.execute("SELECT grade, score FROM credit_grades WHERE customer_key = 'bob'").fetchone()
    _add(store, components, [_ticket(10 + i, "bob", 1 + i, ANGRY, escalated=True, kind="业务办理") for i in range(4)])
    run = grade_store(store, CARD, as_of=NOW)
    assert run.customers_graded == 1 and run.events_refreshed == 4
    after = store.conn.execute("SELECT grade, score FROM credit_grades WHERE customer_key = 'bob'").fetchone()
    assert after["score"] > before["score"]
    history = store.conn.execute("SELECT score FROM credit_grade_history WHERE customer_key = 'bob' ORDER BY rowid").fetchall()
    assert [h[0] for h in history] == [before["score"], after["score"]]


def test_a_new_scorecard_regrades_everyone_deterministically(store: Store) -> None:
    grade_store(store, CARD, as_of=NOW)
    heavier = CARD.model_copy(update={"version": "credit-test", "neutral_score": 55.0})
    first = grade_store(store, heavier, as_of=NOW)
    scores = dict(store.conn.execute("SELECT customer_key, score FROM credit_grades").fetchall())
    assert first.full and first.customers_graded == 5
    grade_store(store, heavier, as_of=NOW, full=True)
    assert dict(store.conn.execute("SELECT customer_key, score FROM credit_grades").fetchall()) == scores


def test_potential_complainants_are_dissatisfied_without_a_ticket(store: Store) -> None:
    grade_store(store, CARD, as_of=NOW)
    found = potential_complainants(store, CARD, as_of=NOW)
    assert [c["customer_key"] for c in found] == ["dave"]
    assert {e["record_id"] for e in found[0]["evidence"]} == {"calls:C1", "calls:C2"}


def test_contact_history_is_in_time_order_and_audited(store: Store) -> None:
    grade_store(store, CARD, as_of=NOW)
    view = contact_history(store, CARD, "alice", viewer="auditor")
    assert [c["record_id"] for c in view["contacts"]] == ["tickets:T2", "tickets:T1"]
    assert view["contacts"][1]["repeat"] and view["contacts"][1]["repeat_of"] == "tickets:T2" and view["grade"]["factors"]
    assert [tuple(r) for r in store.conn.execute("SELECT viewer, action, customer_key FROM credit_audit")] == [
        ("auditor", "view_grade", "alice")
    ]


def test_bad_scorecard_has_a_code(tmp_path: Path) -> None:
    from insights.credit.scorecard import load_scorecard as load

    bad = tmp_path / "card.yaml"
    bad.write_text(Path(load.__globals__["bundled_scorecard_path"]()).read_text(encoding="utf-8").replace("weight: -5.0", "weight: 5.0"))
    with pytest.raises(InsightsError) as err:
        load(bad)
    assert err.value.code == "E403" and "credibility" in err.value.message
    with pytest.raises(InsightsError):
        load(tmp_path / "missing.yaml")
