from __future__ import annotations

from nlp.sentiment import analyze_sentiment


def test_polarity() -> None:
    assert analyze_sentiment("营业员态度很差，太失望了").polarity == "负面"
    assert analyze_sentiment("客服很耐心，问题解决了，非常满意").polarity == "正面"
    assert analyze_sentiment("请问5G套餐多少钱").polarity == "中性"


def test_negation_flips() -> None:
    assert analyze_sentiment("一点都不方便").score < 0


def test_escalation_cues_are_flagged_with_spans() -> None:
    text = "再不解决我就去工信部投诉"
    result = analyze_sentiment(text)
    assert result.escalation
    spans = {t for t, _, _ in result.escalation_cues}
    assert {"工信部", "再不解决"} <= spans
    for t, s, e in result.escalation_cues:
        assert text[s:e] == t


def test_intensity_grows_with_emphasis() -> None:
    calm = analyze_sentiment("信号不好")
    angry = analyze_sentiment("信号太差了！！！非常不满意，太坑了")
    assert angry.intensity > calm.intensity


def test_a_cue_at_the_very_end_of_the_text_is_found() -> None:
    # pyahocorasick's iter_long drops a match ending exactly at the end of the input
    result = analyze_sentiment("物流慢，表示很不满")
    assert ("不满", 7, 9) in result.cues
    assert analyze_sentiment("我要去工信部").escalation_cues == [("工信部", 3, 6)]


def test_longest_word_wins_where_lexicon_words_overlap() -> None:
    result = analyze_sentiment("真不满意")  # 不满, 满意 and 不满意 all match here
    assert [c[0] for c in result.cues] == ["不满意"]
