"""Proposal clustering at scale: ``radar proposals build`` on a copy of a bench store, with the
approximate candidate path (the default) and, as the baseline, exact comparison with every centroid.

    .venv/bin/python bench/clustering.py --db /tmp/radar-bench/search/bench-100000-static.db \
        [--modes approx exact] [--scratch /tmp/radar-bench/clustering] [--keep] [--exact-from KEPT.db]

The stores come from ``bench/search.py`` (real sentences from ../shared/data, labelled by the
product, every record embedded by the chosen encoder, vectors in the store's embedding cache).
Each mode copies the store (and its keyword side files) to the scratch directory and runs the
whole build there in a child process of its own: judging every record (需求过滤), clustering all
demands, drafting proposals. The encoder is the store's (``--embedder``, default ``static``),
read from the cache as the product does.

Prints per mode: wall seconds, the child's peak RSS, demands, clusters, themes, outliers, drafted
proposals; and, with both modes, how far the approximate clusters are from the exact ones: the
pair F1 (record pairs put together by one, by the other, and by both), the B-cubed F1 (per record:
how much of its cluster in one is its cluster in the other) and the share of records whose cluster
is the same. Exact costs records x clusters: at 1,000,000 it is not run (use
``--modes approx``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
EXACT = 10**9  # an exact limit no run reaches


def _child(db: str, limit: int) -> None:
    """Runs in the child: the build through the CLI, then its own peak RSS."""
    import yaml

    from api.cli import app
    from insights.demand.config import load_proposal_config

    config = load_proposal_config()
    path = Path(db + ".proposals.yaml")
    data = config.model_dump()
    data["clustering"]["exact_limit"] = limit
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    try:
        app(["proposals", "build", "--db", db, "--config", str(path), "--json"], standalone_mode=False)
    finally:
        print(json.dumps({"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def _run(source: Path, scratch: Path, mode: str, embedder: str) -> tuple[dict, Path]:
    target = scratch / f"{mode}.db"
    for suffix in ("", "-wal", "-shm", ".keywords"):
        old = Path(str(target) + suffix)
        shutil.rmtree(old) if old.is_dir() else old.unlink(missing_ok=True)
    shutil.copyfile(source, target)
    if Path(str(source) + ".keywords").is_dir():
        shutil.copytree(str(source) + ".keywords", str(target) + ".keywords")
    limit = EXACT if mode == "exact" else 4096
    env = {**os.environ, "RADAR_EMBEDDER": embedder}
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(target), "--limit", str(limit)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if out.returncode:
        raise SystemExit(f"{mode} failed:\n{out.stderr[-3000:]}")
    docs = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    report = {k: v for d in docs for k, v in d.items()}
    report["wall_s"] = round(seconds, 1)
    return report, target


def _assignment(db: Path) -> dict[str, str]:
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        return dict(conn.execute("SELECT record_id, cluster_id FROM demand_members"))
    finally:
        conn.close()


def _pairs(sizes: Counter[object]) -> int:
    return sum(n * (n - 1) // 2 for n in sizes.values())


def compare(exact: dict[str, str], approx: dict[str, str]) -> dict[str, float]:
    """Pair F1 from the contingency table (no pair is enumerated; big clusters weigh quadratically),
    B-cubed F1 (per record, so a record counts once whatever its cluster's size), and the share of
    records in a cluster of the same id."""
    common = exact.keys() & approx.keys()
    both = _pairs(Counter((exact[r], approx[r]) for r in common))
    together_exact = _pairs(Counter(exact[r] for r in common))
    together_approx = _pairs(Counter(approx[r] for r in common))
    same = sum(exact[r] == approx[r] for r in common)
    joint = Counter((exact[r], approx[r]) for r in common)
    size_exact, size_approx = Counter(exact[r] for r in common), Counter(approx[r] for r in common)
    # B-cubed: per record, the share of its cluster in one that is also in its cluster in the other
    b3_precision = sum(n * n / size_approx[a] for (_, a), n in joint.items()) / max(1, len(common))
    b3_recall = sum(n * n / size_exact[e] for (e, _), n in joint.items()) / max(1, len(common))
    return {
        "records": len(common),
        "bcubed_f1": round(2 * b3_precision * b3_recall / max(1e-9, b3_precision + b3_recall), 4),
        "pair_precision": round(both / max(1, together_approx), 4),
        "pair_recall": round(both / max(1, together_exact), 4),
        "pair_f1": round(2 * both / max(1, together_exact + together_approx), 4),
        "same_cluster_id": round(same / max(1, len(common)), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path)
    parser.add_argument("--modes", nargs="+", default=["approx", "exact"], choices=["approx", "exact"])
    parser.add_argument("--scratch", type=Path, default=Path("/tmp/radar-bench/clustering"))
    parser.add_argument("--embedder", default="static")
    parser.add_argument("--keep", action="store_true", help="keep the scratch stores")
    parser.add_argument("--exact-from", type=Path, help="an exact run's kept store (--keep): compare with it instead of running exact")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--limit", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return _child(args.child, args.limit)
    if args.db is None or not args.db.exists():
        raise SystemExit(f"no store at {args.db}: build one with bench/search.py --sizes N --embedder static --real-vectors N")
    args.scratch.mkdir(parents=True, exist_ok=True)
    results, stores = {}, {}
    for mode in args.modes:
        results[mode], stores[mode] = _run(args.db, args.scratch, mode, args.embedder)
        print(f"{mode:>6}: " + json.dumps(results[mode], ensure_ascii=False), flush=True)
    if {"approx", "exact"} <= results.keys():
        e, a = results["exact"], results["approx"]
        print("approx vs exact (baseline): " + json.dumps(compare(_assignment(stores["exact"]), _assignment(stores["approx"]))))
        print(f"time approx/exact: {a['wall_s'] / e['wall_s']:.2f}; peak RSS approx/exact: {a['peak_rss_mb'] / e['peak_rss_mb']:.2f}")
    elif args.exact_from and "approx" in results:
        figures = compare(_assignment(args.exact_from), _assignment(stores["approx"]))
        print(f"approx vs exact (kept at {args.exact_from}): " + json.dumps(figures))
    if not args.keep:
        for path in stores.values():
            for suffix in ("", "-wal", "-shm", ".proposals.yaml"):
                Path(str(path) + suffix).unlink(missing_ok=True)
            shutil.rmtree(str(path) + ".keywords", ignore_errors=True)


if __name__ == "__main__":
    main()
