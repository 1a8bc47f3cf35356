"""Stopwords: a small built-in list plus the shared lists when they are available."""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

__all__ = ["BUILTIN_STOPWORDS", "load_stopwords"]

logger = logging.getLogger(__name__)

# Function words and call-centre fillers that carry no demand; written for this product.
BUILTIN_STOPWORDS = frozenset(
    """的 了 是 在 我 你 他 她 它 们 我们 你们 他们 这 那 这个 那个 就 都 也 还 又 和 与 及 或 而 但 但是
    吧 吗 呢 啊 呀 哦 嗯 呃 哎 唉 哈 嘛 啦 么 着 过 给 把 被 让 从 对 向 到 于 为 以 之 其 所 如果 因为 所以
    一个 一下 一些 什么 怎么 怎么样 为什么 哪 哪里 哪个 有 没 没有 不 很 太 挺 再 才 已经 可以 能 会 要 想
    您好 你好 请问 谢谢 好的 好 对 是的 然后 那么 这样 那样 就是 还是 还有 现在 时候 一直 这边 那边 的话""".split()
)


@lru_cache(maxsize=4)
def load_stopwords(folder: Path | None) -> frozenset[str]:
    """Built-in stopwords, merged with every ``*.txt`` list in ``folder`` if it exists."""
    words = set(BUILTIN_STOPWORDS)
    if folder is not None and folder.is_dir():
        for path in sorted(folder.glob("*_stopwords.txt")):
            words.update(w.strip() for w in path.read_text(encoding="utf-8", errors="ignore").splitlines() if w.strip())
    elif folder is not None:
        logger.info("stopword folder %s not found; using the built-in list only", folder)
    return frozenset(words)
