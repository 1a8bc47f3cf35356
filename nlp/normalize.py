"""Text normalisation: width folding, traditional to simplified, HTML, control characters."""

from __future__ import annotations

import html
import logging
import re
import unicodedata
from functools import lru_cache
from typing import Any

__all__ = ["html_to_text", "normalize", "to_simplified"]

logger = logging.getLogger(__name__)

_CONTROL = re.compile(r"[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200b-\u200f\u2028\u2029\ufeff]")
_SPACES = re.compile(r"[ \t\u00a0\u3000]+")
_NEWLINES = re.compile(r"\s*\n\s*")
_TAG = re.compile(r"<[^>]{0,2000}>")
_BR = re.compile(r"<\s*(br|/p|/div|/li|p|div|li)\b[^>]*>", re.IGNORECASE)
_SPOKEN_G = re.compile(r"([二三四五六])[Gg](?![a-zA-Z])")
_SCRIPT = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)


def _fold_char(ch: str) -> str:
    # NFKC on CJK punctuation would turn "，" into ","; we keep Chinese punctuation as
    # written and fold only full-width ASCII letters, digits and the ideographic space.
    code = ord(ch)
    if 0xFF01 <= code <= 0xFF5E and (ch.isalnum() or ch in "％＋－．／：＠＃＆＊"):
        return chr(code - 0xFEE0)
    if code == 0x3000:
        return " "
    return ch


def _nfkc_safe(text: str) -> str:
    """NFKC where it is safe: compatibility forms such as circled digits and ligatures."""
    out = []
    for ch in text:
        folded = _fold_char(ch)
        if folded != ch:
            out.append(folded)
        elif unicodedata.category(ch) in ("No", "So") or "\u2460" <= ch <= "\u24ff":
            out.append(ch)  # ①, emoji and symbols carry meaning for readers; leave them
        elif 0xF900 <= ord(ch) <= 0xFAFF or 0x2F00 <= ord(ch) <= 0x2FDF:
            out.append(unicodedata.normalize("NFKC", ch))  # compatibility ideographs, radicals
        else:
            out.append(ch)
    return "".join(out)


@lru_cache(maxsize=1)
def _converter() -> Any:
    try:
        import opencc
    except ImportError:  # pragma: no cover - opencc is a declared dependency
        logger.warning("opencc is not installed: traditional Chinese is left as written")
        return None
    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional to simplified Chinese with OpenCC (t2s)."""
    conv = _converter()
    return conv.convert(text) if conv is not None else text


def html_to_text(markup: str) -> str:
    """Strip markup, keep line breaks, unescape entities (twice: exports double-escape)."""
    text = _SCRIPT.sub("", markup)
    text = _BR.sub("\n", text)
    text = _TAG.sub("", text)
    for _ in range(2):
        unescaped = html.unescape(text)
        if unescaped == text:
            break
        text = unescaped
    return text


def normalize(text: str, *, is_html: bool = False) -> str:
    """Normalise one text for NLP, search and display. Pure and idempotent."""
    if is_html:
        text = html_to_text(text)
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _nfkc_safe(text)
    text = to_simplified(text)
    text = _SPOKEN_G.sub(lambda m: "23456"["二三四五六".index(m.group(1))] + "G", text)  # ASR writes 5G as 五G
    text = _SPACES.sub(" ", text)
    text = _NEWLINES.sub("\n", text)
    return text.strip()
