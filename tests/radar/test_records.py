from __future__ import annotations

from radar.records import Record, Source, Turn, record_id


def test_customer_text_is_the_customer_side_of_a_call() -> None:
    rec = Record(
        id="calls:1",
        source=Source.CALLS,
        source_id="1",
        text="x",
        turns=[Turn(speaker="agent", text="您好请讲"), Turn(speaker="customer", text="我要投诉流量")],
    )
    assert rec.customer_text() == "我要投诉流量"


def test_customer_text_joins_title_and_body() -> None:
    rec = Record(id="forms:1", source=Source.FORMS, source_id="1", title="建议", text="增加窗口")
    assert rec.customer_text() == "建议。增加窗口"


def test_record_id_and_hash_are_stable() -> None:
    assert record_id("tickets", "GD1") == "tickets:GD1"
    a = Record(id="t:1", source=Source.TICKETS, source_id="1", text="同样的文本")
    b = Record(id="t:2", source=Source.TICKETS, source_id="2", text="同样的文本")
    c = Record(id="t:3", source=Source.TICKETS, source_id="3", text="不同的文本")
    assert a.content_hash == b.content_hash != c.content_hash


def test_label_rejects_a_score_outside_0_1_and_round_trips_through_dict() -> None:
    import pytest

    from radar.records import Evidence, Label

    with pytest.raises(ValueError):
        Label("咨询", 1.5, "rules")
    lab = Label.of("咨询", 1.2, "rules", [Evidence.of("请问", 0, 2)])
    assert lab.score == 1.0
    assert Label.from_dict(lab.to_dict()) == lab


def test_fastjson_keeps_chinese_and_survives_what_orjson_refuses() -> None:
    import json
    from datetime import datetime

    from radar.fastjson import dumps

    assert json.loads(dumps({"标签": "投诉", "n": 1})) == {"标签": "投诉", "n": 1}
    assert "投诉" in dumps({"x": "投诉"})
    assert json.loads(dumps({"big": 2**70})) == {"big": 2**70}  # orjson refuses ints beyond 64 bits
    assert json.loads(dumps({"t": datetime(2026, 11, 24, 8, 0)}))["t"].startswith("2026-11-24")
