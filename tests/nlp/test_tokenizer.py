from __future__ import annotations

import pytest

from api.pipeline import Components
from nlp.dictionary import TelecomDictionary, fold_units
from nlp.tokenizer import Tokenizer


def test_telecom_terms_stay_whole(components: Components) -> None:
    words = components.tokenizer.words("我想办理视频彩铃和携号转网，还有和彩云")
    for term in ("视频彩铃", "携号转网", "和彩云"):
        assert term in words


def test_synonyms_fold_to_one_term(components: Components) -> None:
    assert "流量" in components.tokenizer.words("移动数据用超了")
    assert "10086" in components.tokenizer.words("打客服热线没人接")


def test_units_fold() -> None:
    assert fold_units("送3个G流量和500兆") == "送3GB流量和500MB"
    assert fold_units("5G信号") == "5G信号"  # the network generation, not a volume


def test_placeholders_are_one_token(components: Components) -> None:
    assert "<手机号>" in components.tokenizer.words("我的号码<手机号>停机了")


def test_dictionary_version_changes_with_content() -> None:
    a = TelecomDictionary.build(["流量包"], {"移动数据": "流量"})
    b = TelecomDictionary.build(["流量包"], {"移动数据": "流量"})
    c = TelecomDictionary.build(["流量包", "副卡"], {"移动数据": "流量"})
    assert a.version == b.version != c.version


def test_tokenizers_do_not_share_dictionaries() -> None:
    with_term = Tokenizer(TelecomDictionary.build(["魔百和"]))
    without = Tokenizer(TelecomDictionary.build([]))
    assert "魔百和" in with_term.words("魔百和卡顿")
    assert "魔百和" not in without.words("魔百和卡顿")


@pytest.mark.parametrize("engine", ["native", "fast"])
def test_fast_path_equals_jieba_on_tricky_blocks(engine: str) -> None:
    dictionary = TelecomDictionary.build(["视频彩铃", "携号转网"])
    fast, slow = Tokenizer(dictionary, engine=engine), Tokenizer(dictionary, engine="jieba")
    for text in (
        "60-70年代的3.5G流量",
        "好好好好好好好好好好好",
        "C++和AT&T的5G套餐…真的好好好",
        "我想办理视频彩铃和携号转网",
        "100%满意!!!",
    ):
        assert fast.cut(text) == slow.cut(text), text


@pytest.mark.parametrize("engine", ["native", "fast"])
def test_fast_path_equals_jieba_on_real_text(engine: str) -> None:
    import csv

    from tests.conftest import shared_file

    path = shared_file("sophonplus/waimai_10k.csv")
    with path.open(encoding="utf-8-sig") as fh:
        texts = [row["review"] or "" for row in csv.DictReader(fh)]
    # the full bundled dictionary: its user words shift jieba's corpus total, the knife-edge where
    # jieba and jieba-rs can part ways, so a taxonomy edit that breaks equality fails here
    from taxonomy.loader import load_taxonomy

    tax = load_taxonomy()
    dictionary = TelecomDictionary.build(tax.dictionary_terms(), tax.synonyms)
    fast, slow = Tokenizer(dictionary, engine=engine), Tokenizer(dictionary, engine="jieba")
    mismatches = [t for t in texts if fast.cut(t) != slow.cut(t)]
    assert not mismatches[:5]
    assert "".join(fast.cut(texts[0])) == texts[0]


EDGE_TEXTS = ["", " ", "!!!", "好好好好", "3.5G流量", "a\x00b", "  你好  ", "\r\n", "\r", "\n", "a\r", "\nb",
              "请问<手机号>的流量", "哈哈哈哈，60-70元好好好好的3.5G", "第一行\n第二行好好好", "C++和AT&T"]  # fmt: skip


@pytest.mark.parametrize("engine", ["native", "fast"])
def test_batch_path_equals_one_by_one_and_jieba(components: Components, engine: str) -> None:
    import csv

    from tests.conftest import shared_file

    path = shared_file("sophonplus/waimai_10k.csv")
    with path.open(encoding="utf-8-sig") as fh:
        texts = [row["review"] or "" for row in csv.DictReader(fh)][:4000]
    texts = [t for pair in zip(texts, EDGE_TEXTS * (len(texts) // len(EDGE_TEXTS)), strict=False) for t in pair]
    tk = components.tokenizer if engine == "native" else Tokenizer(components.tokenizer.dictionary, engine=engine)
    slow = Tokenizer(tk.dictionary, engine="jieba")
    expected = [slow.cut(t) for t in texts]
    assert tk.cut_many(texts, batch=50) == expected
    assert tk.cut_many(texts, threads=2, batch=64) == expected
    assert tk.words_many(texts, threads=2) == [tk.words(t) for t in texts]


def test_batch_path_without_rjieba_falls_back_to_jieba() -> None:
    tk = Tokenizer(TelecomDictionary.build(["视频彩铃"]), engine="jieba")
    assert tk.cut_many(["视频彩铃很好", ""]) == [["视频彩铃", "很", "好"], []]


def test_a_lone_surrogate_is_cut_not_refused() -> None:
    """jieba-rs takes UTF-8 only; text decoded with surrogateescape still tokenises, one by one and batched."""
    tok = Tokenizer()
    text = "流量\udcff包太贵"
    assert "".join(tok.cut(text)) == text
    assert tok.cut_many(["营业厅排队", text, "宽带断网"]) == [tok.cut("营业厅排队"), tok.cut(text), tok.cut("宽带断网")]
