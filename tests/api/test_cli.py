from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from api.cli import app

runner = CliRunner()


def _json(result) -> dict:  # type: ignore[no-untyped-def, type-arg]
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_demo_then_search(tmp_path: Path) -> None:
    db = tmp_path / "radar.db"
    doc = _json(runner.invoke(app, ["demo", "--db", str(db), "--json"]))
    assert set(doc["records"]) == {"forum", "calls", "tickets", "forms"}
    assert all(n > 0 for n in doc["records"].values())
    for facet in ("demand_category", "complaint_type", "intent"):
        assert doc["labels"][facet]
    assert len(doc["searches"]) == 2 and all(s["hits"] for s in doc["searches"])
    for source, rep in doc["ingest"].items():
        assert rep["read"] == rep["ingested"] + rep["updated"] + rep["duplicates"] + rep["quarantined"], source

    found = _json(runner.invoke(app, ["search", "流量", "--db", str(db), "--json"]))
    assert found["total"] > 0 and found["hits"]
    hit = found["hits"][0]
    assert set(hit) >= {"id", "source", "text", "labels", "score"}
    assert "流量" in hit["text"] and hit["labels"]
    assert found["facets"]["intent"] and "next_cursor" in found

    filtered = _json(runner.invoke(app, ["search", "流量", "--filter", "source=tickets", "--db", str(db), "--json", "--limit", "100"]))
    assert filtered["total"] == filtered["facets"]["source"]["tickets"]

    again = _json(runner.invoke(app, ["demo", "--db", str(db), "--json"]))
    assert again["records"] == doc["records"]  # idempotent: re-running adds nothing
    assert all(r["ingested"] == 0 for r in again["ingest"].values())


def test_usage_error_exits_2(tmp_path: Path) -> None:
    assert runner.invoke(app, ["search", "--limit", "abc"]).exit_code == 2
    assert runner.invoke(app, ["no-such-command"]).exit_code == 2


def test_failure_exits_1_with_code(tmp_path: Path) -> None:
    result = runner.invoke(app, ["search", "流量", "--db", str(tmp_path / "r.db"), "--filter", "novalue", "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"]["code"] == "E303"
    result = runner.invoke(app, ["ingest", "tickets", str(tmp_path / "missing.csv"), "--db", str(tmp_path / "r.db")])
    assert result.exit_code == 1 and "E101" in result.stderr


def test_every_contract_command_exists() -> None:
    for command in (
        "demo",
        "ingest",
        "label",
        "label-file",
        "search",
        "train",
        "eval",
        "taxonomy",
        "proposals",
        "triage",
        "report",
        "serve",
    ):
        assert runner.invoke(app, [command, "--help"]).exit_code == 0, command


def test_label_file_streams_rows(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_bytes("id,text\n1,营业厅排队太久了\n2,我的流量怎么扣了这么多钱\n".encode("gbk"))
    dst = tmp_path / "out.jsonl"
    summary = _json(runner.invoke(app, ["label-file", str(src), str(dst), "--json"]))
    assert summary["rows"] == 2
    rows = [json.loads(line) for line in dst.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["1", "2"]
    assert rows[0]["labels"]["demand_category"][0]["label"].startswith("触点")
    assert {"label", "score", "source", "evidence"} <= set(rows[1]["labels"]["demand_category"][0])


def test_taxonomy_validate_json() -> None:
    doc = _json(runner.invoke(app, ["taxonomy", "validate", "--json"]))
    assert doc["valid"] and doc["facets"]["demand_category"] > 5


def test_console_script_runs() -> None:
    out = subprocess.run([sys.executable, "-m", "api", "--help"], capture_output=True, text=True, check=False)
    assert out.returncode == 0 and "demo" in out.stdout


def test_ingest_config_and_forum_api_from_the_cli(tmp_path: Path, sample_dir: Path) -> None:
    from tests.ingestion.test_forum_api import ForumStandIn, _posts

    server = ForumStandIn(_posts(12))
    try:
        db = str(tmp_path / "r.db")
        doc = _json(runner.invoke(app, ["ingest", "forum", server.url, "--db", db, "--json"]))
        assert (doc["read"], doc["ingested"]) == (12, 12)
    finally:
        server.close()
    config = tmp_path / "sources.yaml"
    config.write_text(f"sources:\n  - name: calls\n    source: calls\n    path: {sample_dir / 'calls'}\n", encoding="utf-8")
    doc = _json(runner.invoke(app, ["ingest", "--config", str(config), "--db", db, "--json"]))
    assert doc["sources"]["calls"]["ingested"] > 0
    assert doc["read"] == doc["ingested"] + doc["updated"] + doc["duplicates"] + doc["quarantined"]
    assert runner.invoke(app, ["ingest", "--db", db]).exit_code == 1  # neither SOURCE PATH nor --config


def test_label_modes_relabel_what_changed(tmp_path: Path) -> None:
    db = str(tmp_path / "radar.db")
    _json(runner.invoke(app, ["demo", "--db", db, "--json"], env={"RADAR_SEMANTIC": "false"}))
    unchanged = _json(runner.invoke(app, ["label", "--db", db, "--json", "--no-zero-shot"]))
    assert unchanged["records"] == 0  # nothing new or changed
    backfill = _json(runner.invoke(app, ["label", "--db", db, "--json", "--backfill", "--no-zero-shot"]))
    assert backfill["records"] > 0  # the demo labelled with the zero-shot backup: another labeler version
    again = _json(runner.invoke(app, ["label", "--db", db, "--json", "--backfill", "--no-zero-shot"]))
    assert again["records"] == 0


def test_search_modes_like_and_export(tmp_path: Path) -> None:
    import csv as csv_module
    import re

    import openpyxl

    db = str(tmp_path / "radar.db")
    env = {"RADAR_ZERO_SHOT": "false"}
    _json(runner.invoke(app, ["demo", "--db", db, "--json"], env=env))
    keyword = _json(runner.invoke(app, ["search", "宽带 断网", "--mode", "keyword", "--db", db, "--json", "--limit", "1000"], env=env))
    hybrid = _json(runner.invoke(app, ["search", "宽带 断网", "--mode", "hybrid", "--db", db, "--json", "--limit", "1000"], env=env))
    assert hybrid["total"] >= keyword["total"] > 0
    assert runner.invoke(app, ["search", "x", "--mode", "fuzzy", "--db", db]).exit_code == 1
    args = ["search", "宽带 断网", "--mode", "keyword", "--db", db, "--json", "--limit", "1000"]
    folded = _json(runner.invoke(app, [*args, "--collapse"], env=env))
    assert keyword["total"] == len(keyword["hits"])  # every hit on one page, so the collapsed set can be checked whole
    assert len(folded["hits"]) + sum(h["duplicates"] for h in folded["hits"]) == len(keyword["hits"])
    assert {h["id"] for h in folded["hits"]} <= {h["id"] for h in keyword["hits"]}

    liked = keyword["hits"][0]["id"]
    similar = _json(runner.invoke(app, ["search", "--like", liked, "--db", db, "--json", "--limit", "20"], env=env))
    assert similar["total"] > 0 and liked not in [h["id"] for h in similar["hits"]]
    assert runner.invoke(app, ["search", "--like", "tickets:nope", "--db", db, "--json"]).exit_code == 1

    for suffix in ("csv", "xlsx"):
        out = tmp_path / f"export.{suffix}"
        doc = _json(runner.invoke(app, ["search", "流量", "--mode", "keyword", "--export", str(out), "--db", db, "--json"], env=env))
        assert doc["exported"]["rows"] == doc["total"] > 10  # every page, not just the first
        if suffix == "csv":
            with out.open(encoding="utf-8-sig") as fh:
                rows = list(csv_module.DictReader(fh))
        else:
            sheet = openpyxl.load_workbook(out, read_only=True).active
            values = list(sheet.iter_rows(values_only=True))
            rows = [dict(zip(values[0], v, strict=True)) for v in values[1:]]
        assert len(rows) == doc["total"] and all("流量" in (r["title"] or "") + r["text"] for r in rows)
        assert any(r["evidence"] for r in rows)
        assert not [r for r in rows if re.search(r"(?<!\d)1[3-9]\d{9}(?!\d)", r["text"])]  # exports stay masked


def test_label_file_with_workers_keeps_order_and_content(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    texts = ["营业厅排队太久了", "我的流量怎么扣了这么多钱", "希望推出5G套餐", "请问怎么查话费", "宽带断网了"] * 700
    src.write_text("\n".join(json.dumps({"id": i, "text": t}, ensure_ascii=False) for i, t in enumerate(texts)), encoding="utf-8")
    outputs = []
    for workers in ("1", "2"):
        dst = tmp_path / f"out-{workers}.jsonl"
        summary = _json(runner.invoke(app, ["label-file", str(src), str(dst), "--workers", workers, "--json"]))
        assert summary["rows"] == len(texts)
        outputs.append(dst.read_text(encoding="utf-8"))
    assert outputs[0] == outputs[1]
    assert [json.loads(line)["id"] for line in outputs[1].splitlines()] == list(range(len(texts)))
