from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from api.cli import app

runner = CliRunner()


def _json(result) -> dict:  # type: ignore[no-untyped-def, type-arg]
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_proposals_trends_report_and_rules(tmp_path: Path, demo_store_path: Path) -> None:
    db = str(tmp_path / "radar.db")
    shutil.copy(demo_store_path, db)
    built = _json(runner.invoke(app, ["proposals", "build", "--db", db, "--json"]))
    assert built["drafted"] > 0 and 0 <= built["outlier_share"] < 1

    listed = _json(runner.invoke(app, ["proposals", "list", "--db", db, "--json"]))["proposals"]
    assert listed and [p["priority"] for p in listed] == sorted((p["priority"] for p in listed), reverse=True)
    for key in ("id", "title", "summary", "size", "status", "department", "tier", "priority", "dimensions", "evidence"):
        assert key in listed[0]
    assert listed[0]["evidence"]["record_ids"] and listed[0]["evidence"]["quotes"]

    pid = listed[0]["id"]
    moved = _json(runner.invoke(app, ["proposals", "set-status", pid, "submitted", "--db", db, "--actor", "mgr", "--json"]))
    assert moved["status"] == "submitted" and moved["history"][-1]["actor"] == "mgr"
    bad = runner.invoke(app, ["proposals", "set-status", pid, "done", "--db", db, "--json"])
    assert bad.exit_code == 1 and json.loads(bad.stdout)["error"]["code"] == "E407"
    wrong_dept = runner.invoke(app, ["proposals", "set-status", pid, "--department", "财务", "--db", db])
    assert wrong_dept.exit_code == 1 and "E501" in wrong_dept.stderr

    trends = _json(runner.invoke(app, ["trends", "--db", db, "--by", "source", "--period", "month", "--json"]))
    assert trends["periods"] and set(trends["series"]) == {"forum", "calls", "tickets", "forms"}
    assert all(len(v) == len(trends["periods"]) for v in trends["series"].values())

    month = trends["periods"][1]
    out = tmp_path / "report.html"
    report = _json(runner.invoke(app, ["report", "--period", month, "--out", str(out), "--db", db, "--json"]))
    assert out.exists() and report["records"] == sum(v[1] for v in trends["series"].values())
    assert runner.invoke(app, ["report", "--period", "2026-13", "--db", db]).exit_code == 1

    saved = _json(runner.invoke(app, ["searches", "save", "宽带", "宽带 断网", "--rule", "--db", db, "--json"]))
    assert saved["rule"]
    applied = _json(runner.invoke(app, ["searches", "apply", "--db", db, "--json"]))["new_matches"]
    assert applied["宽带"] > 0
    assert _json(runner.invoke(app, ["searches", "apply", "--db", db, "--json"]))["new_matches"]["宽带"] == 0  # counted once
