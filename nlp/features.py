"""Text features for trained models: character n-grams and the project tokenizer's word n-grams, TF-IDF.

In nlp/ so that a saved model unpickles with nlp alone: the taxonomy loads what training builds.
"""

from __future__ import annotations

from typing import Any

from nlp.dictionary import TelecomDictionary
from nlp.tokenizer import Tokenizer

__all__ = ["WordNgrams", "text_features"]


class WordNgrams:
    """A picklable sklearn analyzer: jieba words (with the telecom dictionary) and word bigrams."""

    def __init__(self, dictionary: TelecomDictionary, ngram_range: tuple[int, int] = (1, 2)) -> None:
        self.dictionary = dictionary
        self.ngram_range = ngram_range
        self._tokenizer: Tokenizer | None = None

    def __call__(self, text: str) -> list[str]:
        if self._tokenizer is None:
            self._tokenizer = Tokenizer(self.dictionary)
        words = self._tokenizer.words(text)
        low, high = self.ngram_range
        return [" ".join(words[i : i + n]) for n in range(low, high + 1) for i in range(len(words) - n + 1)]

    def __getstate__(self) -> dict[str, Any]:
        return {"dictionary": self.dictionary, "ngram_range": self.ngram_range, "_tokenizer": None}


WORD_WEIGHT = 0.3  # words refine the character view; at equal weight they swamped it (5-fold CV on TipDM: 0.750 vs 0.773)


def text_features(
    dictionary: TelecomDictionary, *, words: bool = True, max_features: int | None = 200_000, min_df: int = 1, plain: bool = False
) -> Any:
    """Character 1-3-grams, plus word 1-2-grams when ``words``: a FeatureUnion of TF-IDF vectorizers.

    ``plain`` builds them from sklearn's ``TfidfVectorizer`` (the baseline); otherwise the batched
    numpy equivalents in ``nlp.ngram_tfidf`` (same numbers, several times faster to apply).
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

    from nlp.ngram_tfidf import CharNgramTfidf, WordNgramTfidf

    chars: Any = (
        TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, max_features=max_features, min_df=min_df)
        if plain
        else CharNgramTfidf((1, 3), min_df=min_df, max_features=max_features)
    )
    parts: list[tuple[str, Any]] = [("chars", chars)]
    if words:
        words_tfidf: Any = (
            TfidfVectorizer(analyzer=WordNgrams(dictionary), sublinear_tf=True, max_features=max_features, min_df=min_df)
            if plain
            else WordNgramTfidf(dictionary, (1, 2), min_df=min_df, max_features=max_features)
        )
        parts.append(("words", words_tfidf))
    weights = {"chars": 1.0, "words": WORD_WEIGHT} if words else None
    return FeatureUnion(parts, transformer_weights=weights)
