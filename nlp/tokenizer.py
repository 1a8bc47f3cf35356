"""Chinese tokenisation with jieba and the telecom dictionary.

Each ``Tokenizer`` owns its own jieba instance (no global dictionary state), so two
taxonomy versions can tokenise side by side in one process.
"""

from __future__ import annotations

import logging
import re
import tempfile
from bisect import bisect_right
from concurrent.futures import ThreadPoolExecutor
from itertools import accumulate
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nlp.dictionary import USER_FREQ, TelecomDictionary, fold_units
from radar.errors import ErrorCode, NLPError

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["Tokenizer"]

logger = logging.getLogger(__name__)

_WORDLIKE = re.compile(r"[\w\u4e00-\u9fff<>]", re.UNICODE)
_PLACEHOLDER = re.compile(r"<[\u4e00-\u9fffA-Za-z]{2,6}>")


# jieba and jieba-rs (rjieba) agree except in two places. (1) Tokens holding these characters,
# which jieba's HMM splits (60-70 -> 60 / - / 70, 3.5G -> 3.5 / G): such a token is re-cut by
# jieba. (2) Runs of one repeated character, where the two break ties between equally likely
# routes differently (好好好好好): a block holding such a run is cut by jieba.
_SPLIT_CHARS = re.compile(r"[+#&._%\-]")
_REPEAT = re.compile(r"([\u4E00-\u9FD5a-zA-Z0-9])\1\1")
_PIECE_CACHE = 200_000  # entries; a piece is a few characters

# the batch separator: a block boundary for jieba and jieba-rs alike, and one jieba-rs passes
# quickly (NUL measured a third slower). Texts holding a line break are cut alone, so no
# "\r\n" token can form across two texts.
_SEP = "\n"
_NEEDS_REPAIR = re.compile(r"[+#&._%\-]|([\u4E00-\u9FD5a-zA-Z0-9])\1\1")
_BREAKS = re.compile(r"[\r\n]")
# jieba-rs takes UTF-8 and a lone surrogate (bytes decoded with surrogateescape) has none: such a
# text is cut by jieba, which takes any str
_SURROGATE = re.compile("[\ud800-\udfff]")
_HAN_BLOCK = re.compile(r"([\u4E00-\u9FD5a-zA-Z0-9+#&._%\-]+)")


def _import_jieba() -> Any:
    try:
        import jieba
    except ImportError as exc:  # pragma: no cover - jieba is a declared dependency
        raise NLPError(ErrorCode.E205, package="jieba") from exc
    jieba.setLogLevel(logging.WARNING)
    return jieba


def _split_at_breaks(group: list[str]) -> list[list[str]]:
    """Runs of texts without line breaks, and each text with one on its own."""
    runs: list[list[str]] = [[]]
    for text in group:
        if _BREAKS.search(text) or _SURROGATE.search(text):
            runs.extend([[text], []])
        else:
            runs[-1].append(text)
    return [run for run in runs if run]


def _load_native(tk: Any, hmm: bool) -> Any:
    """The C cutter (``nlp._jiebac``) over jieba instance ``tk``'s own FREQ and total, or None."""
    try:
        from nlp import _jiebac
    except ImportError as exc:
        logger.warning("the native tokenizer is not built (%s): cutting with jieba-rs (pip install -e . compiles it)", exc)
        return None
    from jieba import finalseg

    try:
        return _jiebac.Cutter(tk.FREQ, tk.total, finalseg.start_P, finalseg.trans_P, finalseg.emit_P, finalseg.Force_Split_Words, hmm)
    except (TypeError, ValueError, MemoryError) as exc:
        logger.warning("the native tokenizer refused the dictionary (%s): cutting with jieba-rs", exc)
        return None


class Tokenizer:
    """Tokenises with jieba plus the telecom dictionary; folds synonyms and data-volume units.

    Three engines give the same tokens (tested on the shared corpora):

    - ``"native"`` (the default): jieba's algorithm in C (``nlp/_native/jiebac.c``), built from
      the jieba instance's own dictionary and HMM tables, so equal to jieba by construction;
      30-40x jieba's speed, 50x with ``cut_many(threads=2)`` (bench/tokenizer_speed.py). When
      the extension is not built it warns and uses the ``"fast"`` path.
    - ``"fast"``: jieba-rs (``rjieba``) with the same dictionary, and jieba's answer on the
      rare blocks where the two differ; about 12-15x.
    - ``"jieba"``: jieba itself.
    """

    ENGINES = ("native", "fast", "jieba")

    def __init__(self, dictionary: TelecomDictionary | None = None, *, hmm: bool = True, engine: str = "native") -> None:
        if engine not in self.ENGINES:
            raise ValueError(f"engine must be one of {', '.join(self.ENGINES)}, not {engine!r}")
        self.dictionary = dictionary or TelecomDictionary.build([])
        self.hmm = hmm
        self.engine = engine
        self._jieba: Any = None
        self._rjieba: Any = None
        self._native: Any = None
        self._pieces: dict[str, list[str]] = {}

    @property
    def version(self) -> str:
        return self.dictionary.version

    @property
    def active_engine(self) -> str:
        """The engine that cuts: ``engine``, or ``"fast"``/``"jieba"`` when a faster one is unavailable."""
        if self._jieba is None:
            self.warm_up()
        return "native" if self._native is not None else "fast" if self._rjieba is not None else "jieba"

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
        if self.engine == "native":
            self._native = _load_native(tk, self.hmm)
        if self.engine == "fast" or (self.engine == "native" and self._native is None):
            self._rjieba = self._load_rjieba()

    def _load_rjieba(self) -> Any:
        try:
            import rjieba
        except ImportError:
            logger.warning("rjieba is not installed: tokenising with jieba only (pip install rjieba)")
            return None
        rj = rjieba.Jieba()
        for term in self.dictionary.terms:
            word = term.replace(" ", "")
            if word and " " not in term.strip():
                rj.add_word(word, USER_FREQ, None)
        return rj

    def cut(self, text: str) -> list[str]:
        """Raw tokens, punctuation and spaces included (they concatenate back to the text)."""
        if self._jieba is None:
            self.warm_up()
        if self._native is not None:
            tokens: list[str] = self._native.cut(text)
            return tokens
        if self._rjieba is None or _SURROGATE.search(text):
            return list(self._jieba.cut(text, HMM=self.hmm))
        return self._repair(text, self._rjieba.cut(text, self.hmm))

    def _repair(self, text: str, tokens: list[str]) -> list[str]:
        """jieba's own answer where jieba-rs would differ (see ``_SPLIT_CHARS`` and ``_REPEAT``)."""
        hits = [m.start() for m in _SPLIT_CHARS.finditer(text)]
        if hits:
            # only the tokens holding a split character are looked at: found by offset, not by a
            # Python loop over every token (ends is computed in C)
            ends = list(accumulate(map(len, tokens)))
            marked = sorted({bisect_right(ends, pos) for pos in hits})
            marked = [i for i in marked if len(tokens[i]) > 1]
            if marked:
                fixed: list[str] = []
                last = 0
                for i in marked:
                    fixed += tokens[last:i]
                    fixed += self._jieba_cut(tokens[i])
                    last = i + 1
                tokens = fixed + tokens[last:]
        if _REPEAT.search(text):
            tokens = self._rejieba_blocks(text, tokens)
        return tokens

    def _jieba_cut(self, piece: str) -> list[str]:
        """jieba on a short piece, memoised: the same few pieces (3.5G, 60-70, 好好好) recur everywhere."""
        cached = self._pieces.get(piece)
        if cached is None:
            if len(self._pieces) >= _PIECE_CACHE:
                self._pieces.clear()
            cached = self._pieces[piece] = list(self._jieba.cut(piece, HMM=self.hmm))
        return cached

    def _rejieba_blocks(self, text: str, tokens: list[str]) -> list[str]:
        """Blocks holding a repeated-character run, re-cut by jieba (blocks are independent in both)."""
        spans = [m.span() for m in _HAN_BLOCK.finditer(text) if _REPEAT.search(m.group())]
        out: list[str] = []
        pos, i = 0, 0
        for start, end in spans:
            while pos < start:
                out.append(tokens[i])
                pos += len(tokens[i])
                i += 1
            out.extend(self._jieba_cut(text[start:end]))
            while pos < end:
                pos += len(tokens[i])
                i += 1
        out.extend(tokens[i:])
        return out

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
        return self._content(self.cut(fold_units(text)))

    def _content(self, tokens: list[str]) -> list[str]:
        """Tokens holding a word character, lower-cased, synonyms folded (isalnum: the common case, in C)."""
        canon = self.dictionary.canonical
        return [canon(tok.lower()) for tok in tokens if tok.isalnum() or (_WORDLIKE.search(tok) and tok.strip())]

    def cut_many(self, texts: Iterable[str], *, threads: int = 1, batch: int = 128) -> list[list[str]]:
        """``cut`` for many texts: the same tokens, several times faster.

        The native engine cuts ``batch`` texts per call and releases the GIL while it cuts, so
        ``threads`` > 1 cuts batches on several cores. The jieba-rs path joins a batch's texts
        with a separator jieba treats as a block boundary and cuts them in one call (a call into
        jieba-rs costs more than the words it cuts), also without the GIL; texts it cannot take
        whole (repeated-character runs, a separator inside) are cut one by one as ``cut`` would.
        """
        items = list(texts)
        if self._jieba is None:
            self.warm_up()
        if self._native is None and self._rjieba is None:
            return [self.cut(t) for t in items]
        cut_group = self._native.cut_many if self._native is not None else self._cut_group
        groups = [items[i : i + batch] for i in range(0, len(items), batch)]
        if threads > 1 and len(groups) > 1:
            with ThreadPoolExecutor(max_workers=threads) as pool:
                parts = list(pool.map(cut_group, groups))
        else:
            parts = [cut_group(g) for g in groups]
        return [tokens for part in parts for tokens in part]

    def _cut_group(self, group: list[str]) -> list[list[str]]:
        if _BREAKS.search(whole := "".join(group)) or _SURROGATE.search(whole):
            return [cut for run in _split_at_breaks(group) for cut in (self._cut_group(run) if len(run) > 1 else [self.cut(run[0])])]
        joined = _SEP.join(group)
        tokens: list[str] = self._rjieba.cut(joined, self.hmm)
        # one scan of the batch finds the few texts needing jieba's answer (no run or split
        # character can straddle the separator), instead of two scans per text
        need: set[int] = set()
        if _NEEDS_REPAIR.search(joined):
            starts = list(accumulate((len(t) + 1 for t in group), initial=0))
            need = {bisect_right(starts, m.start()) - 1 for m in _NEEDS_REPAIR.finditer(joined)}
        cuts: list[list[str]] = []
        start, last = 0, len(group) - 1
        for n, text in enumerate(group):
            end = tokens.index(_SEP, start) if n < last else len(tokens)
            cuts.append(self._repair(text, tokens[start:end]) if n in need else tokens[start:end])
            start = end + 1
        return cuts

    def word_of(self, token: str) -> str | None:
        """The content word a raw token stands for, as ``words`` writes it; None for punctuation and space."""
        if token.isalnum() or (_WORDLIKE.search(token) and token.strip()):
            return self.dictionary.canonical(token.lower())
        return None

    def cut_joined(self, texts: list[str]) -> list[str]:
        """Raw tokens of many texts from one call, the texts' tokens separated by ``"\\n"``.

        The fastest cut, for callers that look tokens up rather than read them (static
        embeddings): units are folded per text, line breaks inside a text become spaces, and on
        the jieba-rs path jieba's repair of the rare blocks where jieba-rs cuts differently is
        skipped (the native engine needs none).
        """
        if self._jieba is None:
            self.warm_up()
        joined = _SEP.join(_BREAKS.sub(" ", fold_units(t)) for t in texts)
        if self._native is not None:
            native: list[str] = self._native.cut(joined)
            return native
        if self._rjieba is None:
            return list(self._jieba.cut(joined, HMM=self.hmm))
        tokens: list[str] = self._rjieba.cut(joined, self.hmm)
        return tokens

    def words_many(self, texts: Iterable[str], *, threads: int = 1) -> list[list[str]]:
        """``words`` for many texts, through ``cut_many``."""
        items = list(texts)
        plain = [i for i, t in enumerate(items) if "<" not in t]  # placeholders take the one-by-one path
        out: list[list[str]] = [[] for _ in items]
        cuts = self.cut_many([fold_units(items[i]) for i in plain], threads=threads)
        for i, toks in zip(plain, cuts, strict=True):
            out[i] = self._content(toks)
        for i, text in enumerate(items):
            if "<" in text:
                out[i] = self.words(text)
        return out
