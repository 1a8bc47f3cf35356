"""Chinese tokenisation with jieba and the telecom dictionary.

Each ``Tokenizer`` owns its own jieba instance (no global dictionary state), so two
taxonomy versions can tokenise side by side in one process.
"""

from __future__ import annotations

import logging
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nlp.dictionary import TelecomDictionary, fold_units
from radar.errors import ErrorCode, NLPError

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["Tokenizer"]

logger = logging.getLogger(__name__)

_WORDLIKE = re.compile(r"[\w\u4e00-\u9fff<>]", re.UNICODE)
_PLACEHOLDER = re.compile(r"<[\u4e00-\u9fffA-Za-z]{2,6}>")


def _import_jieba() -> Any:
    try:
        import jieba
    except ImportError as exc:  # pragma: no cover - jieba is a declared dependency
        raise NLPError(ErrorCode.E205, package="jieba") from exc
    jieba.setLogLevel(logging.WARNING)
    return jieba


class Tokenizer:
    """Tokenises with jieba plus the telecom dictionary; folds synonyms and data-volume units."""

    def __init__(self, dictionary: TelecomDictionary | None = None, *, hmm: bool = True) -> None:
        self.dictionary = dictionary or TelecomDictionary.build([])
        self.hmm = hmm
        self._jieba: Any = None

    @property
    def version(self) -> str:
        return self.dictionary.version

    def warm_up(self) -> None:
        """Load jieba's dictionary and the telecom words (about a second, once per process)."""
        if self._jieba is not None:
            return
        jieba = _import_jieba()
        tk = jieba.Tokenizer()
        tk.tmp_dir = tempfile.gettempdir()
        tk.initialize()
        with tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="utf-8", delete=False) as fh:
            fh.write(self.dictionary.to_jieba_userdict())
            userdict = Path(fh.name)
        try:
            tk.load_userdict(str(userdict))
        finally:
            userdict.unlink(missing_ok=True)
        self._jieba = tk

    def cut(self, text: str) -> list[str]:
        """Raw jieba tokens, punctuation and spaces included (offsets add up to the text)."""
        if self._jieba is None:
            self.warm_up()
        return list(self._jieba.cut(text, HMM=self.hmm))

    def words(self, text: str) -> list[str]:
        """Content tokens: no punctuation or spaces, lower-cased, synonyms and units folded.

        Placeholders such as ``<手机号>`` stay one token.
        """
        out: list[str] = []
        pos = 0
        for m in _PLACEHOLDER.finditer(text):
            out.extend(self._words_plain(text[pos : m.start()]))
            out.append(m.group())
            pos = m.end()
        out.extend(self._words_plain(text[pos:]))
        return out

    def _words_plain(self, text: str) -> list[str]:
        if not text:
            return []
        canon = self.dictionary.canonical
        return [canon(tok.lower()) for tok in self.cut(fold_units(text)) if _WORDLIKE.search(tok) and tok.strip()]

    def words_many(self, texts: Iterable[str]) -> list[list[str]]:
        return [self.words(t) for t in texts]
