"""Tokeniser throughput on real reviews: jieba (pure Python) beside the fast path, same dictionary.

    .venv/bin/python bench/tokenizer_speed.py [--limit 62774]

Prints docs/s for jieba.cut, the fast path's cut (jieba-rs with jieba's answers on the rare
blocks where the two differ) and the fast path's words (content tokens, synonyms folded), the
ratios to jieba, and whether the tokens are identical.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nlp.dictionary import TelecomDictionary  # noqa: E402
from nlp.tokenizer import Tokenizer  # noqa: E402
from radar.settings import get_settings  # noqa: E402
from taxonomy.loader import load_taxonomy  # noqa: E402


def _texts(limit: int) -> list[str]:
    path = get_settings().shared_data / "sophonplus" / "online_shopping_10_cats.csv"
    if not path.exists():
        sys.exit(f"needs {path} (../shared/data)")
    with path.open(encoding="utf-8-sig") as fh:
        return [row["review"] or "" for row in csv.DictReader(fh)][:limit]


def _rate(fn, texts: list[str]) -> tuple[float, list[list[str]]]:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    out = [fn(t) for t in texts]
    return len(texts) / (time.perf_counter() - started), out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=62_774)
    args = parser.parse_args()
    texts = _texts(args.limit)
    tax = load_taxonomy()
    dictionary = TelecomDictionary.build(tax.dictionary_terms(), tax.synonyms)
    slow, fast = Tokenizer(dictionary, engine="jieba"), Tokenizer(dictionary)
    slow.warm_up()
    fast.warm_up()
    chars = sum(map(len, texts)) / len(texts)
    print(f"{len(texts):,} real reviews (online_shopping_10_cats), mean {chars:.0f} characters; dictionary {dictionary.version}")
    jieba_rate, jieba_tokens = _rate(slow.cut, texts)
    fast_rate, fast_tokens = _rate(fast.cut, texts)
    words_rate, _ = _rate(fast.words, texts)
    same = sum(a == b for a, b in zip(jieba_tokens, fast_tokens, strict=True))
    print(f"{'jieba.cut (pure Python)':32} {jieba_rate:>10,.0f} docs/s   1.0x")
    print(f"{'fast cut':32} {fast_rate:>10,.0f} docs/s {fast_rate / jieba_rate:>5.1f}x")
    print(f"{'fast words (filtered, folded)':32} {words_rate:>10,.0f} docs/s {words_rate / jieba_rate:>5.1f}x")
    print(f"identical tokens: {same:,} / {len(texts):,}; target >= 25x jieba")


if __name__ == "__main__":
    main()
