"""Proposals over a store (the generated sample), the workflow and its audit, routing, tiers, trends."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import pytest

from api.pipeline import Components
from insights.demand.config import load_proposal_config
from insights.demand.filtering import demand_verdict
from insights.demand.proposals import Member, route_department, tier_for
from insights.demand.report import build_report
from insights.demand.service import build_proposals, get_proposal, list_proposals, set_status
from insights.demand.trends import emerging
from radar.errors import InsightsError
from radar.records import Record, Source
from search.store import Store

CONFIG = load_proposal_config()


def _build(store: Store, components: Components) -> object:
    return build_proposals(
        store,
        tokenizer=components.tokenizer,
        taxonomy=components.taxonomy,
        config=CONFIG,
        stopwords=frozenset(),
        idf=components.backend(store, semantic=False).idf,
    )


@pytest.fixture()
def store(tmp_path: Path, demo_store_path: Path, components: Components) -> Store:
    shutil.copy(demo_store_path, tmp_path / "radar.db")
    st = Store.open(tmp_path / "radar.db")
    _build(st, components)
    return st


def test_drafts_carry_evidence_and_are_ordered_by_priority(store: Store) -> None:
    items = list_proposals(store, limit=100)
    assert items and [p["priority"] for p in items] == sorted((p["priority"] for p in items), reverse=True)
    for p in items:
        ev = p["evidence"]
        assert p["size"] == len(ev["record_ids"]) >= CONFIG.draft.min_size
        assert ev["quotes"] and all(q["record_id"] in ev["record_ids"] for q in ev["quotes"])
        assert sum(ev["by_source"].values()) == p["size"]
        assert set(p["dimensions"]) == {"volume", "growth", "breadth", "customer_value", "intensity", "escalation"}
        assert p["department"] in ("市场", "数据", "集客", "服务", "网络") and p["tier"] in ("地市", "省", "总部")
        assert p["title"] and p["summary"] and p["status"] == "draft"


def test_rebuilding_is_deterministic_and_idempotent(store: Store, components: Components, tmp_path: Path, demo_store_path: Path) -> None:
    again = _build(store, components)
    assert again.clustered == 0 and again.drafted == 0  # type: ignore[attr-defined]
    shutil.copy(demo_store_path, tmp_path / "other.db")
    with Store.open(tmp_path / "other.db") as other:
        _build(other, components)
        mine = [(p["id"], p["size"], p["title"]) for p in list_proposals(store, limit=500)]
        theirs = [(p["id"], p["size"], p["title"]) for p in list_proposals(other, limit=500)]
    assert mine == theirs


def test_workflow_transitions_and_audit(store: Store) -> None:
    pid = list_proposals(store, limit=1)[0]["id"]
    with pytest.raises(InsightsError) as err:
        set_status(store, pid, "done", actor="mgr")
    assert err.value.code == "E407"
    set_status(store, pid, "submitted", actor="mgr", note="送审")
    set_status(store, pid, "accepted", actor="lead", assignee="张工", due="2026-12-31")
    set_status(store, pid, "in_progress", actor="张工")
    done = set_status(store, pid, "done", actor="张工", note="已扩容")
    assert done["status"] == "done" and done["assignee"] == "张工"
    trail = [(e["actor"], e["action"], e["from_status"], e["to_status"]) for e in done["history"]]
    assert trail[0] == ("system", "drafted", None, "draft")
    assert ("mgr", "status", "draft", "submitted") in trail and ("张工", "status", "in_progress", "done") in trail
    with pytest.raises(InsightsError) as final:
        set_status(store, pid, "draft", actor="x")
    assert final.value.code == "E407"
    with pytest.raises(InsightsError) as missing:
        get_proposal(store, "P-nope")
    assert missing.value.code == "E408"


def test_rerouting_teaches_the_routing(store: Store) -> None:
    p = list_proposals(store, limit=1)[0]
    new = next(d for d in ("市场", "数据", "集客", "服务", "网络") if d != p["department"])
    set_status(store, p["id"], None, actor="lead", department=new)
    weights = dict(store.conn.execute("SELECT label || '|' || department, weight FROM routing_feedback").fetchall())
    labels = {**p["evidence"]["demand_category"], **p["evidence"]["complaint_type"]}
    assert labels and all(weights[f"{label}|{new}"] > 0 for label in labels)
    members = [
        Member(f"r{i}", "tickets", None, None, None, None, "x", route_labels=tuple((label, 0.6) for label in labels)) for i in range(5)
    ]
    feedback = {tuple(k.split("|")): v for k, v in weights.items()}
    assert route_department(members, {}, feedback, CONFIG)[0] == new  # type: ignore[arg-type]
    assert get_proposal(store, p["id"])["department"] == new


def _m(i: int, region: str | None, text: str = "信号差") -> Member:
    return Member(f"r{i}", "tickets", "10086", region, datetime(2026, 10, 1), None, text)


def test_tier_rules() -> None:
    provinces = {"广州": "广东", "深圳": "广东", "长沙": "湖南"}
    assert tier_for([_m(i, "广州") for i in range(9)] + [_m(9, "深圳")], provinces, CONFIG)[0] == "地市"
    assert tier_for([_m(i, "广州" if i % 2 else "深圳") for i in range(10)], provinces, CONFIG)[0] == "省"
    assert tier_for([_m(i, "广州" if i % 2 else "长沙") for i in range(10)], provinces, CONFIG)[0] == "总部"
    policy = [_m(i, "广州", "携号转网的政策太不合理") for i in range(3)] + [_m(i, "广州") for i in range(3, 10)]
    tier, reason = tier_for(policy, provinces, CONFIG)
    assert tier == "总部" and "policy" in reason


def test_emerging_themes_on_a_constructed_series() -> None:
    periods = [f"2026-W{w}" for w in range(30, 36)]
    series = {"steady": [10, 11, 9, 10, 12, 11], "surge": [2, 3, 2, 2, 3, 14], "small": [0, 0, 0, 0, 1, 3], "noisy": [5, 9, 4, 8, 6, 12]}
    found = emerging(periods, series)
    assert [e.key for e in found] == ["surge"]
    assert found[0].count == 14 and found[0].p_value < 0.01 and found[0].period == "2026-W35"


def test_filtering_keeps_reasons() -> None:
    now = datetime(2026, 10, 1)
    greet = Record(id="calls:1", source=Source.CALLS, source_id="1", text="你好", created_at=now)
    spam = Record(id="forum:2", source=Source.FORUM, source_id="2", text="兼职刷单日赚三百加微信", created_at=now)
    repeat = Record(id="forum:3", source=Source.FORUM, source_id="3", text="宽带断网要求尽快处理", created_at=now, duplicate_of="forum:1")
    ticket = Record(id="tickets:4", source=Source.TICKETS, source_id="4", text="宽带断网三天要求尽快处理", created_at=now)
    verdicts = [demand_verdict(r) for r in (greet, spam, repeat, ticket)]
    assert [v.is_demand for v in verdicts] == [False, False, False, True]
    assert "greeting" in verdicts[0].reason and "spam" in verdicts[1].reason and "forum:1" in verdicts[2].reason


def test_report_renders_with_charts_and_no_phone_numbers(store: Store, tmp_path: Path) -> None:
    first = store.conn.execute("SELECT MIN(created_at) FROM records").fetchone()[0]
    period = first[:7]
    out = tmp_path / "report.html"
    doc = build_report(store, period, out)
    page = out.read_text(encoding="utf-8")
    assert doc["records"] > 0 and page.count("data:image/png;base64,") >= 4
    assert "Top" in page and list_proposals(store, limit=1)[0]["title"][:10] in page
    text_only = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", page)
    assert not re.findall(r"(?<!\d)1[3-9]\d{9}(?!\d)", text_only)


@pytest.mark.browser
def test_report_in_headless_chromium(store: Store, tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    first = store.conn.execute("SELECT MIN(created_at) FROM records").fetchone()[0]
    out = tmp_path / "report.html"
    build_report(store, first[:7], out)
    artefacts = Path(__file__).resolve().parents[3] / "test-artefacts"
    artefacts.mkdir(exist_ok=True)
    shot = artefacts / "report.png"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1200,3000"]
    subprocess.run([chromium, *flags, f"--screenshot={shot}", out.as_uri()], check=True, capture_output=True, timeout=120)
    assert shot.stat().st_size > 50_000  # charts and text rendered, not a blank page
    dom = subprocess.run([chromium, *flags, "--dump-dom", out.as_uri()], check=True, capture_output=True, timeout=120, text=True).stdout
    assert "用户需求分析报告" in dom and dom.count("<img") >= 4
    assert not re.findall(r"(?<!\d)1[3-9]\d{9}(?!\d)", re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", dom))


def test_proposals_follow_their_cluster_through_a_merge(store: Store) -> None:
    from insights.demand.clustering import ClusterEvent
    from insights.demand.service import _follow_merges

    a, b = list_proposals(store, limit=2)
    set_status(store, b["id"], "submitted", actor="mgr")
    with store.transaction():
        _follow_merges(store, [ClusterEvent("merge", a["cluster_id"], b["cluster_id"], "test")], datetime.now().isoformat())
    merged = get_proposal(store, b["id"])
    assert merged["merged_into"] == a["id"] and merged["status"] == "submitted"
    assert merged["history"][-1]["action"] == "cluster_merged" and len(merged["history"]) == 3  # nothing lost
    assert b["id"] not in [p["id"] for p in list_proposals(store, limit=500)]


def test_the_approximate_path_in_chunks_keeps_the_themes(
    components: Components, tmp_path: Path, demo_store_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Candidates from the index from the first cluster on, records read two batches at a time: the
    clusters stay those of exact comparison in one chunk (pair F1), and the drafts carry evidence."""
    import sqlite3

    from insights.demand import service
    from tests.insights.demand.test_clustering import _pair_f1

    def build(name: str, exact_limit: int, chunk_batches: int) -> dict[str, str]:
        monkeypatch.setattr(service, "CHUNK_BATCHES", chunk_batches)
        clustering = CONFIG.clustering.model_copy(update={"exact_limit": exact_limit, "batch": 16})
        shutil.copy(demo_store_path, tmp_path / name)
        with Store.open(tmp_path / name) as st:
            report = build_proposals(
                st,
                tokenizer=components.tokenizer,
                taxonomy=components.taxonomy,
                config=CONFIG.model_copy(update={"clustering": clustering}),
                stopwords=frozenset(),
                idf=components.backend(st, semantic=False).idf,
            )
            assert report.clustered > 4 * 16 and report.drafted > 0
            drafts = list_proposals(st, limit=500)
            assert drafts and all(p["size"] == len(p["evidence"]["record_ids"]) for p in drafts)
        conn = sqlite3.connect(tmp_path / name)
        try:
            return dict(conn.execute("SELECT record_id, cluster_id FROM demand_members"))
        finally:
            conn.close()

    exact = build("exact.db", exact_limit=10**9, chunk_batches=1000)
    approx = build("approx.db", exact_limit=0, chunk_batches=2)
    assert _pair_f1(exact, approx) > 0.95


def test_drafts_read_a_sample_of_words_but_count_every_member(
    components: Components, tmp_path: Path, demo_store_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from insights.demand import proposals

    monkeypatch.setattr(proposals, "TEXT_SAMPLE", 4)
    shutil.copy(demo_store_path, tmp_path / "radar.db")
    with Store.open(tmp_path / "radar.db") as st:
        _build(st, components)
        items = list_proposals(st, limit=100)
    big = [p for p in items if p["size"] > 4]
    assert big
    for p in big:
        assert p["size"] == len(p["evidence"]["record_ids"]) == sum(p["evidence"]["by_source"].values())
        assert p["keywords"] and p["title"] and 1 <= len(p["evidence"]["quotes"]) <= 4


def test_members_read_a_few_records_at_a_time_give_the_same_proposals(
    store: Store, components: Components, tmp_path: Path, demo_store_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Themes are read ``READ`` records at a time (a theme of a million-record store never sits in
    memory as records): with reads of 3 the drafts, their evidence and priorities are unchanged."""
    from insights.demand import service

    monkeypatch.setattr(service, "READ", 3)
    shutil.copy(demo_store_path, tmp_path / "small_reads.db")
    with Store.open(tmp_path / "small_reads.db") as other:
        _build(other, components)
        theirs = list_proposals(other, limit=500)
    mine = list_proposals(store, limit=500)
    assert any(p["size"] > 3 for p in mine)
    fields = ("id", "size", "title", "priority", "department", "tier", "evidence", "dimensions")
    assert [{k: p[k] for k in fields} for p in theirs] == [{k: p[k] for k in fields} for p in mine]
