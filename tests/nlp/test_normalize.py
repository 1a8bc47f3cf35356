from __future__ import annotations

from nlp.normalize import html_to_text, normalize


def test_full_width_ascii_folds_but_chinese_punctuation_stays() -> None:
    assert normalize("ＡＰＰ里流量１２３，怎么办？") == "APP里流量123，怎么办？"


def test_traditional_to_simplified() -> None:
    assert normalize("我們的寬頻網路費用") == "我们的宽频网路费用"


def test_html_entities_double_escaped_and_breaks() -> None:
    assert html_to_text("第一行<br/>第二行&amp;hellip;") == "第一行\n第二行…"
    assert normalize("<p>你好</p><script>alert(1)</script><div>流量</div>", is_html=True) == "你好\n流量"


def test_control_characters_and_spaces() -> None:
    assert normalize("流量\u0000包\u200b  太贵\u3000了\r\n\r\n") == "流量包 太贵 了"


def test_asr_spoken_generation_names() -> None:
    assert normalize("五G信号不如四G") == "5G信号不如4G"


def test_idempotent() -> None:
    text = "<b>ＡＰＰ</b> 閃退&amp;&lt;"
    once = normalize(text, is_html=True)
    assert normalize(once) == once
