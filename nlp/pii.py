"""Personal data masking: phones, ID cards, bank cards, emails, IMEI, broadband accounts.

Masked text keeps typed placeholders (``<手机号>``) so readers and classifiers still know a
number was given. Validation (ID checksum, Luhn) keeps amounts, dates, package names and
data volumes out of the net.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "PIIMatch",
    "customer_key",
    "find_pii",
    "luhn_ok",
    "mask_pii",
    "normalize_mobile",
    "valid_id_card",
]

SPOKEN_DIGITS = {
    "零": "0",
    "〇": "0",
    "洞": "0",
    "一": "1",
    "幺": "1",
    "妖": "1",
    "二": "2",
    "两": "2",
    "三": "3",
    "四": "4",
    "五": "5",
    "六": "6",
    "七": "7",
    "拐": "7",
    "八": "8",
    "九": "9",
    "勾": "9",
}
_DIGIT_CLASS = "0-9" + "".join(SPOKEN_DIGITS)
_SEP = r"[ \-－]?"

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9.\-]{1,255}\.[A-Za-z]{2,10}")
_ID_CARD = re.compile(r"(?<![0-9A-Za-z])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx](?![0-9A-Za-z])")
_LONG_DIGITS = re.compile(r"(?<![0-9A-Za-z.])(\d{4}[ \-]?){3,4}\d{1,4}(?![0-9A-Za-z])")
_MOBILE = re.compile(r"(?<![0-9A-Za-z])(?:(?:\+|00)?86[ \-]?)?1[3-9]\d" + _SEP + r"\d{4}" + _SEP + r"\d{4}(?![0-9A-Za-z%元块兆GgMm])")
_SPOKEN_RUN = re.compile(f"[{_DIGIT_CLASS}]{{11,}}")
_LANDLINE = re.compile(r"(?<![0-9A-Za-z])0\d{2,3}[ \-－]\d{7,8}(?![0-9A-Za-z])")
_BROADBAND = re.compile(r"(?<=宽带账号)[:：\s]*([A-Za-z0-9_@.\-]{6,32})|(?<=宽带帐号)[:：\s]*([A-Za-z0-9_@.\-]{6,32})")


@dataclass(frozen=True, slots=True)
class PIIMatch:
    kind: str
    start: int
    end: int
    value: str


PLACEHOLDER = {
    "mobile": "<手机号>",
    "landline": "<固话>",
    "id_card": "<身份证号>",
    "bank_card": "<银行卡号>",
    "imei": "<IMEI>",
    "email": "<邮箱>",
    "broadband": "<宽带账号>",
}


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def valid_id_card(value: str) -> bool:
    """18-digit resident ID with a correct GB 11643 check character."""
    if len(value) != 18 or not value[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(value[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == value[17].upper()


def normalize_mobile(value: str) -> str | None:
    """11-digit mobile number from any written or spoken form, or None."""
    value = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?([eE]\+?\d+)?", value) and ("." in value or "e" in value.lower()):
        number = float(value)  # spreadsheets store numbers as floats: 1.3912345678E10, 13912345678.0
        value = str(int(number)) if number.is_integer() else value
    digits = "".join(SPOKEN_DIGITS.get(ch, ch) for ch in value if ch.isdigit() or ch in SPOKEN_DIGITS)
    if digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits if re.fullmatch(r"1[3-9]\d{9}", digits) else None


def _scan_long_digits(text: str) -> list[PIIMatch]:
    found = []
    for m in _LONG_DIGITS.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if digits.startswith(("0086", "86")) and normalize_mobile(digits):
            continue  # an international-prefixed mobile, which the mobile pattern claims
        if 16 <= len(digits) <= 19 and luhn_ok(digits):
            found.append(PIIMatch("bank_card", m.start(), m.end(), m.group()))
        elif len(digits) == 15 and luhn_ok(digits):
            found.append(PIIMatch("imei", m.start(), m.end(), m.group()))
    return found


def _scan_spoken(text: str) -> list[PIIMatch]:
    found = []
    for m in _SPOKEN_RUN.finditer(text):
        run = m.group()
        # a run can hold a number plus neighbouring digits; try each 11-char window
        for i in range(len(run) - 10):
            window = run[i : i + 11]
            if any(ch in SPOKEN_DIGITS for ch in window) and normalize_mobile(window):
                found.append(PIIMatch("mobile", m.start() + i, m.start() + i + 11, window))
                break
    return found


def _regex_scanner(kind: str, pattern: re.Pattern[str], check: Callable[[str], bool] | None = None) -> Callable[[str], list[PIIMatch]]:
    def scan(text: str) -> list[PIIMatch]:
        return [PIIMatch(kind, m.start(), m.end(), m.group()) for m in pattern.finditer(text) if check is None or check(m.group())]

    return scan


def _scan_broadband(text: str) -> list[PIIMatch]:
    out = []
    for m in _BROADBAND.finditer(text):
        group = 1 if m.group(1) else 2
        out.append(PIIMatch("broadband", m.start(group), m.end(group), m.group(group)))
    return out


# Order matters: longer, validated forms claim their spans before shorter patterns.
_SCANNERS: tuple[Callable[[str], list[PIIMatch]], ...] = (
    _regex_scanner("email", _EMAIL),
    _regex_scanner("id_card", _ID_CARD, valid_id_card),
    _scan_long_digits,
    _regex_scanner("mobile", _MOBILE),
    _scan_spoken,
    _regex_scanner("landline", _LANDLINE),
    _scan_broadband,
)


_DIGITISH = re.compile(f"[0-9@]|[{''.join(SPOKEN_DIGITS)}]{{11}}")


def find_pii(text: str) -> list[PIIMatch]:
    """All non-overlapping personal-data spans, in text order."""
    if not _DIGITISH.search(text):
        return []  # every kind of personal data here needs a digit, an @ or a spoken number
    taken: list[PIIMatch] = []
    for scan in _SCANNERS:
        for match in scan(text):
            if all(match.end <= t.start or match.start >= t.end for t in taken):
                taken.append(match)
    return sorted(taken, key=lambda m: m.start)


def mask_pii(text: str) -> tuple[str, list[PIIMatch]]:
    """Replace personal data with typed placeholders; returns the masked text and the matches."""
    matches = find_pii(text)
    if not matches:
        return text, matches
    parts, pos = [], 0
    for m in matches:
        parts.append(text[pos : m.start])
        parts.append(PLACEHOLDER[m.kind])
        pos = m.end
    parts.append(text[pos:])
    return "".join(parts), matches


def customer_key(phone: str | None, secret: str) -> str | None:
    """Keyed hash of the normalised mobile number: links channels without keeping the number."""
    if not phone:
        return None
    number = normalize_mobile(str(phone).strip())
    if number is None:
        return None
    return "c_" + hmac.new(secret.encode(), number.encode(), hashlib.sha256).hexdigest()[:20]
