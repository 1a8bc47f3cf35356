from __future__ import annotations

from api.pipeline import Components
from taxonomy.classifiers.base import Document
from taxonomy.labeler import Labeler
from taxonomy.loader import load_taxonomy


def _names(result, facet):  # type: ignore[no-untyped-def]
    return [lab.label for lab in result.labels.get(facet, [])]


def test_sub_label_implies_parent(components: Components) -> None:
    for text in ("营业厅排队太久了", "流量包扣费不对", "希望推出5G套餐", "公司的互联网专线断了"):
        result = components.labeler.run(Document(text))
        names = _names(result, "demand_category")
        for name in names:
            if "/" in name:
                assert name.split("/")[0] in names, (text, names)


def test_evidence_points_at_the_text(components: Components) -> None:
    text = "我家小区信号特别差，打电话经常掉线，太失望了"
    result = components.labeler.run(Document(text, source="calls"))
    for labels in result.labels.values():
        for lab in labels:
            for ev in lab.evidence:
                if ev.start >= 0:
                    assert text[ev.start : ev.end] == ev.text
    assert _names(result, "complaint_type") == ["网络质量"]
    assert _names(result, "intent") == ["投诉"]


def test_no_demand_category_is_a_valid_answer(components: Components) -> None:
    result = components.labeler.run(Document("谢谢", source="calls"))
    assert "demand_category" not in result.labels
    assert "demand_category" not in result.needs_review


def test_unsure_intent_is_marked_for_review_not_guessed(components: Components) -> None:
    result = components.labeler.run(Document("嗯嗯", source="forum"))
    assert "intent" not in result.labels
    assert "intent" in result.needs_review


def test_ticket_field_gives_the_complaint_type(components: Components) -> None:
    doc = Document("客户反映话费有问题", source="tickets", complaint_type_path=("移动业务", "基础业务", "网络质量"))
    result = components.labeler.run(doc)
    ct = result.labels["complaint_type"][0]
    assert ct.label == "网络质量" and "ticket_field" in ct.source
    assert _names(result, "intent") == ["投诉"]


def test_negative_keyword_vetoes(components: Components) -> None:
    names = _names(components.labeler.run(Document("我的视频彩铃每月扣费")), "product")
    assert "视频彩铃" in names and "彩铃" not in names


def test_no_complaint_type_for_a_question(components: Components) -> None:
    result = components.labeler.run(Document("请问怎么查询5G套餐的资费", source="forum"))
    assert _names(result, "intent") == ["咨询"]
    assert "complaint_type" not in result.labels and "complaint_type" not in result.needs_review


def test_higher_threshold_abstains_more() -> None:
    tax = load_taxonomy()
    lenient, strict = Labeler(tax, review_threshold=0.3), Labeler(tax, review_threshold=0.99)
    texts = ["请问流量怎么查", "营业厅排队太久", "希望增加新功能", "帮我取消彩铃"]
    count = lambda lab: sum("intent" in lab.run(Document(t, source="forum")).needs_review for t in texts)  # noqa: E731
    assert count(strict) > count(lenient)


def test_sentiment_per_call_turn(components: Components) -> None:
    turns = (("agent", "您好请问有什么可以帮您"), ("customer", "我的流量被乱扣费了，太气人了"), ("customer", "好的谢谢，解决了很满意"))
    result = components.labeler.run(Document("我的流量被乱扣费了", source="calls", turns=turns))
    assert [t.polarity for t in result.turn_sentiment] == ["中性", "负面", "正面"]
    assert [t.speaker for t in result.turn_sentiment] == ["agent", "customer", "customer"]


def test_turn_sentiment_is_stored(demo_store) -> None:  # type: ignore[no-untyped-def]
    call_id = demo_store.conn.execute("SELECT id FROM records WHERE source = 'calls' LIMIT 1").fetchone()[0]
    rows = demo_store.turn_sentiment(call_id)
    record = demo_store.get(call_id)
    assert len(rows) == len(record.turns) > 0
