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


def test_grade_triage_claim_show(tmp_path: Path, demo_store_path: Path) -> None:
    db = tmp_path / "radar.db"
    shutil.copy(demo_store_path, db)
    graded = _json(runner.invoke(app, ["credit", "grade", "--db", str(db), "--as-of", "2026-11-24T12:00:00", "--json"]))
    assert graded["customers_graded"] > 0 and graded["open_complaints"] > 0 and sum(graded["grade_counts"].values()) > 0

    queue = _json(runner.invoke(app, ["triage", "--db", str(db), "--as-of", "2026-11-24T12:00:00", "--limit", "5", "--json"]))
    assert queue["total"] == graded["open_complaints"] and 0 < len(queue["items"]) <= 5
    first = queue["items"][0]
    assert {"record_id", "customer_key", "grade", "risk", "deadline", "guidance", "reasons"} <= set(first)
    assert [i["priority"] for i in queue["items"]] == sorted((i["priority"] for i in queue["items"]), reverse=True)

    claimed = _json(runner.invoke(app, ["triage", "claim", first["record_id"], "--db", str(db), "--who", "agent-1", "--json"]))
    assert claimed["claimed_by"] == "agent-1"
    taken = runner.invoke(app, ["triage", "claim", first["record_id"], "--db", str(db), "--who", "agent-2", "--json"])
    assert taken.exit_code == 1 and json.loads(taken.stdout)["error"]["code"] == "E405"
    unclaimed = _json(runner.invoke(app, ["triage", "--db", str(db), "--filter", "claimed_by=none", "--json", "--limit", "500"]))
    assert first["record_id"] not in [i["record_id"] for i in unclaimed["items"]]

    if first["customer_key"]:
        view = _json(runner.invoke(app, ["credit", "show", first["customer_key"], "--db", str(db), "--viewer", "qa", "--json"]))
        assert view["grade"]["grade"] == first["grade"] and view["contacts"]
        assert first["record_id"] in [c["record_id"] for c in view["contacts"]]

    bad = runner.invoke(app, ["triage", "--db", str(db), "--filter", "colour=red"])
    assert bad.exit_code == 1 and "E501" in bad.stderr
