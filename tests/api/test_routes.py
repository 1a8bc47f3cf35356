"""The API's resources beyond search: upload ingestion, taxonomy versions, batch jobs, export, saved searches."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.pipeline import Components, label_store
from search.store import Store
from taxonomy.loader import bundled_taxonomy_path, load_taxonomy
from tests.api.conftest import Served

PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


@pytest.fixture()
def api(served_store: Served, tmp_path: Path) -> tuple[TestClient, Served]:
    db = tmp_path / "radar.db"
    shutil.copy(served_store.db, db)
    served = Served(db, served_store.keys, served_store.settings.model_copy(update={"db": db}))
    return TestClient(create_app(served.settings, rate=10_000, burst=10_000)), served


def _h(served: Served, role: str) -> dict[str, str]:
    return {"X-API-Key": served.keys[role]}


def _wait(http: TestClient, served: Served, job_id: int) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job: dict[str, Any] = http.get(f"/jobs/{job_id}", headers=_h(served, "labeler")).json()
        if job["status"] != "running":
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still running")


def test_upload_a_gbk_csv_quarantines_bad_rows_and_labels_the_rest(api: tuple[TestClient, Served]) -> None:
    http, served = api
    rows = "工单编号,投诉内容,受理时间\nUP1,我的5G套餐每月多扣了20元流量费，联系电话13812345678,2026-11-01 10:00\nUP2,,2026-11-02\n"
    response = http.post("/ingest/tickets", files={"file": ("导出.csv", rows.encode("gbk"))}, headers=_h(served, "labeler"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["report"]["ingested"] == 1 and body["report"]["quarantined"] == 1
    assert body["report"]["read"] == sum(body["report"][k] for k in ("ingested", "updated", "duplicates", "quarantined"))
    job = _wait(http, served, body["job"]["id"])
    assert job["status"] == "done" and job["done"] >= 1
    record = http.get("/records/tickets:UP1", headers=_h(served, "demand_manager")).json()
    assert record["labels"]["complaint_type"] and not PHONE.findall(json.dumps(record, ensure_ascii=False))
    found = http.get("/search", params={"q": "多扣 流量费"}, headers=_h(served, "viewer")).json()
    assert "tickets:UP1" in [h["id"] for h in found["hits"]]


def test_taxonomy_versions_validate_upload_diff_activate(api: tuple[TestClient, Served]) -> None:
    http, served = api
    yaml_h = {"content-type": "application/yaml"}
    broken = http.post("/taxonomy/validate", content=b"version: x\nfacets: 3\n", headers=_h(served, "labeler") | yaml_h)
    assert broken.status_code == 422 and broken.json()["code"] == "E201"
    text = bundled_taxonomy_path().read_text(encoding="utf-8")
    version = load_taxonomy(None).version
    changed = re.sub(r"^version:.*$", "version: test-9.9", text, count=1, flags=re.M).replace("keywords: [", "keywords: [魔法词, ", 1)
    uploaded = http.post("/taxonomy/versions", content=changed.encode(), headers=_h(served, "admin") | yaml_h)
    assert uploaded.status_code == 201 and uploaded.json()["version"] == "test-9.9" and not uploaded.json()["active"]
    again = http.post("/taxonomy/versions", content=changed.encode(), headers=_h(served, "admin") | yaml_h)
    assert again.json()["fingerprint"] == uploaded.json()["fingerprint"]  # kept once
    assert len(http.get("/taxonomy/versions", headers=_h(served, "labeler")).json()) == 1
    diff = http.get("/taxonomy/diff", params={"old": "bundled", "new": "test-9.9"}, headers=_h(served, "labeler")).json()
    assert diff["old"] == version and diff["new"] == "test-9.9" and diff["content_changed"]
    assert any(change["rules_changed"] for change in diff["facets"].values())
    assert http.get("/taxonomy", headers=_h(served, "viewer")).json()["version"] == version
    assert http.post("/taxonomy/versions/test-9.9/activate", headers=_h(served, "admin")).json()["active"]
    assert http.get("/taxonomy", headers=_h(served, "viewer")).json()["version"] == "test-9.9"
    classified = http.post("/classify", json={"text": "流量不够用"}, headers=_h(served, "viewer")).json()
    assert classified["taxonomy_version"] == "test-9.9"  # the API classifies with the active version
    missing = http.post("/taxonomy/versions/nope/activate", headers=_h(served, "admin"))
    assert missing.status_code == 404 and missing.json()["code"] == "E511"


def test_jobs_run_report_progress_and_refuse_a_second(api: tuple[TestClient, Served]) -> None:
    http, served = api
    started = http.post("/jobs", json={"kind": "relabel"}, headers=_h(served, "labeler"))
    assert started.status_code == 202 and started.json()["status"] == "running"
    job = _wait(http, served, started.json()["id"])
    with Store.open(served.db) as store:
        total = store.count()
    assert job["status"] == "done" and job["done"] == job["total"] == total and job["started_by"] == "labeler-1"
    with Store.open(served.db) as store:
        blocker = store.start_job("label", {})
    refused = http.post("/jobs", json={"kind": "label"}, headers=_h(served, "admin"))
    assert refused.status_code == 409 and refused.json()["code"] == "E506"
    cancelled = http.post(f"/jobs/{blocker}/cancel", headers=_h(served, "labeler")).json()
    assert cancelled["cancel_requested"] and cancelled["status"] == "running"
    assert http.get("/jobs/424242", headers=_h(served, "labeler")).json()["code"] == "E507"
    assert [j["id"] for j in http.get("/jobs", headers=_h(served, "labeler")).json()][:2] == [blocker, job["id"]]


def test_a_cancelled_label_run_stops_between_batches_and_keeps_its_work(api: tuple[TestClient, Served], components: Components) -> None:
    _, served = api
    with Store.open(served.db) as store:
        job = store.start_job("relabel", {})
        store.request_cancel(job)
        report = label_store(store, components, mode="all", batch=50, entities=False, job_id=job)
        recorded = store.job(job)
    assert report.records == 50 and recorded is not None
    assert recorded["status"] == "cancelled" and recorded["done"] == 50


def test_export_streams_masked_hits_as_csv_and_jsonl(api: tuple[TestClient, Served]) -> None:
    http, served = api
    total = http.get("/search", params={"q": "流量"}, headers=_h(served, "viewer")).json()["total"]
    exported = http.get("/search/export", params={"q": "流量", "limit": 10_000}, headers=_h(served, "viewer"))
    assert exported.status_code == 200 and exported.text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(exported.text.lstrip("\ufeff"))))
    assert rows[0] == ["id", "source", "created_at", "title", "text", "labels"] and len(rows) - 1 == total
    assert not PHONE.findall(exported.text)
    lines = http.get("/search/export", params={"q": "流量", "format": "jsonl", "limit": 3}, headers=_h(served, "viewer")).text.splitlines()
    assert len(lines) == min(3, total) and all(json.loads(line)["id"] for line in lines)


def test_saved_searches_round_trip(api: tuple[TestClient, Served]) -> None:
    http, served = api
    body = {"name": "流量扣费", "query": "流量 扣费", "filters": ["intent:投诉"]}
    assert http.post("/searches", json=body, headers=_h(served, "demand_manager")).status_code == 201
    assert http.post("/searches", json=body | {"filters": ["nofacet"]}, headers=_h(served, "demand_manager")).status_code == 422
    saved = http.get("/searches", headers=_h(served, "viewer")).json()
    assert saved == [{"name": "流量扣费", "query": "流量 扣费", "filters": [["intent", "投诉"]], "rule": False}]


def test_models_registry_answers_404_for_unknown_ids(api: tuple[TestClient, Served]) -> None:
    http, served = api
    assert http.get("/models", headers=_h(served, "labeler")).json() == []
    missing = http.post("/models/7/promote", headers=_h(served, "admin"))
    assert missing.status_code == 404 and missing.json()["code"] == "E306"
    huge = http.get(f"/models/{2**70}", headers=_h(served, "labeler"))
    assert huge.status_code == 422 and huge.json()["code"] == "E501"  # not an integer overflow in SQLite


def test_metrics_count_requests_by_route_template(api: tuple[TestClient, Served]) -> None:
    http, served = api
    for rid in ("tickets:a", "tickets:b"):
        http.get(f"/records/{rid}", headers=_h(served, "viewer"))
    text = http.get("/metrics").text
    assert 'radar_http_requests_total{method="GET",route="/records/{record_id}",status="404"} 2' in text
    assert "tickets:a" not in text  # ids never become label values
    assert 'radar_http_request_seconds_count{method="GET",route="/records/{record_id}"} 2' in text


def test_search_collapses_on_request_and_grade_filters_are_for_agents(api: tuple[TestClient, Served]) -> None:
    http, served = api
    plain = http.get("/search", params={"limit": 200}, headers=_h(served, "viewer")).json()
    folded = http.get("/search", params={"limit": 200, "collapse": "true"}, headers=_h(served, "viewer")).json()
    assert all(h["duplicates"] == 0 for h in plain["hits"])
    assert folded["total"] < plain["total"] and sum(1 + h["duplicates"] for h in folded["hits"]) == plain["total"]
    for q, filters in (("", ["credit_grade:A"]), ("credit_grade:A 流量", [])):
        denied = http.get("/search", params={"q": q, "filter": filters}, headers=_h(served, "viewer"))
        assert denied.status_code == 403
        assert http.get("/search", params={"q": q, "filter": filters}, headers=_h(served, "complaint_agent")).status_code == 200
    assert http.get("/search/export", params={"filter": ["credit_grade:A"]}, headers=_h(served, "viewer")).status_code == 403
    proposed = http.get("/search", params={"filter": ["in_proposal:yes"]}, headers=_h(served, "viewer")).json()
    others = http.get("/search", params={"filter": ["in_proposal:no"]}, headers=_h(served, "viewer")).json()
    assert proposed["total"] > 0 and proposed["total"] + others["total"] == plain["total"]
