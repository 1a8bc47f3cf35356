"""The batched n-gram TF-IDF equals sklearn's TfidfVectorizer, number for number."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import TfidfVectorizer

from nlp.dictionary import TelecomDictionary
from nlp.features import WordNgrams
from nlp.ngram_tfidf import CharNgramTfidf, WordNgramTfidf

TEXTS = [
    "流量包38元一个月，太贵了！！",
    "营业厅  排队\n\n两个小时 ABC abc",
    "",
    "宽带 500M 经常断网😡",
    "5G套餐 5g 套餐 副卡",
    "好好好好好 服务态度 很好",
    "\ud83d lone surrogate",
]
UNSEEN = ["流量不够用", "全新的词语 xyz", "", "太贵"]


def _by_feature(matrix, names) -> dict[tuple[int, str], float]:  # type: ignore[no-untyped-def]
    coo = matrix.tocoo()
    return {(int(r), str(names[c])): float(v) for r, c, v in zip(coo.row, coo.col, coo.data, strict=True)}


def _assert_same(ours, theirs, our_names, their_names) -> None:  # type: ignore[no-untyped-def]
    a, b = _by_feature(ours, our_names), _by_feature(theirs, their_names)
    assert a.keys() == b.keys()
    for key, value in a.items():
        assert value == pytest.approx(b[key], rel=1e-9), key


@pytest.mark.parametrize("min_df", [1, 2])
def test_char_ngrams_equal_sklearn(min_df: int) -> None:
    ours = CharNgramTfidf((1, 3), min_df=min_df)
    ref = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=min_df)
    _assert_same(ours.fit_transform(TEXTS), ref.fit_transform(TEXTS), ours.get_feature_names_out(), ref.get_feature_names_out())
    _assert_same(ours.transform(UNSEEN), ref.transform(UNSEEN), ours.get_feature_names_out(), ref.get_feature_names_out())


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(max_size=30), min_size=1, max_size=6))
def test_char_ngrams_equal_sklearn_on_any_text(texts: list[str]) -> None:
    ours, ref = CharNgramTfidf((1, 3)), TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
    try:
        theirs = ref.fit_transform(texts)
    except ValueError:  # sklearn refuses a vocabulary of nothing; ours gives an empty one
        assert ours.fit_transform(texts).shape[1] == 0
        return
    _assert_same(ours.fit_transform(texts), theirs, ours.get_feature_names_out(), ref.get_feature_names_out())


def test_word_ngrams_equal_sklearn_with_the_project_analyzer() -> None:
    dictionary = TelecomDictionary.build(["流量包", "营业厅", "5G套餐"])
    ours = WordNgramTfidf(dictionary, (1, 2))
    ref = TfidfVectorizer(analyzer=WordNgrams(dictionary), sublinear_tf=True)
    fitted, theirs = ours.fit_transform(TEXTS), ref.fit_transform(TEXTS)
    # name our columns through the ids the words were given
    words = {i: w for w, i in ours.word_ids_.items()}
    names = [words[k] if k < 2**32 else f"{words[k >> 32]} {words[k & 0xFFFFFFFF]}" for k in map(int, ours.vocabulary_keys_)]
    _assert_same(fitted, theirs, names, ref.get_feature_names_out())
    _assert_same(ours.transform(UNSEEN), ref.transform(UNSEEN), names, ref.get_feature_names_out())


def test_fitted_vectorizers_pickle_and_give_the_same_rows() -> None:
    dictionary = TelecomDictionary.build(["流量包"])
    for vec in (CharNgramTfidf(), WordNgramTfidf(dictionary)):
        vec.fit(TEXTS)
        again = pickle.loads(pickle.dumps(vec))
        assert np.allclose(again.transform(UNSEEN).toarray(), vec.transform(UNSEEN).toarray())


def test_max_features_keeps_the_most_frequent() -> None:
    vec = CharNgramTfidf((1, 1), max_features=2).fit(["aaab", "ab", "c"])
    assert sorted(vec.get_feature_names_out()) == ["a", "b"]
