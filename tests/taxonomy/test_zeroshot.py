from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from taxonomy.classifiers.base import Document
from taxonomy.classifiers.zeroshot import ZeroShotClassifier, _softmax, fit_temperature
from taxonomy.importers import taxonomy_from_levels_csv
from taxonomy.labeler import Labeler
from taxonomy.loader import load_taxonomy, parse_taxonomy
from tests.conftest import shared_file


class CharEmbedder:
    """A deterministic bag-of-characters embedder: enough to test the classifier's arithmetic."""

    name = "chars"
    dim = 64

    def warm_up(self) -> None:
        pass

    def embed(self, texts: Sequence[str], kind: str = "passage") -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for ch in text:
                out[i, ord(ch) % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1, norms)


TAX = parse_taxonomy(
    {
        "version": "t1",
        "facets": [
            {
                "name": "topic",
                "labels": [
                    {"id": "net", "name": "网络", "description": "信号差 掉线 网速慢", "examples": ["信号差掉线", "网速太慢"]},
                    {"id": "fee", "name": "费用", "description": "扣费 话费 账单", "examples": ["多扣话费", "账单不对"]},
                    {"id": "hall", "name": "营业厅", "description": "排队 窗口 营业员", "examples": ["排队太久", "窗口太少"]},
                ],
            }
        ],
    }
)


def test_nearest_label_wins_with_evidence() -> None:
    clf = ZeroShotClassifier(TAX, CharEmbedder(), facets=["topic"], min_probability=0.0)
    cands = clf.run(Document("网速慢还掉线"))
    assert cands[0].label_id == "net" and cands[0].source == "zero_shot"
    assert cands[0].evidence and cands[0].evidence[0].start == -1  # evidence names the example it was closest to


def test_probabilities_are_a_distribution() -> None:
    clf = ZeroShotClassifier(TAX, CharEmbedder(), facets=["topic"])
    sims = clf.similarities(["多扣了话费", "排队"], "topic")
    probs = _softmax(sims, 0.05)
    assert np.allclose(probs.sum(axis=1), 1.0) and (probs >= 0).all()


def test_fit_temperature_recovers_a_sharp_one_for_clean_data() -> None:
    rng = np.random.default_rng(0)
    gold = rng.integers(0, 3, 300)
    sims = rng.normal(0, 0.01, (300, 3))
    sims[np.arange(300), gold] += 0.05  # clearly separated
    noisy = rng.normal(0, 0.05, (300, 3))
    noisy[np.arange(300), gold] += 0.01  # barely separated
    assert fit_temperature(sims, list(gold)) < fit_temperature(noisy, list(gold))


def test_backup_only_where_rules_are_unsure() -> None:
    tax = load_taxonomy()
    ens = Labeler(tax, backups=[ZeroShotClassifier(tax, CharEmbedder(), facets=["intent"], min_probability=0.0)])
    sure, unsure = ens.run_many([Document("请问5G套餐多少钱", source="forum"), Document("嗯嗯", source="forum")])
    assert sure.labels["intent"][0].source == "rules"  # the rules were confident: no zero-shot vote
    assert "zero_shot" in unsure.labels["intent"][0].source or "intent" in unsure.needs_review


def test_levelled_label_table_becomes_a_taxonomy(tmp_path: Path) -> None:
    table = tmp_path / "levels.csv"
    table.write_text(
        "一级分类,二级分类,三级分类\n交通运输,出租车管理,网约车问题\n交通运输,出租车管理,运价监管\n环境保护,噪音污染,施工噪音\n",
        encoding="utf-8",
    )
    tax = taxonomy_from_levels_csv(table)
    facet = tax.facet("category")
    paths = sorted(facet.path(lab.id) for lab in facet.labels)
    assert paths == ["交通运输", "交通运输/出租车管理", "环境保护", "环境保护/噪音污染"]
    taxi = next(lab for lab in facet.labels if lab.name == "出租车管理")
    assert {"网约车问题", "运价监管"} <= set(taxi.keywords)


def test_real_label_table_loads() -> None:
    tax = taxonomy_from_levels_csv(shared_file("tipdm2020_gov/label_taxonomy_3level.csv"))
    tops = {lab.name for lab in tax.facet("category").labels if lab.parent is None}
    assert {"城乡建设", "环境保护", "交通运输", "教育文体", "劳动和社会保障", "商贸旅游", "卫生计生"} <= tops
