"""Labelling throughput without embeddings, on REAL text, beside a naive baseline in the same process.

    .venv/bin/python bench/label.py [--limit 62774] [--million]

The product path is the taxonomy's rules ensemble (Aho-Corasick over every facet, priors,
hierarchy, sentiment, abstention). The naive baseline is what a first script would do: plain
``jieba.lcut`` and a loop over every label's keywords per text. ``--million`` also streams a
1,000,000-line CSV through ``label_file`` in a child process and prints its peak RSS beside a
100,000-line run, to show memory stays flat.
"""

from __future__ import annotations

import argparse
import csv
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from radar.settings import get_settings  # noqa: E402
from taxonomy.classifiers.base import Document  # noqa: E402
from taxonomy.labeler import Labeler  # noqa: E402
from taxonomy.loader import load_taxonomy  # noqa: E402

DATA = get_settings().shared_data / "sophonplus" / "online_shopping_10_cats.csv"


def _texts(limit: int) -> list[str]:
    if not DATA.exists():
        sys.exit(f"needs {DATA}")
    with DATA.open(encoding="utf-8-sig") as fh:
        return [row["review"] or "" for row in csv.DictReader(fh)][:limit]


def naive(texts: list[str]) -> float:
    import jieba

    jieba.setLogLevel(60)
    tax = load_taxonomy()
    keywords = [(f.name, lab.name, [lab.name, *lab.keywords]) for f in tax.facets for lab in f.labels]
    jieba.lcut("预热")
    started = time.perf_counter()
    for text in texts:
        words = set(jieba.lcut(text))
        found = [(facet, name) for facet, name, kws in keywords if any(k in words or k in text for k in kws)]
        del found
    return len(texts) / (time.perf_counter() - started)


def product(texts: list[str], batch: int = 1000) -> float:
    labeler = Labeler(load_taxonomy())
    labeler.warm_up()
    started = time.perf_counter()
    for i in range(0, len(texts), batch):
        labeler.run_many([Document(t) for t in texts[i : i + batch]])
    return len(texts) / (time.perf_counter() - started)


def _child_rss(src: Path, dst: Path, workers: int = 1) -> tuple[float, float]:
    code = (
        "import resource, sys, time; from pathlib import Path; from api.label_file import label_file; "
        "from taxonomy.labeler import Labeler; from taxonomy.loader import load_taxonomy; lab = Labeler(load_taxonomy()); "
        "t = time.perf_counter(); "  # timed like the in-process runs: after the taxonomy is loaded, workers' start-up included
        f"r = label_file(Path({str(src)!r}), Path({str(dst)!r}), lab, text_col='review', workers={workers}); "
        "print(r.rows / (time.perf_counter() - t), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path(__file__).parent.parent)
    rate, rss = out.stdout.split()
    return float(rate), float(rss)


def _write_csv(path: Path, texts: list[str], n: int) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "review"])
        for i in range(n):
            writer.writerow([i, texts[i % len(texts)]])
    return path


def label_file_runs(texts: list[str], base: float) -> None:
    """End to end: read the CSV, label, write JSONL; 1 and 2 worker processes."""
    with tempfile.TemporaryDirectory() as tmp:
        src = _write_csv(Path(tmp) / "in.csv", texts, len(texts))
        for workers in (1, 2):
            rate, rss = _child_rss(src, Path(tmp) / "out.jsonl", workers)
            label = f"label-file, {workers} worker{'s' if workers > 1 else ''}"
            print(f"{label:36} {rate:>9,.0f} docs/s {rate / base:>5.1f}x   peak RSS {rss:,.0f} MB (main process)")


def memory_flat(texts: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for n in (100_000, 1_000_000):
            src = _write_csv(Path(tmp) / f"in-{n}.csv", texts, n)
            rate, rss = _child_rss(src, Path(tmp) / "out.jsonl")
            print(f"label-file {n:>9,} lines: {rate:>8,.0f} docs/s, peak RSS {rss:,.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=62_774)
    parser.add_argument("--million", action="store_true")
    args = parser.parse_args()
    texts = _texts(args.limit)
    print(f"{len(texts):,} real reviews (online_shopping_10_cats), no embeddings")
    base = naive(texts)
    ours = product(texts)
    print(f"{'naive: jieba.lcut + keyword loop':36} {base:>9,.0f} docs/s   1.0x")
    print(f"{'radar labeler (rules ensemble)':36} {ours:>9,.0f} docs/s {ours / base:>5.1f}x   target >= 3,000 docs/s and >= 10x")
    label_file_runs(texts, base)
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")
    if args.million:
        memory_flat(texts)


if __name__ == "__main__":
    main()
