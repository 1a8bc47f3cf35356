"""The ingest → label path on a PostgreSQL store, end to end: the pipeline and the ``radar`` commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from api.cli import app
from api.pipeline import Components, ingest_sample, label_store
from radar.settings import Settings, get_settings
from search.sql_store import SQLStore
from search.store import Store

runner = CliRunner()


def _labels(store: Any) -> dict[str, tuple[Any, ...]]:
    """Every record's labels (names, scores, sources, evidence), review facets, duplicate link and taxonomy version."""
    out = {}
    for batch in store.iter_unlabelled(mode="all"):
        for record in store.get_by_rowids([rowid for rowid, _ in batch]):
            labels = {f: [(lab.label, round(lab.score, 6), lab.source, lab.evidence) for lab in labs] for f, labs in record.labels.items()}
            out[record.id] = (labels, record.needs_review, record.duplicate_of, record.taxonomy_version)
    return out


def test_sample_labelled_in_postgresql_matches_sqlite(
    pg_database: str, tmp_path: Path, demo_store_path: Path, sample_dir: Path, settings: Settings, components: Components
) -> None:
    with SQLStore.open(pg_database, path=tmp_path / "pg") as store:
        reports = ingest_sample(store, sample_dir, settings)
        report = label_store(store, components)
        got = _labels(store)
        counts = (store.count(), store.count("quarantine"), store.label_counts())
    with Store.open(demo_store_path) as sqlite:  # the same sample, ingested and labelled into SQLite by the session fixture
        want = _labels(sqlite)
        assert counts == (sqlite.count(), sqlite.count("quarantine"), sqlite.label_counts())
    assert report.records == len(got) == counts[0] > 100 and sum(r.quarantined for r in reports.values()) == counts[1]
    assert got == want


def test_cli_ingest_and_label_into_postgresql(pg_database: str, tmp_path: Path, sample_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # quarantine exports of a PostgreSQL store go to ./<database>-quarantine
    monkeypatch.setenv("RADAR_STORE_URL", pg_database)
    monkeypatch.setenv("RADAR_ZERO_SHOT", "false")
    monkeypatch.setenv("RADAR_SEMANTIC", "false")
    get_settings.cache_clear()
    ingested = runner.invoke(app, ["ingest", "tickets", str(sample_dir / "tickets"), "--json"])
    assert ingested.exit_code == 0, ingested.output
    doc = json.loads(ingested.stdout)
    assert doc["ingested"] > 0 and doc["quarantined"] >= 1
    assert list((tmp_path / "radar_test-quarantine").glob("*.jsonl"))
    again = json.loads(runner.invoke(app, ["ingest", "tickets", str(sample_dir / "tickets"), "--json"]).stdout)
    assert (again["ingested"], again["updated"]) == (0, 0)
    labelled = runner.invoke(app, ["label", "--db", pg_database, "--no-entities", "--json"])
    assert labelled.exit_code == 0, labelled.output
    doc = json.loads(labelled.stdout)
    assert doc["records"] == json.loads(ingested.stdout)["ingested"] and doc["labels"]
    assert doc["indexed"] is None and doc["credit"] is None and set(doc["skipped"]) == {"index", "credit"}
    assert json.loads(runner.invoke(app, ["label", "--json", "--no-entities"]).stdout)["records"] == 0  # nothing changed since


def test_cli_sqlite_only_commands_say_so() -> None:
    url = "postgresql+psycopg://radar:s3cret-pw@db.example:5432/radar"
    result = runner.invoke(app, ["demo", "--db", url, "--json"])
    assert result.exit_code == 1
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "E307" and "radar demo" in error["message"] and "s3cret-pw" not in result.output
