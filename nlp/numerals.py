"""Chinese numerals to numbers: 五十八 -> 58, 两千三 -> 2300, 一万二千 -> 12000, 3.5 -> 3.5."""

from __future__ import annotations

__all__ = ["CHINESE_DIGITS", "parse_number"]

CHINESE_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "壹": 1,
    "二": 2,
    "贰": 2,
    "两": 2,
    "三": 3,
    "叁": 3,
    "四": 4,
    "肆": 4,
    "五": 5,
    "伍": 5,
    "六": 6,
    "陆": 6,
    "七": 7,
    "柒": 7,
    "八": 8,
    "捌": 8,
    "九": 9,
    "玖": 9,
}
_UNITS = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
_BIG = {"万": 10_000, "亿": 100_000_000}


def parse_number(text: str) -> float | None:
    """The value of Arabic or Chinese numerals; ``None`` when ``text`` is not a number.

    Handles the spoken shorthand of amounts: 两千三 (2300), 一万二 (12000), 半 (0.5).
    """
    text = text.strip().replace(",", "").replace("，", "")
    if not text:
        return None
    if text == "半":
        return 0.5
    try:
        return float(text)
    except ValueError:
        pass
    if all(ch in CHINESE_DIGITS for ch in text) and len(text) > 1:  # digit by digit: 一三八 -> 138
        return float("".join(str(CHINESE_DIGITS[ch]) for ch in text))
    return _positional(text)


def _positional(text: str) -> float | None:
    total, section, digit, last_unit, after_zero = 0, 0, None, 1, False
    for ch in text:
        if ch in CHINESE_DIGITS:
            digit = CHINESE_DIGITS[ch] or None
            after_zero = after_zero or CHINESE_DIGITS[ch] == 0
        elif ch in _UNITS:
            section += (1 if digit is None else digit) * _UNITS[ch]
            digit, last_unit, after_zero = None, _UNITS[ch], False
        elif ch in _BIG:
            total += (section + (digit or 0)) * _BIG[ch]
            section, digit, last_unit, after_zero = 0, None, _BIG[ch], False
        else:
            return None
    if digit is not None:
        # a trailing digit right after a unit is one unit lower: 两千三 = 2300, 一万二 = 12000; after 零 it is ones
        section += digit if after_zero else digit * max(1, last_unit // 10)
    return float(total + section)
