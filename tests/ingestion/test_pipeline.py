from __future__ import annotations

import csv
from pathlib import Path

from ingestion.convert import ConvertOptions
from ingestion.pipeline import ingest_path
from search.store import Store

OPTS = ConvertOptions(secret="s")
HEADER = ["工单编号", "受理时间", "投诉号码", "投诉内容", "处理结果", "满意度"]


def _write(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        w.writerows(rows)


def test_read_adds_up_and_rerun_changes_nothing(tmp_path: Path, sample_dir: Path) -> None:
    with Store.open(tmp_path / "r.db") as store:
        first = ingest_path("tickets", sample_dir / "tickets", store, OPTS)
        assert first.read == first.ingested + first.updated + first.duplicates + first.quarantined
        assert first.quarantined >= 1 and first.quarantine_path and Path(first.quarantine_path).exists()
        count = store.count()
        second = ingest_path("tickets", sample_dir / "tickets", store, OPTS)
        assert (second.ingested, second.updated) == (0, 0)
        assert store.count() == count
        assert store.count("quarantine") == first.quarantined  # the same bad rows are not kept twice


def test_changed_ticket_updates_in_place_with_history(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    _write(path, [["GD1", "2026-10-01", "13912345678", "客户反映信号差", "处理中", ""]])
    with Store.open(tmp_path / "r.db") as store:
        ingest_path("tickets", path, store, OPTS)
        _write(path, [["GD1", "2026-10-01", "13912345678", "客户反映信号差", "已解决", "满意"]])
        report = ingest_path("tickets", path, store, OPTS)
        assert report.updated == 1 and store.count() == 1
        rec = store.get("tickets:GD1")
        assert rec is not None and rec.ticket is not None and rec.ticket.result == "已解决"
        history = store.conn.execute("SELECT field, old_value, new_value FROM record_history ORDER BY field").fetchall()
        assert [tuple(h) for h in history] == [("result", "处理中", "已解决"), ("satisfaction", None, "满意")]


def test_repeats_are_linked_not_dropped(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    _write(
        path,
        [
            ["GD1", "2026-10-01", "13912345678", "客户反映本月扣了56元流量费，要求退还", "", ""],
            ["GD2", "2026-10-02", "139 1234 5678", "客户反映本月扣了56元流量费， 要求退还", "", ""],
            ["GD3", "2026-10-02", "13800000000", "客户反映本月扣了30元流量费，要求退还", "", ""],
            ["GD4", "2026-10-03", "13800000000", "客户反映家里宽带晚上经常断网，要求上门维修", "", ""],
        ],
    )
    with Store.open(tmp_path / "r.db") as store:
        report = ingest_path("tickets", path, store, OPTS)
        assert (report.read, report.ingested, report.duplicates, report.near_duplicates) == (4, 3, 1, 1)
        linked = {rid: store.get(rid).duplicate_of for rid in ("tickets:GD1", "tickets:GD2", "tickets:GD3", "tickets:GD4")}  # type: ignore[union-attr]
        # GD2: the same customer's exact repeat; GD3: another customer's templated near-repeat
        assert linked == {"tickets:GD1": None, "tickets:GD2": "tickets:GD1", "tickets:GD3": "tickets:GD1", "tickets:GD4": None}
