"""Tokeniser throughput on real reviews: jieba (pure Python) beside the native and jieba-rs engines, same dictionary.

    .venv/bin/python bench/tokenizer_speed.py [--limit 62774]

Prints docs/s for jieba.cut, the native engine (jieba's algorithm in C, nlp/_native/jiebac.c),
the jieba-rs path (jieba-rs with jieba's answers on the rare blocks where the two differ) and
words (content tokens, synonyms folded), each one by one, batched on 1 thread and on 2, the
ratios to jieba, whether the tokens are identical, and PASS/FAIL of the native rows against the
25x target.
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

TARGET = 25.0


def _texts(limit: int) -> list[str]:
    path = get_settings().shared_data / "sophonplus" / "online_shopping_10_cats.csv"
    if not path.exists():
        sys.exit(f"needs {path} (../shared/data)")
    with path.open(encoding="utf-8-sig") as fh:
        return [row["review"] or "" for row in csv.DictReader(fh)][:limit]


def _rate(fn, texts: list[str], chunk: int = 2_000) -> tuple[float, list[int]]:  # type: ignore[no-untyped-def]
    """docs/s of ``fn`` over chunks of texts, best of three passes; outputs are reduced to one hash
    per text and dropped, so allocation and garbage collection of millions of kept tokens do not
    swamp the figure (they did: the same run varied 2x)."""
    best, digests = 0.0, []
    for _ in range(3):
        digests = []
        started = time.perf_counter()
        for i in range(0, len(texts), chunk):
            digests.extend(hash(tuple(toks)) for toks in fn(texts[i : i + chunk]))
        best = max(best, len(texts) / (time.perf_counter() - started))
    return best, digests


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=62_774)
    args = parser.parse_args()
    texts = _texts(args.limit)
    tax = load_taxonomy()
    dictionary = TelecomDictionary.build(tax.dictionary_terms(), tax.synonyms)
    slow, fast, native = Tokenizer(dictionary, engine="jieba"), Tokenizer(dictionary, engine="fast"), Tokenizer(dictionary)
    if native.active_engine != "native":
        sys.exit("nlp._jiebac is not built: pip install -e .")
    slow.warm_up()
    fast.warm_up()
    chars = sum(map(len, texts)) / len(texts)
    print(f"{len(texts):,} real reviews (online_shopping_10_cats), mean {chars:.0f} characters; dictionary {dictionary.version}")
    runs = {
        "jieba.cut (pure Python)": lambda ts: [slow.cut(t) for t in ts],
        "fast cut, one by one": lambda ts: [fast.cut(t) for t in ts],
        "fast cut_many, 1 thread": lambda ts: fast.cut_many(ts),
        "fast cut_many, 2 threads": lambda ts: fast.cut_many(ts, threads=2),
        "fast words_many, 2 threads": lambda ts: fast.words_many(ts, threads=2),
        "native cut, one by one": lambda ts: [native.cut(t) for t in ts],
        "native cut_many, 1 thread": lambda ts: native.cut_many(ts),
        "native cut_many, 2 threads": lambda ts: native.cut_many(ts, threads=2),
        "native words_many, 2 threads": lambda ts: native.words_many(ts, threads=2),
    }
    base, reference, verdicts = 0.0, [], []
    for name, fn in runs.items():
        rate, digests = _rate(fn, texts)
        base, reference = (rate, digests) if not base else (base, reference)
        same = "" if "words" in name else f"identical to jieba: {sum(a == b for a, b in zip(reference, digests, strict=True)):,}"
        verdict = ""
        if name.startswith("native cut"):
            verdict = "PASS" if rate / base >= TARGET and same.endswith(f"{len(texts):,}") else "FAIL"
            verdicts.append(verdict)
        print(f"{name:30} {rate:>9,.0f} docs/s {rate / base:>5.1f}x   {verdict:4} {same}")
    print(f"target >= {TARGET:.0f}x jieba with identical tokens: {'PASS' if set(verdicts) == {'PASS'} else 'FAIL'}")


if __name__ == "__main__":
    main()
