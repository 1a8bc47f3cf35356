from __future__ import annotations

from nlp.keywords import IdfTable, candidate_words, textrank, tfidf


def test_idf_prefers_rare_words() -> None:
    table = IdfTable.fit([["流量", "套餐"], ["流量", "宽带"], ["流量", "携号转网"]])
    assert table.docs == 3
    assert table.idf("携号转网") > table.idf("流量")
    assert table.idf("从未见过") >= table.idf("携号转网")  # unseen: as rare as it gets, no error


def test_tfidf_ranks_distinctive_frequent_words_first() -> None:
    table = IdfTable.fit([["流量", "套餐"], ["流量", "宽带"], ["流量"], ["流量", "套餐"]])
    words = ["流量", "宽带", "宽带", "套餐", "的", "3", "<手机号>"]
    ranked = tfidf(words, table, top=3)
    assert [w for w, _ in ranked][0] == "宽带"
    assert all(w not in ("的", "3", "<手机号>") for w, _ in ranked)


def test_textrank_finds_the_hub_word_and_is_deterministic() -> None:
    words = "宽带 断网 宽带 维修 宽带 师傅 上门 宽带 网速 慢".split()
    first = textrank(words, top=3)
    assert first[0] == ("宽带", 1.0)
    assert textrank(list(words), top=3) == first


def test_degenerate_inputs() -> None:
    assert textrank([]) == [] and tfidf([], IdfTable()) == []
    assert textrank(["宽带"]) == [("宽带", 1.0)]
    assert candidate_words(["的", "a", "12", "3.5", "5g", "<手机号>", "！！", "流量"]) == ["5g", "流量"]
