"""Keywords: TF-IDF against a corpus's document frequencies, and TextRank over one text.

Both take content words (``Tokenizer.words``), so the telecom dictionary and synonym folding
apply: 移动数据 and 流量 count as one keyword. Stopwords, numbers, placeholders and single
characters are never keywords.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from nlp.stopwords import BUILTIN_STOPWORDS

__all__ = ["IdfTable", "candidate_words", "textrank", "tfidf"]

# numbers, amounts and volumes (38元, 十八块, 3gb; a bare 5g is the network and stays), placeholders, letters, punctuation
_NOT_KEYWORD = re.compile(r"^(?:[\d.%零一二两三四五六七八九十百千万]+(?:元|块钱?|毛|角|个|号|gb|mb|兆|%)?|<.*>|[a-z]|[^\w]+)$")


def candidate_words(words: Iterable[str], stopwords: frozenset[str] = BUILTIN_STOPWORDS) -> list[str]:
    """Words that may be keywords: two characters or more, not a stopword, number or placeholder."""
    return [w for w in words if len(w) > 1 and w not in stopwords and not _NOT_KEYWORD.match(w)]


@dataclass
class IdfTable:
    """Document frequencies of a corpus. ``idf`` is smoothed (``ln((N + 1) / (df + 1)) + 1``), so a
    word the corpus never saw scores as the rarest possible word rather than failing."""

    docs: int = 0
    df: dict[str, int] = field(default_factory=dict)

    @classmethod
    def fit(cls, corpus: Iterable[Sequence[str]]) -> IdfTable:
        table = cls()
        counts: Counter[str] = Counter()
        for words in corpus:
            table.docs += 1
            counts.update(set(words))
        table.df = dict(counts)
        return table

    def idf(self, word: str) -> float:
        return math.log((self.docs + 1) / (self.df.get(word, 0) + 1)) + 1.0


def tfidf(
    words: Sequence[str],
    idf: Callable[[str], float] | IdfTable,
    *,
    top: int = 10,
    stopwords: frozenset[str] = BUILTIN_STOPWORDS,
) -> list[tuple[str, float]]:
    """The ``top`` words by term frequency times inverse document frequency, best first."""
    lookup = idf.idf if isinstance(idf, IdfTable) else idf
    counts = Counter(candidate_words(words, stopwords))
    if not counts:
        return []
    total = sum(counts.values())
    scored = [(w, (n / total) * lookup(w)) for w, n in counts.items()]
    return sorted(scored, key=lambda ws: (-ws[1], ws[0]))[:top]


def textrank(
    words: Sequence[str],
    *,
    top: int = 10,
    window: int = 5,
    damping: float = 0.85,
    iterations: int = 50,
    tolerance: float = 1e-6,
    stopwords: frozenset[str] = BUILTIN_STOPWORDS,
) -> list[tuple[str, float]]:
    """TextRank (Mihalcea and Tarau, 2004): PageRank over a graph linking words that occur within
    ``window`` words of each other; scores are normalised so the best word has 1.0."""
    seq = candidate_words(words, stopwords)
    graph = _cooccurrence(seq, window)
    if not graph:
        return [(seq[0], 1.0)] if seq else []
    rank = _pagerank(graph, damping, iterations, tolerance)
    best = max(rank.values())
    ranked = sorted(((w, s / best) for w, s in rank.items()), key=lambda ws: (-ws[1], ws[0]))
    return ranked[:top]


def _cooccurrence(seq: Sequence[str], window: int) -> dict[str, dict[str, float]]:
    graph: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for i, word in enumerate(seq):
        for other in seq[i + 1 : i + window]:
            if other != word:
                graph[word][other] += 1.0
                graph[other][word] += 1.0
    return graph


def _pagerank(graph: Mapping[str, Mapping[str, float]], damping: float, iterations: int, tolerance: float) -> dict[str, float]:
    nodes = sorted(graph)  # sorted: the same text always gives the same scores
    rank = dict.fromkeys(nodes, 1.0 / len(nodes))
    out_weight = {n: sum(graph[n].values()) for n in nodes}
    for _ in range(iterations):
        new = {n: (1 - damping) / len(nodes) + damping * sum(rank[m] * w / out_weight[m] for m, w in graph[n].items()) for n in nodes}
        delta = sum(abs(new[n] - rank[n]) for n in nodes)
        rank = new
        if delta < tolerance:
            break
    return rank
