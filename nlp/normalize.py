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


def _width_table() -> dict[int, str]:
    # NFKC on CJK punctuation would turn "，" into ","; we keep Chinese punctuation as written
    # and fold only full-width ASCII letters, digits, a few symbols and the ideographic space.
    table = {code: chr(code - 0xFEE0) for code in range(0xFF01, 0xFF5F) if chr(code).isalnum() or chr(code) in "％＋－．／：＠＃＆＊"}
    table[0x3000] = " "
    return table


_WIDTH = _width_table()
# compatibility ideographs and Kangxi radicals: NFKC maps them to the ordinary character
_COMPAT = re.compile(r"[\uf900-\ufaff\u2f00-\u2fdf]")


def _nfkc_safe(text: str) -> str:
    """NFKC where it is safe: width folding and compatibility ideographs; ①, emoji and symbols stay."""
    text = text.translate(_WIDTH)
    return _COMPAT.sub(lambda m: unicodedata.normalize("NFKC", m.group()), text)


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
