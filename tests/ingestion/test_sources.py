from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from ingestion.convert import ConvertOptions
from ingestion.pipeline import ingest_path
from ingestion.sources import SQLSource, ingest_config, ingest_sql, load_sources_config
from radar.errors import IngestionError
from search.store import Store

OPTS = ConvertOptions(secret="s")


def _ticket_db(path: Path, rows: list[tuple[int, str, str, str]]) -> str:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE IF NOT EXISTS tickets (id INTEGER PRIMARY KEY, 工单编号 TEXT, 投诉号码 TEXT, 投诉内容 TEXT)")
    conn.executemany("INSERT INTO tickets VALUES (?, ?, ?, ?)", rows)
    conn.commit()
    conn.close()
    return f"sqlite:///{path}"


def test_sql_table_with_cursor_column(tmp_path: Path) -> None:
    url = _ticket_db(tmp_path / "src.db", [(i, f"GD{i}", "13912345678", f"客户反映第{i}次信号差") for i in range(1, 26)])
    sql = SQLSource(url=url, table="tickets", cursor_column="id", page_size=10)
    with Store.open(tmp_path / "r.db") as store:
        first = ingest_sql(sql, "tickets", store, OPTS, name="db")
        assert (first.read, first.ingested) == (25, 25)
        assert store.get_cursor("sql:db") == "25"
        _ticket_db(tmp_path / "src.db", [(100, "GD100", "13912345678", "新的投诉：宽带断网")])
        second = ingest_sql(sql, "tickets", store, OPTS, name="db")
        assert (second.read, second.ingested) == (1, 1)  # numbers compare as numbers: 100 > 25
        rec = store.get("tickets:GD100")
        assert rec is not None and rec.customer_key


def test_sql_calls_with_transcripts(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "calls.db")
    conn.execute("CREATE TABLE calls (call_id TEXT, started_at TEXT, msisdn TEXT, transcript TEXT, turns TEXT)")
    conn.execute("INSERT INTO calls VALUES ('C1', '2026-10-01 10:00:00', '13912345678', '您好请讲[SEP]我的流量扣费不对', NULL)")
    conn.execute(
        "INSERT INTO calls VALUES ('C2', '2026-10-02 10:00:00', NULL, NULL, ?)",
        (json.dumps([{"speaker": "customer", "text": "宽带坏了"}], ensure_ascii=False),),
    )
    conn.commit()
    conn.close()
    sql = SQLSource(url=f"sqlite:///{tmp_path / 'calls.db'}", table="calls", cursor_column="started_at")
    with Store.open(tmp_path / "r.db") as store:
        assert ingest_sql(sql, "calls", store, OPTS, name="calls").ingested == 2
        c1 = store.get("calls:C1")
        assert c1 is not None and [t.speaker for t in c1.turns] == ["agent", "customer"]


def test_bad_sql_is_a_coded_error(tmp_path: Path) -> None:
    with Store.open(tmp_path / "r.db") as store, pytest.raises(IngestionError) as err:
        ingest_sql(SQLSource(url=f"sqlite:///{tmp_path / 'none.db'}", table="nope", cursor_column="id"), "tickets", store, OPTS, name="x")
    assert err.value.code == "E113"
    with Store.open(tmp_path / "q.db") as store, pytest.raises(IngestionError) as err:
        ingest_sql(SQLSource(url="sqlite://", table="t; DROP TABLE x", cursor_column="id"), "tickets", store, OPTS, name="x")
    assert err.value.code == "E113" and "not a plain column or table name" in err.value.message


def test_config_runs_each_source_with_its_cursor(tmp_path: Path, sample_dir: Path) -> None:
    url = _ticket_db(tmp_path / "src.db", [(1, "DB1", "13912345678", "客户反映营业厅排队太久")])
    config = tmp_path / "sources.yaml"
    config.write_text(
        f"""sources:
  - name: tickets-files
    source: tickets
    path: {sample_dir / "tickets"}
  - name: forms-json
    source: forms
    path: {sample_dir / "forms" / "forms-synthetic.json"}
  - name: ticket-db
    source: tickets
    sql: {{url: "{url}", table: tickets, cursor_column: id}}
""",
        encoding="utf-8",
    )
    with Store.open(tmp_path / "r.db") as store:
        first = ingest_config(load_sources_config(config), store, OPTS)
        assert set(first) == {"tickets-files", "forms-json", "ticket-db"}
        assert all(r.read > 0 for r in first.values())
        again = ingest_config(load_sources_config(config), store, OPTS)
        assert all(r.read == 0 for r in again.values())  # unchanged files skipped, SQL cursor at its end


def test_invalid_config_is_E112(tmp_path: Path) -> None:
    config = tmp_path / "s.yaml"
    config.write_text("sources:\n  - name: a\n    source: tickets\n", encoding="utf-8")
    with pytest.raises(IngestionError) as err:
        load_sources_config(config)
    assert err.value.code == "E112" and "exactly one of path, url or sql" in err.value.message


def test_since_skips_older_items(tmp_path: Path, sample_dir: Path) -> None:
    with Store.open(tmp_path / "r.db") as store:
        full = ingest_path("forms", sample_dir / "forms", store, OPTS)
    with Store.open(tmp_path / "r2.db") as store:
        recent = ingest_path("forms", sample_dir / "forms", store, OPTS, since="2026-10-01")
        assert 0 < recent.read < full.read
        dates = [r[0] for r in store.conn.execute("SELECT created_at FROM records")]
        assert all(d >= "2026-10-01" for d in dates)


def test_raw_identifiers_only_when_configured(tmp_path: Path, sample_dir: Path) -> None:
    with Store.open(tmp_path / "r.db") as store:
        ingest_path("forms", sample_dir / "forms", store, OPTS)
        assert store.conn.execute("SELECT COUNT(*) FROM raw_identifiers").fetchone()[0] == 0
    with Store.open(tmp_path / "r2.db") as store:
        ingest_path("forms", sample_dir / "forms", store, ConvertOptions(secret="s", keep_raw_identifiers=True))
        kinds = {r[0] for r in store.conn.execute("SELECT kind FROM raw_identifiers")}
        assert "phone_field" in kinds
        # the record itself never holds the number in clear
        body = store.conn.execute("SELECT body FROM records LIMIT 1").fetchone()[0]
        phone = store.conn.execute("SELECT value FROM raw_identifiers WHERE kind = 'phone_field' LIMIT 1").fetchone()[0]
        assert phone not in body
