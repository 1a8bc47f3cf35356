"""The HTTP API in process (FastAPI TestClient): keys and roles, coded errors, masking, audit."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.keys import create_key, revoke_key
from insights.credit.scorecard import load_scorecard
from insights.credit.service import grade_store
from radar.settings import Settings
from search.store import Store

PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


@pytest.fixture()
def served(tmp_path: Path, demo_store_path: Path) -> tuple[TestClient, dict[str, str], Path]:
    db = tmp_path / "radar.db"
    shutil.copy(demo_store_path, db)
    with Store.open(db) as store:
        grade_store(store, load_scorecard())
        keys = {
            role: create_key(store, f"{role}-1", role)["key"]
            for role in ("admin", "demand_manager", "complaint_agent", "labeler", "viewer")
        }
    settings = Settings(db=db, semantic=False, zero_shot=False)
    return TestClient(create_app(settings, rate=1000, burst=1000)), keys, db


def _get(client: TestClient, path: str, key: str | None, **kw: object) -> object:
    return client.get(path, headers={"X-API-Key": key} if key else {}, **kw)  # type: ignore[arg-type]


def test_every_protected_route_refuses_missing_wrong_and_revoked_keys(served: tuple[TestClient, dict[str, str], Path]) -> None:
    client, keys, db = served
    routes = [
        ("get", "/search?q=流量"),
        ("get", "/records/tickets:GD00000001"),
        ("get", "/proposals"),
        ("get", "/triage"),
        ("post", "/classify"),
        ("get", "/customers/x/history"),
        ("post", "/triage/x/claim"),
        ("post", "/proposals/x/status"),
    ]
    with Store.open(db) as store:
        doomed = create_key(store, "temp", "admin")
        revoke_key(store, doomed["id"])
    for method, path in routes:
        for key in (None, "dr_wrong", doomed["key"]):
            response = client.request(method, path, headers={"X-API-Key": key} if key else {}, json={"text": "x"})
            assert response.status_code == 401, (method, path, key)
            assert response.json()["code"] == "E502"


def test_roles_see_what_they_should(served: tuple[TestClient, dict[str, str], Path]) -> None:
    client, keys, _ = served
    assert _get(client, "/triage", keys["complaint_agent"]).status_code == 200  # type: ignore[attr-defined]
    assert _get(client, "/triage", keys["admin"]).status_code == 200  # type: ignore[attr-defined]
    for role in ("demand_manager", "labeler", "viewer"):
        refused = _get(client, "/triage", keys[role])
        assert refused.status_code == 403 and refused.json()["code"] == "E503", role  # type: ignore[attr-defined]
    assert _get(client, "/proposals", keys["viewer"]).status_code == 200  # type: ignore[attr-defined]
    assert _get(client, "/proposals", keys["complaint_agent"]).status_code == 403  # type: ignore[attr-defined]
    moved = client.post("/proposals/P-nope/status", headers={"X-API-Key": keys["viewer"]}, json={"status": "submitted"})
    assert moved.status_code == 403


def test_search_record_and_masking(served: tuple[TestClient, dict[str, str], Path]) -> None:
    client, keys, _ = served
    found = _get(client, "/search", keys["demand_manager"], params={"q": "流量", "filter": ["source:tickets"], "limit": 5}).json()  # type: ignore[attr-defined]
    assert found["total"] > 0 and all(h["source"] == "tickets" for h in found["hits"]) and found["facets"]["source"]
    record_id = found["hits"][0]["id"]
    record = _get(client, f"/records/{record_id}", keys["demand_manager"]).json()  # type: ignore[attr-defined]
    assert record["labels"] and "customer_key" not in record and not PHONE.search(str(record))
    refused = _get(client, f"/records/{record_id}", keys["demand_manager"], params={"reveal": "true"})
    assert refused.status_code == 403  # type: ignore[attr-defined]
    revealed = _get(client, f"/records/{record_id}", keys["admin"], params={"reveal": "true"}).json()  # type: ignore[attr-defined]
    assert "raw_identifiers" in revealed
    assert _get(client, "/records/tickets:NOPE", keys["viewer"]).status_code == 404  # type: ignore[attr-defined]


def test_classify_masks_and_explains(served: tuple[TestClient, dict[str, str], Path]) -> None:
    client, keys, _ = served
    body = {"text": "我的号码13812345678，5G套餐每月多扣了58元，再不解决就去工信部投诉", "source": "calls"}
    doc = client.post("/classify", headers={"X-API-Key": keys["labeler"]}, json=body).json()
    assert "13812345678" not in str(doc) and "<手机号>" in doc["text"]
    assert doc["labels"]["intent"][0]["label"] == "投诉" and doc["labels"]["escalation"][0]["evidence"]
    for bad in ({"text": ""}, {"text": "x" * 20_001}, {"text": "x", "source": "fax"}, {}):
        refused = client.post("/classify", headers={"X-API-Key": keys["labeler"]}, json=bad)
        assert refused.status_code == 422 and refused.json()["code"] == "E501"


def test_triage_claim_and_agent_reveal_is_audited(served: tuple[TestClient, dict[str, str], Path]) -> None:
    client, keys, db = served
    agent = {"X-API-Key": keys["complaint_agent"]}
    queue = client.get("/triage", headers=agent, params={"limit": 3}).json()
    item = queue["items"][0]
    assert item["grade"] and item["reasons"] is not None
    assert client.get(f"/records/{item['record_id']}", headers=agent, params={"reveal": "true"}).status_code == 403  # not claimed yet
    assert client.post(f"/triage/{item['record_id']}/claim", headers=agent).json()["claimed_by"] == "complaint_agent-1"
    assert client.get(f"/records/{item['record_id']}", headers=agent, params={"reveal": "true"}).status_code == 200
    taken = client.post(f"/triage/{item['record_id']}/claim", headers={"X-API-Key": keys["admin"]})
    assert taken.status_code == 409 and taken.json()["code"] == "E405"
    with Store.open(db) as store:
        actions = [tuple(r) for r in store.conn.execute("SELECT viewer, action FROM credit_audit ORDER BY rowid")]
    assert ("complaint_agent-1", "reveal_pii") in actions and ("complaint_agent-1", "claim") in actions


def test_rate_limit_per_key(tmp_path: Path, demo_store_path: Path) -> None:
    db = tmp_path / "radar.db"
    shutil.copy(demo_store_path, db)
    with Store.open(db) as store:
        key = create_key(store, "burst", "viewer")["key"]
    client = TestClient(create_app(Settings(db=db, semantic=False, zero_shot=False), rate=0.01, burst=3))
    codes = [client.get("/proposals", headers={"X-API-Key": key}).status_code for _ in range(5)]
    assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]


def test_health_metrics_and_openapi(served: tuple[TestClient, dict[str, str], Path]) -> None:
    client, _, _ = served
    assert client.get("/health").json()["status"] == "ok"
    metrics = client.get("/metrics").text
    assert 'radar_records{source="tickets"}' in metrics
    spec = client.get("/openapi.json").json()
    assert {"/search", "/classify", "/records/{record_id}", "/triage", "/proposals"} <= set(spec["paths"])


def test_keys_cli_creates_lists_and_revokes(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from api.cli import app

    runner = CliRunner()
    db = str(tmp_path / "radar.db")
    made = runner.invoke(app, ["keys", "create", "--name", "ops", "--role", "viewer", "--db", db, "--json"])
    doc = json.loads(made.stdout)
    assert made.exit_code == 0 and doc["key"].startswith("dr_")
    listed = json.loads(runner.invoke(app, ["keys", "list", "--db", db, "--json"]).stdout)["keys"]
    assert [k["id"] for k in listed] == [doc["id"]] and "key" not in listed[0] and doc["key"] not in json.dumps(listed)
    assert runner.invoke(app, ["keys", "revoke", doc["id"], "--db", db]).exit_code == 0
    bad = runner.invoke(app, ["keys", "create", "--name", "x", "--role", "root", "--db", db])
    assert bad.exit_code == 1 and "E501" in bad.stderr


def test_trends_and_report_over_http(served: tuple[TestClient, dict[str, str], Path]) -> None:
    client, keys, _ = served
    viewer = {"X-API-Key": keys["viewer"]}
    doc = client.get("/trends", headers=viewer, params={"by": "source", "period": "month"}).json()
    assert doc["periods"] and set(doc["series"]) == {"forum", "calls", "tickets", "forms"} and "emerging" in doc
    assert client.get("/trends", headers=viewer, params={"by": "colour"}).status_code == 422
    page = client.get(f"/reports/{doc['periods'][1]}", headers=viewer)
    assert page.status_code == 200 and "用户需求分析报告" in page.text and not PHONE.search(page.text.split("data:image")[0])
    assert client.get("/reports/2026-13", headers=viewer).status_code == 422
    assert client.get("/trends", headers={"X-API-Key": keys["complaint_agent"]}).status_code == 403
