"""The native engine (nlp/_native/jiebac.c) against jieba itself, token for token, same dictionary."""

from __future__ import annotations

import csv
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nlp
from nlp.dictionary import TelecomDictionary
from nlp.tokenizer import Tokenizer, _load_native
from taxonomy.loader import load_taxonomy
from tests.conftest import SHARED_DATA


@pytest.fixture(scope="module")
def dictionary() -> TelecomDictionary:
    # the full bundled dictionary: its user words shift jieba's total, which every score depends on
    tax = load_taxonomy()
    return TelecomDictionary.build(tax.dictionary_terms(), tax.synonyms)


@pytest.fixture(scope="module")
def pair(dictionary: TelecomDictionary) -> tuple[Tokenizer, Tokenizer]:
    native, slow = Tokenizer(dictionary), Tokenizer(dictionary, engine="jieba")
    native.warm_up()
    slow.warm_up()
    return native, slow


@pytest.fixture(scope="module")
def pair_no_hmm(dictionary: TelecomDictionary) -> tuple[Tokenizer, Tokenizer]:
    return Tokenizer(dictionary, hmm=False), Tokenizer(dictionary, hmm=False, engine="jieba")


def test_the_native_engine_is_built_and_active(pair: tuple[Tokenizer, Tokenizer]) -> None:
    """`pip install -e .` compiles the extension: without it this fails rather than quietly running 2x slower."""
    native, slow = pair
    assert native.active_engine == "native", "nlp._jiebac is not built: run `pip install -e .[dev]`"
    assert slow.active_engine == "jieba"
    assert Tokenizer(engine="fast").active_engine == "fast"


SURROGATE_TEXT = b"\xff\xfe\xe6\xb5\x81\xe9\x87\x8f\x80".decode("utf-8", "surrogateescape")
EDGE_TEXTS = [
    "", " ", "   ", "\t\n \u3000", "\r\n", "\r\r\n\n", "\n\r", "a\r\nb", "好\r\n\r\n好", "\x85\u2028\u2029\x0b\x0c",
    "3.5G流量", "60-70元", "+#&._%", "C++和AT&T", "100%满意!!!", "1.5%的利率", "v2.0.1版本", "a.1.2", "3.14159", ".5G",
    "5G套餐月租58元送20GB", "ａｂｃ１２３全角", "abcdefghijklmnopqrstuvwxyz0123456789" * 5, "1234567890" * 30,
    "好好好好好好好好好好好", "哈哈哈哈哈哈", "嗯嗯嗯嗯", "好" * 1000, "流量流量流量流量", "的的的的的的的",
    "😀👍🏻好评", "𠀀𠀁𠀂是扩展B", "\U0010ffff", "a\x00b\x00好\x00", "\x00", "\u4e00\u9fd5\u9fd6\u4dff\u9fff",
    "第一行\n第二行好好好", "我想办理视频彩铃和携号转网，还有和彩云", "魔百和卡顿，宽带断网了！！", "营业厅排队两小时",
    "他来到了网易杭研大厦", "我来到北京清华大学", "小明硕士毕业于中国科学院计算所，后在日本京都大学深造",
    SURROGATE_TEXT, "流量\udcff包太贵", "\ud800", "a\udfffb",
]  # fmt: skip


def test_edge_cases_equal_jieba(pair: tuple[Tokenizer, Tokenizer], pair_no_hmm: tuple[Tokenizer, Tokenizer]) -> None:
    for native, slow in (pair, pair_no_hmm):
        for text in EDGE_TEXTS:
            assert native.cut(text) == slow.cut(text), repr(text)
            assert "".join(native.cut(text)) == text
        assert native.cut_many(EDGE_TEXTS, batch=7) == [slow.cut(t) for t in EDGE_TEXTS]
        assert native.cut_many(EDGE_TEXTS, threads=2, batch=5) == [slow.cut(t) for t in EDGE_TEXTS]


def test_a_very_long_text_equals_jieba(pair: tuple[Tokenizer, Tokenizer]) -> None:
    native, slow = pair
    unit = "我的5G套餐每月58元，流量3.5GB不够用！客服说可以办60-70元的包。好好好\r\n"
    text = (unit * (100_000 // len(unit) + 1))[:100_000]
    assert native.cut(text) == slow.cut(text)
    assert native.cut_many([text, "", text[:999]], threads=2, batch=1) == [slow.cut(text), [], slow.cut(text[:999])]


def test_words_and_joined_cuts_are_unchanged(pair: tuple[Tokenizer, Tokenizer]) -> None:
    native, slow = pair
    texts = ["我的号码<手机号>停机了", "送3个G流量和500兆", "打客服热线没人接\n好好好"]
    assert native.words_many(texts, threads=2) == [slow.words(t) for t in texts]
    assert native.cut_joined(texts) == slow.cut_joined(texts)


# CJK (the common range, its edges and beyond), ASCII, the characters jieba keeps in a block,
# whitespace, full-width punctuation, emoji and lone surrogates
_ALPHABET = st.one_of(
    st.sampled_from(list("的一是了我不在人有这个上们来到时大地为子中你说生国年着就那和要她出也得里后自以会流量套餐话费宽带好哈嗯")),
    st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),
    st.sampled_from(list("abcXYZ0123456789+#&._%-")),
    st.sampled_from(list(" \t\r\n\u3000\x00，。！？、；：“”（）")),
    st.characters(min_codepoint=0x1F300, max_codepoint=0x1F64F),
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
    st.characters(),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(alphabet=_ALPHABET, max_size=40), max_size=6))
def test_arbitrary_text_equals_jieba(pair: tuple[Tokenizer, Tokenizer], texts: list[str]) -> None:
    native, slow = pair
    expected = [slow.cut(t) for t in texts]
    assert [native.cut(t) for t in texts] == expected
    assert native.cut_many(texts, batch=2) == expected


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=_ALPHABET, max_size=60))
def test_arbitrary_text_equals_jieba_without_the_hmm(pair_no_hmm: tuple[Tokenizer, Tokenizer], text: str) -> None:
    native, slow = pair_no_hmm
    assert native.cut(text) == slow.cut(text)


def _shared_texts(every: int = 1) -> Iterator[str]:
    """Every text of the shared corpora: each field of each CSV row, each string of the JSON files."""

    def strings(node: object) -> Iterator[str]:
        if isinstance(node, str):
            yield node
        elif isinstance(node, dict):
            for key, value in node.items():
                yield key
                yield from strings(value)
        elif isinstance(node, list):
            for item in node:
                yield from strings(item)

    for path in sorted(SHARED_DATA.glob("**/*.csv")):
        with path.open(encoding="utf-8-sig") as fh:
            for n, row in enumerate(csv.DictReader(fh)):
                if n % every == 0:
                    yield from (v for v in row.values() if isinstance(v, str))
    for path in sorted(SHARED_DATA.glob("**/*.json")):
        yield from strings(json.loads(path.read_text(encoding="utf-8")))
    for path in sorted(SHARED_DATA.glob("stopwords/*.txt")):
        yield path.read_text(encoding="utf-8")


def _compare_on_shared(pair: tuple[Tokenizer, Tokenizer], every: int) -> int:
    if not SHARED_DATA.exists():
        pytest.skip(f"the shared corpora are not available at {SHARED_DATA}")
    native, slow = pair
    texts = list(_shared_texts(every))
    expected = [slow.cut(t) for t in texts]
    mismatches = [t for t, exp in zip(texts, expected, strict=True) if native.cut(t) != exp]
    assert not mismatches[:5]
    assert native.cut_many(texts, threads=2) == expected
    return len(texts)


@pytest.mark.shared_data
def test_equal_to_jieba_on_a_sample_of_the_shared_corpora(pair: tuple[Tokenizer, Tokenizer]) -> None:
    assert _compare_on_shared(pair, every=25) > 5_000


@pytest.mark.slow
@pytest.mark.shared_data
def test_equal_to_jieba_on_all_the_shared_corpora(pair: tuple[Tokenizer, Tokenizer]) -> None:
    """Every text of ../shared/data: about 285,000 texts, 9.4 million characters (jieba needs about 40 s)."""
    assert _compare_on_shared(pair, every=1) > 250_000


def test_force_split_words_are_split_as_jieba_does(monkeypatch: pytest.MonkeyPatch) -> None:
    """A word deleted with ``del_word`` (frequency 0) is split into characters by finalseg too."""
    from jieba import finalseg

    monkeypatch.setattr(finalseg, "Force_Split_Words", set())
    dictionary = TelecomDictionary.build(["杭研"])
    native, slow = Tokenizer(dictionary), Tokenizer(dictionary, engine="jieba")
    for tok in (native, slow):
        tok.warm_up()
        tok._jieba.del_word("杭研")
    native._native = _load_native(native._jieba, True)  # the cutter takes the edited dictionary
    text = "他来到了网易杭研大厦"
    assert slow.cut(text) == native.cut(text)
    assert "杭研" not in native.cut(text)


def test_a_missing_extension_falls_back_to_jieba_rs_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "nlp._jiebac", None)
    monkeypatch.delattr(nlp, "_jiebac", raising=False)
    tok = Tokenizer(TelecomDictionary.build(["视频彩铃"]))
    with caplog.at_level(logging.WARNING, logger="nlp.tokenizer"):
        assert tok.active_engine == "fast"
    assert "native tokenizer is not built" in caplog.text
    assert tok.cut("视频彩铃好好好好") == Tokenizer(TelecomDictionary.build(["视频彩铃"]), engine="jieba").cut("视频彩铃好好好好")


def test_the_cutter_refuses_what_it_cannot_cut_exactly() -> None:
    from jieba import finalseg

    from nlp import _jiebac

    tables = (finalseg.start_P, finalseg.trans_P, finalseg.emit_P)
    with pytest.raises(ValueError, match="prefix"):
        _jiebac.Cutter({"流量包": 5}, 5, *tables)  # jieba always holds the prefixes 流 and 流量
    with pytest.raises(ValueError):
        _jiebac.Cutter({"流": 0}, 0, *tables)
    cutter = _jiebac.Cutter({"流": 0, "流量": 3, "流量包": 5}, 8, *tables)
    with pytest.raises(TypeError):
        cutter.cut(b"bytes")
    with pytest.raises(TypeError):
        cutter.cut_many(["ok", 3])
    assert cutter.cut_many(iter(["流量包", ""])) == [["流量包"], []]
    assert cutter.size == 3


def test_native_source_is_in_the_package() -> None:
    assert (Path(nlp.__file__).parent / "_native" / "jiebac.c").exists()
