from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from tests.conftest import shared_file

runner = CliRunner()
KEYS = {"n", "macro_f1", "micro_f1", "accuracy", "per_label", "confusion"}


def _tipdm_sample(tmp_path: Path, n: int = 210, encoding: str = "utf-8") -> Path:
    """A stratified slice of the real TipDM labelled messages, written in the given encoding."""
    src = shared_file("tipdm2020_gov/messages_labeled_subset495.csv")
    with src.open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    by_class: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_class.setdefault(row["一级分类"], []).append(row)
    picked = [r for group in by_class.values() for r in group[: n // len(by_class)]]
    out = tmp_path / f"tipdm-{encoding}.csv"
    with out.open("w", encoding=encoding, errors="replace", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["主题", "详情", "类别"])
        writer.writerows([r["留言主题"], r["留言详情"][:300], r["一级分类"]] for r in picked)
    return out


def _json(args: list[str]) -> dict:  # type: ignore[type-arg]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.slow
def test_train_then_eval_round_trip_on_gbk_csv(tmp_path: Path) -> None:
    data = _tipdm_sample(tmp_path, encoding="gbk")
    cols = ["--text-col", "主题+详情", "--label-col", "类别"]
    trained = _json(["train", "--data", str(data), "--out", str(tmp_path / "m"), *cols, "--json"])
    card = trained["card"]
    assert card["data"]["rows"] == 210 and len(card["labels"]) == 7 and card["model_type"] == "linear"
    assert set(trained["held_out"]) == KEYS and trained["held_out"]["macro_f1"] > 0.4
    assert (tmp_path / "m" / "model_card.json").exists()
    evaluated = _json(["eval", "--model", str(tmp_path / "m"), "--data", str(data), *cols, "--json"])
    assert set(evaluated) == KEYS and evaluated["n"] == 210
    assert evaluated["macro_f1"] >= trained["held_out"]["macro_f1"]  # it has seen these rows
    per = evaluated["per_label"]["城乡建设"]
    assert set(per) == {"precision", "recall", "f1", "support"} and per["support"] == 30
    assert len(evaluated["confusion"]["matrix"]) == len(evaluated["confusion"]["labels"])


@pytest.mark.slow
def test_same_seed_same_metrics(tmp_path: Path) -> None:
    data = _tipdm_sample(tmp_path)
    args = [
        "eval",
        "--cv",
        "3",
        "--model-type",
        "baseline",
        "--data",
        str(data),
        "--text-col",
        "主题+详情",
        "--label-col",
        "类别",
        "--json",
    ]
    assert _json(args) == _json(args)


def test_multi_label_training(tmp_path: Path) -> None:
    data = tmp_path / "multi.jsonl"
    texts = [
        ("流量扣费太多", "消费|投诉"),
        ("营业厅排队太久", "触点|投诉"),
        ("希望推出5G套餐", "趋势"),
        ("流量包怎么办理", "消费"),
        ("营业员态度差", "触点|投诉"),
        ("5G信号什么时候覆盖", "趋势"),
        ("话费多扣了", "消费|投诉"),
        ("窗口太少", "触点"),
    ] * 4
    data.write_text("\n".join(json.dumps({"text": t, "label": lab}, ensure_ascii=False) for t, lab in texts), encoding="utf-8")
    doc = _json(["train", "--data", str(data), "--out", str(tmp_path / "m"), "--multi-label-sep", "|", "--model", "baseline", "--json"])
    assert doc["card"]["data"]["multi_label"] and set(doc["card"]["labels"]) == {"消费", "投诉", "触点", "趋势"}
    from training.store import load_model

    model, _ = load_model(tmp_path / "m")
    assert "投诉" in model.predict(["流量扣费太多了"], threshold=0.3)[0]


def test_coded_errors(tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    data.write_text("text,label\n流量,a\n宽带,a\n", encoding="utf-8")
    result = runner.invoke(app, ["train", "--data", str(data), "--out", str(tmp_path / "m"), "--json"])
    assert result.exit_code == 1 and json.loads(result.stdout)["error"]["code"] == "E210"
    result = runner.invoke(app, ["train", "--data", str(data), "--out", str(tmp_path / "m"), "--label-col", "nope", "--json"])
    assert json.loads(result.stdout)["error"]["code"] == "E209"
    result = runner.invoke(app, ["eval", "--data", str(data), "--json"])
    assert result.exit_code == 1 and json.loads(result.stdout)["error"]["code"] == "E501"


def test_confusion_png(tmp_path: Path) -> None:
    from training.evaluate import confusion_png, metrics

    result = metrics([["网络质量"], ["费用争议"], ["网络质量"]], [["网络质量"], ["网络质量"], ["网络质量"]])
    assert result["confusion"]["labels"] == ["网络质量", "费用争议"]  # sorted by code point
    assert result["confusion"]["matrix"] == [[2, 0], [1, 0]]  # rows gold, columns predicted
    assert result["per_label"]["费用争议"]["recall"] == 0.0 and result["accuracy"] == round(2 / 3, 4)
    path = confusion_png(result, tmp_path / "cm.png")
    assert path.stat().st_size > 1000 and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_registry_attach_puts_a_model_into_the_ensemble(tmp_path: Path) -> None:
    db = str(tmp_path / "radar.db")
    runner.invoke(app, ["demo", "--db", db, "--json"], env={"RADAR_ZERO_SHOT": "false", "RADAR_SEMANTIC": "false"})
    import sqlite3

    conn = sqlite3.connect(db)
    rows = conn.execute(
        "SELECT r.text, l.label FROM records r JOIN labels l ON l.record_rowid = r.rowid "
        "WHERE l.facet = 'complaint_type' AND l.source LIKE '%ticket_field%'"
    ).fetchall()
    conn.close()
    data = tmp_path / "complaints.jsonl"  # the agents' own complaint types on the (synthetic) tickets
    data.write_text("\n".join(json.dumps({"text": t, "label": lab}, ensure_ascii=False) for t, lab in rows), encoding="utf-8")
    trained = _json(
        [
            "train",
            "--data",
            str(data),
            "--out",
            str(tmp_path / "ct"),
            "--facet",
            "complaint_type",
            "--model",
            "baseline",
            "--db",
            db,
            "--json",
        ]
    )
    listed = _json(["models", "list", "--db", db, "--json"])["models"]
    assert [m["id"] for m in listed] == [trained["id"]] and not listed[0]["attached"]
    attached = _json(["models", "attach", str(trained["id"]), "--facet", "complaint_type", "--db", db, "--json"])
    assert attached["attached"] and attached["facet"] == "complaint_type"
    relabelled = _json(["label", "--backfill", "--no-zero-shot", "--db", db, "--json"])
    assert relabelled["records"] > 0
    conn = sqlite3.connect(db)
    sources = [r[0] for r in conn.execute("SELECT source FROM labels WHERE facet = 'complaint_type'")]
    conn.close()
    assert any("model:ct" in s for s in sources)
    assert runner.invoke(app, ["models", "attach", str(trained["id"]), "--facet", "nope", "--db", db]).exit_code == 1
