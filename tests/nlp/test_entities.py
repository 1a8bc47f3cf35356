from __future__ import annotations

import pytest

from nlp.entities import Entity, EntityExtractor, find_numeric, load_places
from nlp.numerals import parse_number


@pytest.fixture(scope="module")
def extractor() -> EntityExtractor:
    ex = EntityExtractor({"PRODUCT": {"视频彩铃": ["视频彩铃"], "宽带": ["宽带"]}, "CHANNEL": {"营业厅": ["营业厅"]}})
    ex.warm_up()
    return ex


def _found(entities: list[Entity]) -> list[tuple[str, str, str]]:
    return [(e.label, e.text, e.value) for e in entities]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("套餐每月38元", ("MONEY", "38元", "38")),
        ("还扣了五十八块", ("MONEY", "五十八块", "58")),
        ("充值100块钱", ("MONEY", "100块钱", "100")),
        ("￥19.9", ("MONEY", "￥19.9", "19.9")),
        ("退五毛", ("MONEY", "五毛", "0.5")),
        ("送了500兆流量", ("DATA_VOLUME", "500兆", "500MB")),
        ("每月3个G", ("DATA_VOLUME", "3个G", "3072MB")),
        ("用了3G流量", ("DATA_VOLUME", "3G", "3072MB")),
        ("剩1.5GB", ("DATA_VOLUME", "1.5GB", "1536MB")),
        ("等了两个小时", ("DURATION", "两个小时", "两个小时")),
        ("合约期24个月", ("DURATION", "24个月", "24个月")),
        ("2026年10月5日开始", ("DATE", "2026年10月5日", "2026年10月5日")),
        ("上个月15号扣的", ("DATE", "上个月15号", "上个月15号")),
        ("尾号138****5678", ("MASKED_ID", "138****5678", "138****5678")),
        ("我的<手机号>停机了", ("MASKED_ID", "<手机号>", "<手机号>")),
    ],
)
def test_numeric_patterns(extractor: EntityExtractor, text: str, expected: tuple[str, str, str]) -> None:
    assert expected in _found(extractor.run(text))


@pytest.mark.parametrize("text", ["号码13812345678元", "13812345678块", "卡号6222021234567890元", "1380013800G流量"])
def test_phone_and_card_numbers_are_never_amounts_or_volumes(extractor: EntityExtractor, text: str) -> None:
    assert not [e for e in extractor.run(text) if e.label in ("MONEY", "DATA_VOLUME")]


def test_a_bare_5g_is_the_network_not_a_volume(extractor: EntityExtractor) -> None:
    assert not [e for e in extractor.run("5G信号太差了") if e.label == "DATA_VOLUME"]
    assert not [e for e in extractor.run("100M宽带很慢") if e.label == "DATA_VOLUME"]  # a line speed


def test_taxonomy_terms_and_places(extractor: EntityExtractor) -> None:
    found = _found(extractor.run("湖南长沙的营业厅不给办视频彩铃"))
    assert ("GPE", "湖南", "湖南") in found
    assert ("GPE", "长沙", "湖南") in found  # a city's value is its province
    assert ("CHANNEL", "营业厅", "营业厅") in found
    assert ("PRODUCT", "视频彩铃", "视频彩铃") in found


def test_offsets_point_into_the_text(extractor: EntityExtractor) -> None:
    text = "广州市天河区营业厅收了我38元"
    for e in extractor.run(text):
        assert text[e.start : e.end] == e.text


def test_ambiguous_short_place_names_need_their_suffix() -> None:
    places = load_places()
    assert places["广州"] == "广东" and places["延边"] == "吉林" and places["西双版纳"] == "云南"
    assert "安康" not in places and places["安康市"] == "陕西"  # 安康 is also a greeting
    assert "和平" not in places  # 和平区 only


def test_run_many_matches_run(extractor: EntityExtractor) -> None:
    texts = ["38元", "", "广州", "宽带500兆"]
    assert extractor.run_many(texts) == [extractor.run(t) for t in texts]


def test_numeric_patterns_without_spacy() -> None:
    assert [(e.label, e.text) for e in find_numeric("5月1日起每月19.9元送2GB")] == [
        ("DATE", "5月1日"),
        ("MONEY", "19.9元"),
        ("DATA_VOLUME", "2GB"),
    ]


@pytest.mark.parametrize(
    ("text", "value"),
    [("五十八", 58), ("两千三", 2300), ("一万二", 12000), ("一百零五", 105), ("十五", 15), ("3.5", 3.5), ("一三八", 138), ("半", 0.5)],
)
def test_chinese_numerals(text: str, value: float) -> None:
    assert parse_number(text) == value


def test_not_a_number() -> None:
    assert parse_number("五十八块") is None and parse_number("") is None
