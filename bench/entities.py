"""Entity extraction throughput on real reviews: the spaCy pipeline beside its character patterns alone.

    .venv/bin/python bench/entities.py [--limit 10000]

Prints docs/s for ``EntityExtractor.run_many`` (jieba tokens -> spaCy Doc -> EntityRuler ->
numeric patterns) and for ``find_numeric`` alone, and the entity counts per label.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nlp.entities import find_numeric  # noqa: E402
from radar.settings import get_settings  # noqa: E402
from taxonomy.entities import entity_extractor  # noqa: E402
from taxonomy.loader import load_taxonomy  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=10_000)
    args = parser.parse_args()
    path = get_settings().shared_data / "sophonplus" / "online_shopping_10_cats.csv"
    if not path.exists():
        sys.exit(f"needs {path}")
    with path.open(encoding="utf-8-sig") as fh:
        texts = [row["review"] or "" for row in csv.DictReader(fh)][: args.limit]
    extractor = entity_extractor(load_taxonomy())
    started = time.perf_counter()
    extractor.warm_up()
    print(f"warm-up (spaCy, jieba, {len(extractor._patterns()):,} patterns): {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    found = extractor.run_many(texts)
    rate = len(texts) / (time.perf_counter() - started)
    started = time.perf_counter()
    for text in texts:
        find_numeric(text)
    numeric = len(texts) / (time.perf_counter() - started)
    print(f"{len(texts):,} real reviews (online_shopping_10_cats)")
    print(f"{'spaCy pipeline (run_many)':28} {rate:>9,.0f} docs/s")
    print(f"{'numeric patterns alone':28} {numeric:>9,.0f} docs/s")
    counts = Counter(e.label for ents in found for e in ents)
    print("entities: " + ", ".join(f"{label} {n:,}" for label, n in counts.most_common()))


if __name__ == "__main__":
    main()
