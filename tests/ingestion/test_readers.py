from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest

from ingestion.convert import ConvertOptions, to_record
from ingestion.formats import parse_datetime, to_str
from ingestion.pipeline import read_source
from ingestion.rows import BadRow, RawRow
from radar.errors import IngestionError
from radar.records import Record
from tests.conftest import shared_file

OPTS = ConvertOptions(secret="test-secret")


def _records(source: str, path: Path, fmt: str | None = None) -> tuple[list[Record], list[BadRow]]:
    good, bad = [], []
    for row in read_source(source, path, fmt):
        out = to_record(row, OPTS) if isinstance(row, RawRow) else row
        (bad if isinstance(out, BadRow) else good).append(out)
    return good, bad


def test_forum_keeps_quotes_apart_and_strips_markup(tmp_path: Path) -> None:
    post = {
        "post_id": "P1",
        "thread_id": "T1",
        "board": "你问我答",
        "title": "求助",
        "author_id": "u1",
        "content_html": "<blockquote>楼上说流量&amp;话费都扣了</blockquote>我也被扣了38元<br>联系我13912345678 😤",
        "created_at": "2026-10-01T08:00:00+08:00",
    }
    path = tmp_path / "posts.jsonl"
    path.write_text(json.dumps(post, ensure_ascii=False) + "\n{broken\n", encoding="utf-8")
    good, bad = _records("forum", path)
    rec = good[0]
    assert rec.text == "我也被扣了38元\n联系我<手机号> 😤"
    assert rec.quoted_text == "楼上说流量&话费都扣了"
    assert rec.created_at is not None and rec.created_at.hour == 8  # local (China) time kept
    assert rec.extra["author_key"].startswith("a_") and "u1" not in json.dumps(rec.extra)
    assert [b.code for b in bad] == ["E105"] and bad[0].location == "line 2"


def test_tickets_gbk_csv_with_template_text(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    header = "工单编号,受理时间,投诉号码,地市,投诉类型,投诉内容,是否属实,是否升级,满意度\n"
    rows = (
        "GD1,2026年10月1日 9时5分,13912345678,广州,移动业务>>基础业务>>网络质量,客户反映信号差，要求尽快处理。,是,否,不满意\n"
        "GD2,2026/10/02,,深圳,费用争议,,否,否,\n"
    )
    path.write_bytes((header + rows).encode("gbk"))
    good, bad = _records("tickets", path)
    assert len(good) == 1 and good[0].ticket is not None
    t = good[0]
    assert t.ticket.complaint_type_path == ["移动业务", "基础业务", "网络质量"]
    assert t.ticket.founded is True and t.ticket.escalated is False
    assert t.created_at is not None and (t.created_at.month, t.created_at.hour, t.created_at.minute) == (10, 9, 5)
    assert t.customer_key is not None and t.region == "广州"
    assert [b.code for b in bad] == ["E104"]  # GD2 has no text: quarantined, not dropped


def test_xlsx_title_row_float_phone_and_a_sheet_without_header(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["工单导出"])
    sheet.append(["工单编号", "投诉号码", "投诉内容"])
    sheet.append(["GD9", 13912345678.0, "客户反映宽带断网"])
    other = book.create_sheet("说明")
    other.append(["这里没有表头"])
    path = tmp_path / "t.xlsx"
    book.save(path)
    good, bad = _records("tickets", path)
    assert [r.source_id for r in good] == ["GD9"]
    assert (
        good[0].customer_key
        == to_record(RawRow("tickets", "x", "1", {"source_id": "x", "phone": "13912345678", "text": "a"}), OPTS).customer_key
    )  # type: ignore[union-attr]
    assert len(bad) == 1 and bad[0].code == "E110" and bad[0].location.startswith("说明!")


def test_calls_three_shapes(sample_dir: Path) -> None:
    folder = sample_dir / "calls"
    jsonl, bad_jsonl = _records("calls", folder / "calls-synthetic.jsonl")
    sep, _ = _records("calls", folder / "calls-asr-sep-synthetic.csv")
    plain, bad_plain = _records("calls", folder / "calls-plain-synthetic.txt")
    assert jsonl and sep and plain
    assert all(t.speaker in ("agent", "customer") and not t.inferred for r in jsonl for t in r.turns)
    assert all(t.inferred for r in sep for t in r.turns)
    assert all(r.turns[0].speaker == "agent" for r in sep + plain)
    assert [b.code for b in bad_jsonl] == ["E105"] and [b.code for b in bad_plain] == ["E104"]
    for rec in jsonl + sep + plain:
        assert "坐席" not in rec.customer_text()


def test_real_asr_rows_read(tmp_path: Path) -> None:
    path = shared_file("cmcc34_fewshot/train_new_5shot.csv")
    good, bad = _records("calls", path, "sep")
    assert len(good) + len(bad) == 162 and not bad
    assert all(len(r.turns) >= 1 for r in good)


def test_forms_json_and_xlsx(sample_dir: Path) -> None:
    from_json, bad_json = _records("forms", sample_dir / "forms" / "forms-synthetic.json")
    from_xlsx, bad_xlsx = _records("forms", sample_dir / "forms" / "forms-synthetic.xlsx")
    assert from_json and from_xlsx and not bad_json and not bad_xlsx
    assert all(r.title and r.customer_key for r in from_json + from_xlsx)


def test_undecodable_file_is_a_coded_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(b"\xff\xfe\x00\x81\xff" * 10)
    with pytest.raises(IngestionError) as err:
        list(read_source("tickets", path, encoding="ascii"))
    assert err.value.code == "E102"


def test_missing_file_and_unknown_source(tmp_path: Path) -> None:
    with pytest.raises(IngestionError) as err:
        read_source("tickets", tmp_path / "nope.csv")
    assert err.value.code == "E101"
    with pytest.raises(IngestionError) as err:
        read_source("fax", tmp_path)
    assert err.value.code == "E109"


def test_huge_text_is_quarantined() -> None:
    row = RawRow("forms", "f", "1", {"source_id": "1", "text": "流量" * 150_000})
    out = to_record(row, OPTS)
    assert isinstance(out, BadRow) and out.code == "E107"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-10-01 12:30:00", (2026, 10, 1, 12, 30)),
        ("2026/10/1 9:05", (2026, 10, 1, 9, 5)),
        ("2026年10月01日", (2026, 10, 1, 0, 0)),
        ("20261001123000", (2026, 10, 1, 12, 30)),
        (46296.5, (2026, 10, 1, 12, 0)),
        ("2026-10-01T04:30:00Z", (2026, 10, 1, 12, 30)),
    ],
)
def test_dates_in_many_formats(value: object, expected: tuple[int, ...]) -> None:
    parsed = parse_datetime(value)
    assert parsed is not None and (parsed.year, parsed.month, parsed.day, parsed.hour, parsed.minute) == expected


def test_numbers_stored_as_floats() -> None:
    assert to_str(13912345678.0) == "13912345678" and to_str("1.3912345678E10") == "13912345678"


def test_long_sheet_without_header_quarantines_every_row_once(tmp_path: Path) -> None:
    path = tmp_path / "noheader.csv"
    path.write_text("\n".join(f"行{i},内容{i}" for i in range(25)) + "\n", encoding="utf-8")
    good, bad = _records("tickets", path)
    assert not good
    assert sorted(b.location for b in bad) == sorted(f"line {i}" for i in range(1, 26))


def test_merged_cells_read_their_top_left_value(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "工单"
    sheet.append(["工单编号", "地市", "投诉内容"])
    sheet.append(["GD1", "广州", "客户反映信号差"])
    sheet.append(["GD2", None, "客户反映宽带断网"])
    sheet.merge_cells("B2:B3")  # one 地市 cell spans two tickets, as hand-made exports do
    path = tmp_path / "merged.xlsx"
    book.save(path)
    good, _ = _records("tickets", path)
    assert [(r.source_id, r.region) for r in good] == [("GD1", "广州"), ("GD2", "广州")]


def test_duplicated_header_keeps_the_first_column(tmp_path: Path) -> None:
    path = tmp_path / "dup.csv"
    path.write_text("工单编号,投诉内容,投诉内容\nGD1,客户反映信号差,备注：已回访\n", encoding="utf-8")
    good, bad = _records("tickets", path)
    assert not bad and good[0].text == "客户反映信号差"
