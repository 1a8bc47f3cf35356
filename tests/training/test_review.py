"""The review loop: export the least certain records to XLSX, import the labellers' answers, train on them."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest
import typer
from typer.testing import CliRunner

from api.review_cli import register
from radar.errors import IngestionError, NLPError
from search.store import Store
from taxonomy.loader import load_taxonomy
from taxonomy.schema import Taxonomy
from training.review import (
    COLUMNS,
    Opinion,
    Pick,
    ReviewedRow,
    check_rows,
    disagree,
    ensure_table,
    export_review,
    import_review,
    read_review,
    resolve_labels,
    reviewed_data,
    select_candidates,
    top_opinion,
)

runner = CliRunner()
FACET = "complaint_type"


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return load_taxonomy(None)


@pytest.fixture
def store(tmp_path: Path, demo_store_path: Path) -> Store:
    db = tmp_path / "radar.db"
    shutil.copy(demo_store_path, db)
    opened = Store.open(db)
    yield opened
    opened.close()


def _sheet_rows(path: Path) -> list[dict[str, object]]:
    sheet = openpyxl.load_workbook(path)["review"]
    values = list(sheet.iter_rows(values_only=True))
    keys = [str(h).split("\n")[0] for h in values[0]]
    return [dict(zip(keys, row, strict=True)) for row in values[1:]]


def _fill(path: Path, cells: dict[int, tuple[str, str | None]]) -> None:
    """Write human_label (and labeller) into spreadsheet rows, as a labeller would in Excel."""
    book = openpyxl.load_workbook(path)
    sheet = book["review"]
    keys = [str(c.value).split("\n")[0] for c in sheet[1]]
    label_col, who_col = keys.index("human_label") + 1, keys.index("labeller") + 1
    for row, (label, who) in cells.items():
        sheet.cell(row, label_col, label)
        sheet.cell(row, who_col, who)
    book.save(path)


def _human_labels(store: Store) -> list[tuple[str, str, str, str, str, str]]:
    rows = store.conn.execute("SELECT record_id, facet, label, labeller, at, file FROM human_labels ORDER BY record_id, label")
    return [tuple(r) for r in rows]


# -- pure parts ---------------------------------------------------------------------------------


def test_select_candidates_keeps_group_order_drops_repeats_and_stops_at_the_limit() -> None:
    def never() -> object:
        raise AssertionError("a group past the limit must not be read")
        yield  # pragma: no cover

    first = [Pick(1, "a", "needs_review"), Pick(2, "b", "needs_review")]
    second = [Pick(2, "b", "disagreement"), Pick(3, "c", "disagreement")]
    third = [Pick(1, "a", "low_score"), Pick(4, "d", "low_score"), Pick(5, "e", "low_score")]
    picks = select_candidates([first, second, third], 4)
    assert [(p.record_id, p.reason) for p in picks] == [
        ("a", "needs_review"),
        ("b", "needs_review"),
        ("c", "disagreement"),
        ("d", "low_score"),
    ]
    assert [p.record_id for p in select_candidates([first, never()], 2)] == ["a", "b"]  # type: ignore[list-item]


def test_top_opinion_prefers_score_then_the_more_specific_label_and_paths_in_one_line_agree() -> None:
    ops = [Opinion("消费", 0.7, "rules"), Opinion("消费/流量", 0.7, "rules"), Opinion("触点", 0.5, "rules")]
    assert top_opinion(ops) == Opinion("消费/流量", 0.7, "rules")
    assert top_opinion([]) is None
    assert disagree(Opinion("费用争议", 0.8, "rules"), Opinion("网络质量", 0.6, "model:m"))
    assert not disagree(Opinion("消费", 0.8, "rules"), Opinion("消费/流量", 0.6, "model:m"))
    assert not disagree(Opinion("费用争议", 0.8, "rules"), None)


def test_resolve_labels_by_name_or_path_and_rejects_what_the_facet_does_not_hold(taxonomy: Taxonomy) -> None:
    demand = taxonomy.facet("demand_category")
    sub = next(lab for lab in demand.labels if lab.parent)
    path = demand.path(sub.id)
    assert resolve_labels(demand, f"{path}｜{sub.name}") == ([path], [])  # full-width bar, name and path of one label
    paths, problems = resolve_labels(demand, f"{path}|没有这个标签")
    assert problems == [("没有这个标签", "unknown label for facet demand_category")] and paths == [path]
    single = taxonomy.facet(FACET)
    assert resolve_labels(single, "费用争议") == (["费用争议"], [])
    assert resolve_labels(single, "费用争议|网络质量")[1] == [("费用争议|网络质量", f"facet {FACET} takes one label")]


def test_check_rows_needs_a_labeller_for_every_filled_row(taxonomy: Taxonomy) -> None:
    rows = [ReviewedRow(2, "x", FACET, "费用争议", ""), ReviewedRow(3, "y", FACET, "", "")]
    with pytest.raises(IngestionError) as err:
        check_rows(rows, taxonomy, {"x", "y"})
    assert err.value.code == "E106" and "rows 2" in err.value.message
    checked = check_rows(rows, taxonomy, {"x", "y"}, labeller="王芳")
    assert checked.accepted == {("x", FACET): (["费用争议"], "王芳")} and checked.skipped_empty == 1


# -- export ---------------------------------------------------------------------------------------


def test_export_puts_needs_review_first_then_the_lowest_scores(store: Store, taxonomy: Taxonomy, tmp_path: Path) -> None:
    flagged = {
        r[0]
        for r in store.conn.execute(
            "SELECT r.id FROM needs_review n JOIN records r ON r.rowid = n.record_rowid WHERE n.facet = ? AND r.duplicate_of IS NULL",
            (FACET,),
        )
    }
    assert flagged, "the demo store should flag some complaint types for review"
    limit = len(flagged) + 5
    report = export_review(store, taxonomy, FACET, tmp_path / "r.xlsx", limit=limit)
    assert report.rows == limit and report.by_reason == {"needs_review": len(flagged), "disagreement": 0, "low_score": 5}

    book = openpyxl.load_workbook(tmp_path / "r.xlsx")
    assert book.sheetnames == ["review", "labels"]
    header = [c.value for c in book["review"][1]]
    assert [h.split("\n")[0] for h in header] == [key for key, _ in COLUMNS]
    assert all("\n" in h for h in header)  # a Chinese name under each key
    facet = taxonomy.facet(FACET)
    assert [r[0] for r in book["labels"].iter_rows(min_row=2, values_only=True)] == [facet.path(lab.id) for lab in facet.active()]
    (drop_down,) = book["review"].data_validations.dataValidation  # single-label: human_label offers the facet's labels
    assert str(drop_down.sqref) == f"I2:I{limit + 1}" and drop_down.formula1.startswith("labels!")
    rows = _sheet_rows(tmp_path / "r.xlsx")
    assert [r["reason"] for r in rows] == ["needs_review"] * len(flagged) + ["low_score"] * 5
    assert {r["record_id"] for r in rows[: len(flagged)]} == flagged
    assert len({r["record_id"] for r in rows}) == limit
    scores = [r["score"] for r in rows[len(flagged) :]]
    assert scores == sorted(scores) and all(isinstance(s, float) for s in scores)
    first = store.get(str(rows[0]["record_id"]))
    assert first is not None and rows[0]["text"] == first.customer_text() and rows[0]["facet"] == FACET
    assert rows[0]["human_label"] is None and rows[0]["labeller"] is None


def test_export_reports_where_a_model_label_differs_from_the_rules(store: Store, taxonomy: Taxonomy, tmp_path: Path) -> None:
    target = store.conn.execute(
        "SELECT l.record_rowid, r.id FROM labels l JOIN records r ON r.rowid = l.record_rowid "
        "WHERE l.facet = ? AND l.label = '费用争议' AND l.source LIKE 'rules%' AND r.duplicate_of IS NULL ORDER BY r.id LIMIT 1",
        (FACET,),
    ).fetchone()
    with store.transaction():  # as if an attached model had outvoted the rules on this record
        store.conn.execute(
            "UPDATE labels SET label = '网络质量', source = 'model:m1', score = 0.99 WHERE record_rowid = ? AND facet = ?",
            (target[0], FACET),
        )
    report = export_review(store, taxonomy, FACET, tmp_path / "r.xlsx", limit=100)
    assert report.by_reason["disagreement"] == 1
    row = next(r for r in _sheet_rows(tmp_path / "r.xlsx") if r["reason"] == "disagreement")
    assert row["record_id"] == target[1] and row["current_label"] == "网络质量" and "费用争议" in str(row["alternatives"])


def test_export_refuses_an_unknown_facet(store: Store, taxonomy: Taxonomy, tmp_path: Path) -> None:
    with pytest.raises(NLPError) as err:
        export_review(store, taxonomy, "colour", tmp_path / "r.xlsx")
    assert err.value.code == "E204" and not (tmp_path / "r.xlsx").exists()


# -- import ---------------------------------------------------------------------------------------


def test_round_trip_stores_the_valid_labels_with_who_and_when(store: Store, taxonomy: Taxonomy, tmp_path: Path) -> None:
    path = tmp_path / "review.xlsx"
    export_review(store, taxonomy, FACET, path, limit=6)
    rows = _sheet_rows(path)
    _fill(path, {2: ("费用争议", "王芳"), 3: ("网络质量", "李雷"), 4: ("外星人投诉", "王芳"), 5: ("", "王芳")})
    report = import_review(store, taxonomy, path)
    assert report.to_dict() == {
        "rows": 6,
        "stored": 2,
        "skipped_empty": 3,  # row 5 and the two rows nobody touched
        "rejected": [{"row": 4, "label": "外星人投诉", "reason": f"unknown label for facet {FACET}"}],
    }
    stored = _human_labels(store)
    assert [(r[0], r[1], r[2], r[3], r[5]) for r in stored] == sorted(
        [(rows[0]["record_id"], FACET, "费用争议", "王芳", "review.xlsx"), (rows[1]["record_id"], FACET, "网络质量", "李雷", "review.xlsx")]
    )
    assert all(datetime.fromisoformat(r[4]).tzinfo is not None for r in stored)


def test_reimport_replaces_a_records_labels_instead_of_adding(store: Store, taxonomy: Taxonomy, tmp_path: Path) -> None:
    path = tmp_path / "review.xlsx"
    export_review(store, taxonomy, FACET, path, limit=3)
    record_id = _sheet_rows(path)[0]["record_id"]
    _fill(path, {2: ("费用争议", None), 3: ("网络质量", None)})
    import_review(store, taxonomy, path, labeller="王芳")
    first = _human_labels(store)
    import_review(store, taxonomy, path, labeller="王芳")
    assert [r[:4] for r in _human_labels(store)] == [r[:4] for r in first]  # idempotent
    _fill(path, {2: ("业务办理", "李雷"), 3: ("网络质量", "王芳")})
    import_review(store, taxonomy, path)
    mine = [r for r in _human_labels(store) if r[0] == record_id]
    assert [(r[2], r[3]) for r in mine] == [("业务办理", "李雷")] and len(_human_labels(store)) == 2


def test_read_review_says_what_is_wrong_with_the_file(tmp_path: Path) -> None:
    not_xlsx = tmp_path / "notes.xlsx"
    not_xlsx.write_text("record_id,human_label\n", encoding="utf-8")
    with pytest.raises(IngestionError) as err:
        read_review(not_xlsx)
    assert err.value.code == "E101"
    book = openpyxl.Workbook()
    book.active.append(["record_id", "facet", "label"])
    book.save(tmp_path / "old.xlsx")
    with pytest.raises(IngestionError) as err:
        read_review(tmp_path / "old.xlsx")
    assert err.value.code == "E106" and "human_label" in err.value.message


# -- training data --------------------------------------------------------------------------------


def test_reviewed_data_holds_the_imported_labels_and_texts(store: Store, taxonomy: Taxonomy, tmp_path: Path) -> None:
    path = tmp_path / "review.xlsx"
    export_review(store, taxonomy, FACET, path, limit=4)
    _fill(path, {2: ("网络质量", "王芳")})
    import_review(store, taxonomy, path)
    with pytest.raises(NLPError) as err:  # one label is no training data
        reviewed_data(store, FACET)
    assert err.value.code == "E210"

    _fill(path, {3: ("费用争议", "王芳"), 4: ("业务办理", "王芳")})
    import_review(store, taxonomy, path)
    data = reviewed_data(store, FACET, multi_label=False)
    ids = [r["record_id"] for r in _sheet_rows(path)[:3]]
    expected = dict(zip(ids, (["网络质量"], ["费用争议"], ["业务办理"]), strict=True))
    texts = {i: rec.customer_text() for i in ids if (rec := store.get(str(i))) is not None}
    assert sorted(zip(data.texts, data.labels, strict=True)) == sorted((texts[i], labs) for i, labs in expected.items())
    assert data.multi_label is False and data.source == f"human_labels:{FACET}" and len(data.data_hash) == 16
    assert reviewed_data(store, FACET).data_hash == data.data_hash  # same rows, same hash

    _fill(path, {4: ("服务质量", "王芳")})
    import_review(store, taxonomy, path)
    assert reviewed_data(store, FACET).data_hash != data.data_hash


# -- command line -------------------------------------------------------------------------------


def test_review_commands(tmp_path: Path, demo_store_path: Path) -> None:
    app = typer.Typer()
    app.command("noop")(lambda: None)  # a second command keeps `review` a sub-command group
    register(app)
    db = tmp_path / "radar.db"
    shutil.copy(demo_store_path, db)
    out = tmp_path / "ct.xlsx"

    result = runner.invoke(app, ["review", "export", "--facet", FACET, "--limit", "5", "--out", str(out), "--db", str(db), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["path"] == str(out) and doc["rows"] == 5 and sum(doc["by_reason"].values()) == 5 and out.exists()

    _fill(out, {2: ("费用争议", None), 3: ("不存在", None)})
    result = runner.invoke(app, ["review", "import", str(out), "--labeller", "王芳", "--db", str(db), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["stored"] == 1 and doc["skipped_empty"] == 3 and [r["row"] for r in doc["rejected"]] == [3]

    unlabelled = runner.invoke(app, ["review", "import", str(out), "--db", str(db), "--json"])
    assert unlabelled.exit_code == 1 and json.loads(unlabelled.stdout)["error"]["code"] == "E106"
    unknown = runner.invoke(app, ["review", "export", "--facet", "colour", "--db", str(db)])
    assert unknown.exit_code == 1 and "E204" in unknown.stderr
    csv = runner.invoke(app, ["review", "export", "--facet", FACET, "--out", str(tmp_path / "r.csv"), "--db", str(db)])
    assert csv.exit_code == 1 and "E501" in csv.stderr


def test_radar_train_learns_from_imported_reviews(tmp_path: Path, demo_store_path: Path) -> None:
    """The loop closed: human labels imported with `radar review import` train the next model."""
    from api.cli import app as radar

    db = tmp_path / "radar.db"
    shutil.copy(demo_store_path, db)
    with Store.open(db) as store:
        ensure_table(store)
        ids = [r[0] for r in store.conn.execute("SELECT id FROM records WHERE source = 'tickets' ORDER BY rowid LIMIT 40")]
        with store.transaction():
            store.conn.executemany(
                "INSERT INTO human_labels(record_id, facet, label, labeller, at, file) VALUES (?, 'intent', ?, 't', '2026-11-24', 'x')",
                [(rid, "投诉" if i % 2 else "咨询") for i, rid in enumerate(ids)],
            )
    result = CliRunner().invoke(radar, ["train", "--from-review", "intent", "--out", str(tmp_path / "m"), "--db", str(db), "--json"])
    assert result.exit_code == 0, result.output
    card = json.loads(result.stdout)["card"]
    assert card["facet"] == "intent" and card["data"]["rows"] == 40 and card["labels"] == {"投诉": 20, "咨询": 20}
    assert card["data"]["source"] == "human_labels:intent"
