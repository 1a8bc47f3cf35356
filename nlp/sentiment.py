"""Lexicon sentiment for Chinese customer feedback: polarity, intensity and escalation cues.

Needs no training. Words are matched longest-first, a negator just before a word flips it,
degree adverbs scale it. Escalation cues (threats to go to 工信部, 12300, media ...) are a
separate flag with the matched spans: they matter to complaint teams even in calm wording.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["ESCALATION_CUES", "SentimentResult", "analyze_sentiment"]

NEGATIVE = """
不满 不满意 很不满意 非常不满意 失望 太失望 气愤 愤怒 生气 恼火 郁闷 无语 崩溃 受不了 忍无可忍 烦 烦人 恶心 坑 坑人 坑爹
骗 骗人 欺骗 忽悠 乱扣费 乱收费 扣费 多扣 乱扣 吸费 强制 强行 霸王条款 莫名其妙 不合理 不公平 不透明 不知情 没经过同意
差 很差 太差 极差 差劲 垃圾 糟糕 烂 慢 太慢 很慢 卡顿 卡 掉线 断网 没信号 信号差 信号不好 打不通 打不出去 上不了网 网速慢
故障 问题 毛病 不能用 用不了 不好用 麻烦 繁琐 推诿 敷衍 踢皮球 态度差 态度恶劣 不理 没人管 没人理 拖 拖延 一直没解决 没有解决
没解决 解决不了 不解决 等了 等很久 排队 排长队 投诉 退订不了 取消不了 注销不了 贵 太贵 收费高 不值 退款 赔偿 后悔 上当 难用
难以接受 不靠谱 不负责 不负责任 骚扰 诈骗 泄露 隐私 虚假 误导 欺诈 缩水 不兑现 没到账 不到账 错误 出错 异常 失败 扣了
差评 不推荐 别买 不好 不行 一般般 不怎么样 太坑 没用 浪费 嫌弃 讨厌 怀疑 质疑 担心 着急 急死 投诉无门 无奈 可恶 离谱 过分
""".split()

POSITIVE = """
满意 很满意 非常满意 好评 点赞 赞 棒 很棒 不错 挺好 很好 非常好 好用 方便 便捷 快捷 快 很快 及时 耐心 热情 周到 专业 细致
感谢 谢谢您 感激 表扬 优惠 实惠 划算 便宜 值 超值 稳定 流畅 清晰 喜欢 推荐 贴心 靠谱 负责 认真 高效 顺利 解决了 已解决
舒服 开心 高兴 满分 给力 完美 优秀 温馨 干净 整洁 友好 礼貌 信赖 放心 惊喜 物美价廉 性价比高 值得
""".split()

NEGATORS = ("不", "没", "没有", "别", "未", "无", "非", "不是", "并不", "毫不", "不太", "不够")
INTENSIFIERS = {
    "非常": 1.8,
    "特别": 1.7,
    "极其": 2.0,
    "太": 1.6,
    "很": 1.4,
    "十分": 1.6,
    "超级": 1.8,
    "真": 1.3,
    "相当": 1.5,
    "严重": 1.8,
    "实在": 1.5,
    "越来越": 1.4,
    "一直": 1.3,
    "老是": 1.5,
    "总是": 1.4,
    "好几次": 1.6,
}
ESCALATION_CUES = (
    "工信部",
    "12300",
    "315",
    "三一五",
    "消协",
    "消费者协会",
    "媒体",
    "曝光",
    "记者",
    "电视台",
    "律师",
    "起诉",
    "法院",
    "打官司",
    "投诉到底",
    "再不解决",
    "越级投诉",
    "升级投诉",
    "通管局",
    "通信管理局",
    "信访",
    "举报",
    "12345",
    "市长热线",
    "网上曝光",
    "微博曝光",
    "报警",
    "维权",
    "集体投诉",
)


@dataclass(frozen=True, slots=True)
class SentimentResult:
    polarity: str  # 正面 / 中性 / 负面
    score: float  # -1 (most negative) .. 1 (most positive)
    intensity: float  # 0 .. 1
    escalation: bool
    cues: list[tuple[str, int, int]] = field(default_factory=list)  # (span, start, end) of lexicon hits
    escalation_cues: list[tuple[str, int, int]] = field(default_factory=list)


def _alternation(words: list[str] | tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True)))


def _automaton(words: Iterable[str]) -> Any:
    """Leftmost-longest, non-overlapping matching in C (``iter_long``): what a regex alternation
    sorted longest-first finds, at a fraction of the cost on long lexicons."""
    import ahocorasick

    automaton = ahocorasick.Automaton()
    for word in set(words):
        automaton.add_word(word, (len(word), word))
    automaton.make_automaton()
    return automaton


@dataclass(frozen=True)
class _Patterns:
    words: Any
    escalation: Any
    polarity: dict[str, int]
    negated: re.Pattern[str]
    intensifier: re.Pattern[str]


@lru_cache(maxsize=1)
def _patterns() -> _Patterns:
    polarity = dict.fromkeys(NEGATIVE, -1) | dict.fromkeys(POSITIVE, 1)
    # a negator right before the word, or with one degree word between ("不太方便"), flips it
    negated = re.compile("(?:" + "|".join(sorted(NEGATORS, key=len, reverse=True)) + ")[太很够是]?$")
    return _Patterns(_automaton(polarity), _automaton(ESCALATION_CUES), polarity, negated, _alternation(list(INTENSIFIERS)))


def _spans(automaton: Any, text: str) -> list[tuple[str, int, int]]:
    if not text:
        return []
    # the sentinel: iter_long drops a match that ends exactly at the end of the text
    return [(word, end + 1 - size, end + 1) for end, (size, word) in automaton.iter_long(text + "\x00")]


@lru_cache(maxsize=1)
def _modifier_chars() -> frozenset[str]:
    return frozenset("".join(NEGATORS) + "".join(INTENSIFIERS))


def _modifier(p: _Patterns, text: str, start: int) -> float:
    window = text[max(0, start - 4) : start]
    if _modifier_chars().isdisjoint(window):  # the common case: nothing can modify the word
        return 1.0
    factor = 1.0
    for m in p.intensifier.finditer(window):
        factor = max(factor, INTENSIFIERS[m.group()])
    # "特别" ends in 别 but is an intensifier: it is removed before looking for a negator
    if p.negated.search(window.replace("特别", "")):
        factor = -factor * 0.8  # "不满意" is in the lexicon; this catches "不方便", "没解决"...
    return factor


def analyze_sentiment(text: str) -> SentimentResult:
    """Polarity, a signed score, intensity and escalation cues for one text."""
    p = _patterns()
    total, hits = 0.0, []
    for hit in _spans(p.words, text):
        total += p.polarity[hit[0]] * _modifier(p, text, hit[1])
        hits.append(hit)
    esc = _spans(p.escalation, text)
    total -= 1.5 * len(esc)
    # squash: a couple of strong words already make a clear polarity
    score = max(-1.0, min(1.0, total / (abs(total) + 2.0))) if total else 0.0
    label = "负面" if score <= -0.2 else "正面" if score >= 0.2 else "中性"
    intensity = min(1.0, abs(total) / 6.0 + (0.3 if esc else 0.0) + text.count("！") * 0.05 + text.count("!") * 0.05)
    return SentimentResult(label, round(score, 4), round(intensity, 4), bool(esc), hits, esc)
