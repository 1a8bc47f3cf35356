"""Batch labelling that survives interruption: label-file resumes from its checkpoint after SIGKILL,
the store's labelling picks up where it stopped, worker processes give the same labels, a named
model labels its facet."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from api.pipeline import Components, label_store
from search.store import Store

runner = CliRunner()
REASONS = ["套餐变更", "宽带故障", "费用争议", "服务投诉", "网络覆盖"]
PHRASES = [
    "流量不够用，想换个大一点的套餐",
    "宽带总是掉线，师傅什么时候上门",
    "话费多扣了二十元，要求退还",
    "营业厅排队太久了",
    "5G信号不好",
]


def _rows(path: Path, n: int) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "text"])
        writer.writerows([i, f"{PHRASES[i % len(PHRASES)]}，第{i}次反映，编号{i * 7919 % 100000}"] for i in range(n))
    return path


def _cli() -> list[str]:
    radar = Path(sys.executable).parent / "radar"
    return [str(radar)] if radar.exists() else [sys.executable, "-m", "api"]


@pytest.mark.slow
def test_label_file_resumes_after_sigkill_with_nothing_twice_and_nothing_skipped(tmp_path: Path) -> None:
    src = _rows(tmp_path / "in.csv", 60_000)
    whole, cut = tmp_path / "whole.jsonl", tmp_path / "cut.jsonl"
    subprocess.run([*_cli(), "label-file", str(src), str(whole), "--json"], check=True, capture_output=True, timeout=600)
    checkpoint = cut.with_name(cut.name + ".checkpoint")
    proc = subprocess.Popen([*_cli(), "label-file", str(src), str(cut), "--json"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not (checkpoint.exists() and json.loads(checkpoint.read_text())["rows"] >= 2000):
        assert proc.poll() is None, "finished before it could be interrupted: make the input larger"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = json.loads(checkpoint.read_text())["rows"]
    assert 0 < done_before < 60_000
    resumed = subprocess.run(
        [*_cli(), "label-file", str(src), str(cut), "--resume", "--json"], check=True, capture_output=True, timeout=600
    )
    report = json.loads(resumed.stdout)
    assert report["resumed_from"] == done_before and report["rows"] == 60_000 - done_before
    assert cut.read_bytes() == whole.read_bytes()  # the same lines, each once, in order
    assert not checkpoint.exists()


def test_a_checkpoint_for_another_input_is_refused(tmp_path: Path) -> None:
    src = _rows(tmp_path / "in.csv", 50)
    dst = tmp_path / "out.jsonl"
    dst.write_text("{}\n")
    dst.with_name(dst.name + ".checkpoint").write_text(
        json.dumps({"fingerprint": {"src": "other"}, "rows": 1, "needs_review": 0, "bytes": 3})
    )
    result = runner.invoke(app, ["label-file", str(src), str(dst), "--resume", "--json"])
    assert result.exit_code == 1 and "E101" in result.stdout and "checkpoint" in result.stdout


def test_store_labelling_resumes_where_it_stopped(tmp_path: Path, demo_store_path: Path, components: Components) -> None:
    db = tmp_path / "radar.db"
    shutil.copy(demo_store_path, db)
    with Store.open(db) as store:
        total = store.count()
        store.conn.execute("UPDATE records SET labelled_hash = NULL")  # as if new: everything to label

        def crash_after_first_batch(n: int) -> None:
            raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            label_store(store, components, batch=40, entities=False, on_progress=crash_after_first_batch)
        rest = label_store(store, components, batch=40, entities=False)
        assert rest.records == total - 40  # the committed batch is not labelled again, nothing is skipped
        assert label_store(store, components, batch=40, entities=False).records == 0


def test_workers_give_the_same_labels(tmp_path: Path, demo_store_path: Path, components: Components) -> None:
    labels = []
    for workers in (1, 2):
        db = tmp_path / f"w{workers}.db"
        shutil.copy(demo_store_path, db)
        with Store.open(db) as store:
            report = label_store(store, components, mode="all", batch=50, entities=True, workers=workers)
            assert report.records == store.count()
            labels.append(store.conn.execute("SELECT record_rowid, facet, label, score FROM labels ORDER BY 1, 2, 3").fetchall())
    assert [tuple(r) for r in labels[0]] == [tuple(r) for r in labels[1]]


@pytest.mark.slow
def test_label_file_with_a_trained_model_labels_its_facet(tmp_path: Path) -> None:
    train = tmp_path / "train.csv"
    with train.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "来电原因"])
        reasons = REASONS
        writer.writerows([f"{PHRASES[i % 5]}，{i}", reasons[i % 5]] for i in range(200))
    model = tmp_path / "reason-model"
    trained = runner.invoke(
        app,
        [
            "train",
            "--data",
            str(train),
            "--label-col",
            "来电原因",
            "--facet",
            "call_reason",
            "--out",
            str(model),
            "--db",
            str(tmp_path / "r.db"),
            "--json",
        ],
    )
    assert trained.exit_code == 0, trained.output
    src, dst = _rows(tmp_path / "in.csv", 30), tmp_path / "out.jsonl"
    result = runner.invoke(app, ["label-file", str(src), str(dst), "--model", str(model), "--json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in dst.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 30
    for row in rows:
        top = row["labels"]["call_reason"][0]
        assert top["label"] == REASONS[int(row["id"]) % 5] and top["source"] == "model:reason-model"
        assert row["labels"]["sentiment"] and len(row["labels"]) > 1  # the taxonomy still labels the other facets
