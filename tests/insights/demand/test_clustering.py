from __future__ import annotations

import numpy as np

from insights.demand.clustering import Clusterer, ClusterParams, ClusterState, cluster_id_for, vectorize

# pre-cut words (spaces), so these tests exercise the clustering, not a tokenizer
THEMES = {
    "宽带": ["家里 宽带 经常 断网 晚上", "宽带 断网 好几天 晚上 用不了", "家里 宽带 晚上 老是 断网", "宽带 晚上 总是 断网 影响"],
    "营业厅": ["营业厅 排队 一个 小时", "周末 营业厅 排队 太久", "营业厅 排队 时间 太长 窗口", "营业厅 排队 一个多 小时"],
    "流量": ["流量 没用完 扣费 流量费", "流量包 没用完 为什么 扣费", "流量 没用完 也 被 扣费", "流量 剩 很多 额外 扣费"],
}


def _items(texts: list[str]) -> list[tuple[list[str], str]]:
    return [(t.split(), t.replace(" ", "")) for t in texts]


def _corpus() -> tuple[list[str], list[str]]:
    ids, texts = [], []
    for n in range(4):
        for theme, variants in THEMES.items():
            ids.append(f"{theme}-{n}")
            texts.append(variants[n])
    return ids, texts


def test_themes_become_clusters_and_ids_are_deterministic() -> None:
    ids, texts = _corpus()
    vectors = vectorize(_items(texts))
    first, second = ClusterState(), ClusterState()
    Clusterer().run(first, ids, vectors)
    Clusterer().run(second, ids, vectors)
    assert first.assignment == second.assignment
    for theme in THEMES:
        members = {first.assignment[f"{theme}-{n}"] for n in range(4)}
        assert members == {cluster_id_for(f"{theme}-0")}  # one cluster, named after its first record
    assert len(first.themes(3)) == 3 and first.outliers(3) == []


def test_incremental_runs_keep_ids_and_new_records_join() -> None:
    ids, texts = _corpus()
    vectors = vectorize(_items(texts))
    state = ClusterState()
    clusterer = Clusterer(ClusterParams(batch=4))
    clusterer.run(state, ids[:6], vectors[:6])
    before = {cid: list(c.members) for cid, c in state.clusters.items()}
    events = clusterer.run(state, ids[6:], vectors[6:])
    for cid, members in before.items():
        assert cid in state.clusters and state.clusters[cid].members[: len(members)] == members
    assert not [e for e in events if e.kind == "new"]  # everything later joined an existing theme
    whole = ClusterState()
    Clusterer(ClusterParams(batch=4)).run(whole, ids, vectors)
    assert whole.assignment == state.assignment


def test_outliers_are_reported_not_forced_into_themes() -> None:
    ids, texts = _corpus()
    ids.append("odd")
    texts.append("请问 国际漫游 怎么 开通")
    state = ClusterState()
    Clusterer().run(state, ids, vectorize(_items(texts)))
    assert state.outliers(3) == ["odd"]


def test_near_identical_clusters_merge_and_the_merge_is_recorded() -> None:
    texts = ["宽带 断网 晚上", "宽带 断网 晚上 严重", "营业厅 排队", "宽带 断网 晚上 很慢"]
    ids = ["a", "b", "c", "d"]
    state = ClusterState()
    events = Clusterer(ClusterParams(join=0.99, merge=0.5, batch=1)).run(state, ids, vectorize(_items(texts)))
    merges = [e for e in events if e.kind == "merge"]
    assert merges and state.assignment["a"] == state.assignment["b"] == state.assignment["d"] != state.assignment["c"]
    assert all(e.other_id not in state.clusters for e in merges)


def test_embeddings_join_paraphrases_that_share_no_words(e5) -> None:  # type: ignore[no-untyped-def]
    from insights.demand.clustering import combine

    texts = ["手机 上网 太慢", "网速 特别 卡 视频 加载 不 出来", "营业厅 排队 很久", "营业厅 排队 一个 小时"]
    corpus = [
        "套餐资费太贵了",
        "积分怎么兑换话费",
        "国际漫游怎么开通",
        "宽带安装要多久",
        "客服态度很差",
        "流量包被多扣费",
        "想办理副卡",
        "5G套餐有什么优惠",
        "信号不好经常掉线",
        "携号转网怎么办理",
        "话费账单有问题",
        "营销短信太多了",
    ]
    ids = ["a", "b", "c", "d"]
    lexical = vectorize(_items(texts))
    params = ClusterParams(join=0.1, merge=0.9)
    alone = ClusterState()
    Clusterer(params).run(alone, ids, lexical)
    assert alone.assignment["a"] != alone.assignment["b"]  # no shared word: apart on words alone
    plain = [t.replace(" ", "") for t in texts]
    center = e5.embed(plain + corpus).mean(axis=0)  # E5 similarities are compressed: centre on a corpus mean
    both = ClusterState()
    Clusterer(params).run(both, ids, combine(lexical, e5.embed(plain), 0.7, center))
    assert both.assignment["a"] == both.assignment["b"] and both.assignment["c"] == both.assignment["d"]
    assert both.assignment["a"] != both.assignment["c"]


def test_a_bad_proposal_config_has_a_code(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pytest

    from insights.demand.config import load_proposal_config
    from radar.errors import InsightsError

    bad = tmp_path / "proposals.yaml"
    bad.write_text("version: x\nclustering: {join: 1.5}\n", encoding="utf-8")
    with pytest.raises(InsightsError) as err:
        load_proposal_config(bad)
    assert err.value.code == "E406" and "clustering.join" in err.value.message


def _themed_corpus(themes: int = 40, per_theme: int = 25, seed: int = 0) -> tuple[list[str], list[tuple[list[str], str]], list[int]]:
    """Texts from word pools: each theme has its own words, every text also draws shared filler."""
    import random

    rng = random.Random(seed)
    filler = [f"常用{i}" for i in range(60)]
    ids, items, truth = [], [], []
    order = [(t, n) for n in range(per_theme) for t in range(themes)]
    rng.shuffle(order)
    for k, (t, _) in enumerate(order):
        words = rng.sample([f"主题{t}词{j}" for j in range(8)], 4) + rng.sample(filler, 2)
        ids.append(f"r{k:05d}")
        items.append((words, ""))
        truth.append(t)
    return ids, items, truth


def _pair_f1(a: dict[str, str], b: dict[str, str]) -> float:
    """F1 of the record pairs one clustering puts together against the other's (self-pairs aside)."""
    ids = sorted(a)
    together_a = np.array([[a[x] == a[y] for y in ids] for x in ids]) & ~np.eye(len(ids), dtype=bool)
    together_b = np.array([[b[x] == b[y] for y in ids] for x in ids]) & ~np.eye(len(ids), dtype=bool)
    both = float((together_a & together_b).sum())
    return 2 * both / max(1.0, float(together_a.sum() + together_b.sum()))


def test_the_approximate_path_agrees_with_exact_and_is_deterministic() -> None:
    ids, items, truth = _themed_corpus()
    vectors = vectorize(items)
    exact, approx, again = ClusterState(), ClusterState(), ClusterState()
    Clusterer(ClusterParams(batch=32)).run(exact, ids, vectors)
    Clusterer(ClusterParams(batch=32, exact_limit=8)).run(approx, ids, vectors)
    Clusterer(ClusterParams(batch=32, exact_limit=8)).run(again, ids, vectors)
    assert approx.candidates is not None and exact.candidates is None  # the index served the approximate run
    assert approx.assignment == again.assignment
    assert _pair_f1(exact.assignment, approx.assignment) > 0.95
    by_theme = {}
    for rid, t in zip(ids, truth, strict=True):
        by_theme.setdefault(t, set()).add(approx.assignment[rid])
    assert sum(len(c) == 1 for c in by_theme.values()) >= 36  # themes stay whole


def test_chunked_assignment_equals_one_run() -> None:
    ids, items, _ = _themed_corpus(themes=12, per_theme=10, seed=3)
    vectors = vectorize(items)
    params = ClusterParams(batch=8, exact_limit=4)
    whole = ClusterState()
    Clusterer(params).run(whole, ids, vectors)
    chunked, clusterer, touched = ClusterState(), Clusterer(params), set()
    for start in range(0, len(ids), 24):  # a multiple of the batch
        clusterer.assign(chunked, ids[start : start + 24], vectors[start : start + 24], touched)
    clusterer.settle(chunked, touched, lambda rids: vectors[[ids.index(r) for r in rids]])
    assert chunked.assignment == whole.assignment


def test_merges_are_found_among_approximate_neighbours_too() -> None:
    texts = ["宽带 断网 晚上", "宽带 断网 晚上 严重", "营业厅 排队", "宽带 断网 晚上 很慢", "营业厅 排队 很久"]
    ids = ["a", "b", "c", "d", "e"]
    state = ClusterState()
    events = Clusterer(ClusterParams(join=0.99, merge=0.5, batch=1, exact_limit=1)).run(state, ids, vectorize(_items(texts)))
    assert [e for e in events if e.kind == "merge"]
    assert state.assignment["a"] == state.assignment["b"] == state.assignment["d"] != state.assignment["c"] == state.assignment["e"]


def test_a_cluster_that_drifted_apart_is_split_and_only_it_is_loaded() -> None:
    # two themes that share one word: a low join threshold lets them into one cluster
    left = ["共同 宽带 断网 晚上", "共同 宽带 断网 严重", "共同 宽带 断网 很慢", "共同 宽带 晚上 断网"]
    right = ["共同 营业厅 排队 很久", "共同 营业厅 排队 小时", "共同 营业厅 排队 太长", "共同 营业厅 窗口 排队"]
    tight = ["流量 扣费 多扣", "流量 扣费 多扣 了", "流量 扣费 又 多扣", "流量 多扣 扣费", "流量 扣费 多扣 啊", "流量 扣费 多扣 呢"]
    texts = [t for pair in zip(left, right, strict=True) for t in pair] + tight
    ids = [f"x{i}" for i in range(len(texts))]
    vectors = vectorize(_items(texts))
    params = ClusterParams(join=0.05, merge=0.99, split_cohesion=0.75, min_size=2, batch=64)
    clusterer, state, touched = Clusterer(params), ClusterState(), set()
    clusterer.assign(state, ids[:8], vectors[:8], touched)
    clusterer.assign(state, ids[8:], vectors[8:], set())  # the tight theme: its own cluster, not in touched
    loaded: list[list[str]] = []

    def loader(rids: list[str]):  # type: ignore[no-untyped-def]
        loaded.append(rids)
        return vectors[[ids.index(r) for r in rids]]

    assert len({state.assignment[i] for i in ids[:8]}) == 1
    events = clusterer.settle(state, touched | {state.assignment["x8"]}, loader)
    assert [e.kind for e in events] == ["split"]
    assert {state.assignment[i] for i in ids[0:8:2]} != {state.assignment[i] for i in ids[1:8:2]}
    assert len({state.assignment[i] for i in ids[0:8:2]}) == len({state.assignment[i] for i in ids[1:8:2]}) == 1
    assert loaded == [ids[:8]]  # the cohesive cluster was screened out without loading its members


def test_a_centroid_scores_rows_by_lookup_as_the_product_does() -> None:
    from scipy import sparse

    from insights.demand.clustering import Cluster

    _, items, _ = _themed_corpus(themes=5, per_theme=8, seed=5)
    vectors = vectorize(items)
    cluster = Cluster("K1", sparse.csr_matrix(vectors[:20].sum(axis=0)), [])
    centroid = cluster.total / np.sqrt(cluster.total.multiply(cluster.total).sum())
    expected = (vectors @ centroid.T).toarray().ravel()
    rows = [0, 3, 21, 39, 7]
    assert np.allclose(cluster.dot(vectors, rows), expected[rows])
    assert np.ptp(expected[rows]) > 0.1  # rows in and out of the theme: the lookups could disagree


_VECTORIZE_IN_A_CHILD = """
import json, sys
from insights.demand.clustering import vectorize
words = json.loads(sys.argv[1])
row = vectorize([(words, "")], lambda w: 1.0 + words.index(w))
print(json.dumps([row.indices.tolist(), [round(float(x), 12) for x in row.data]]))
"""


def test_a_vector_is_the_same_in_every_process_even_when_words_share_a_column() -> None:
    """String hashing is salted per process, so a set's order changes between processes; two words
    hashed to one column must not make the vector depend on it."""
    import json
    import os
    import subprocess
    import sys

    from insights.demand.clustering import _feature_index

    seen: dict[int, str] = {}
    pair: list[str] = []
    for i in range(100_000):  # the birthday bound of 2^18 columns: a collision comes within a few thousand
        word = f"词{i}"
        column = _feature_index("w:" + word)
        if column in seen:
            pair = [seen[column], word]
            break
        seen[column] = word
    assert pair, "no two words share a column"
    words = [*pair, "其他"]
    outputs = {
        subprocess.run(
            [sys.executable, "-c", _VECTORIZE_IN_A_CHILD, json.dumps(words)],
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in range(1, 7)
    }
    assert len(outputs) == 1, outputs


def test_a_replaced_total_is_freed_and_the_norm_follows_the_new_one() -> None:
    import gc
    import weakref

    from insights.demand.clustering import Cluster

    rows = vectorize(_items(["宽带 断网 晚上", "流量 扣费"]))
    cluster = Cluster("K1", rows[0].copy(), ["a"])
    assert abs(cluster.norm() - 1.0) < 1e-6
    old = weakref.ref(cluster.total)
    cluster.total = cluster.total + rows[1]  # what a join does
    gc.collect()
    assert old() is None  # the cached norm does not keep the replaced total alive
    assert abs(cluster.norm() - np.sqrt(2.0)) < 1e-5  # orthogonal unit rows


def test_a_stored_total_comes_back_writable_float32_and_sortable() -> None:
    """Totals are stored as float64 with indices in the order a sum left them; loaded, they are
    float32 (as clustering holds them) and ``norm()`` can sort them in place."""
    from scipy import sparse

    from insights.demand.clustering import Cluster
    from insights.demand.tables import _pack, _unpack

    total = sparse.csr_matrix((np.array([1.0, 2.0, 2.0]), np.array([7, 1, 3]), [0, 3]), shape=(1, 10))
    total.has_sorted_indices = False
    loaded = Cluster("K1", _unpack(_pack(total), 10), ["a"])
    assert loaded.total.dtype == np.float32
    assert abs(loaded.norm() - 3.0) < 1e-6
    assert loaded.total.indices.tolist() == [1, 3, 7]
    assert loaded.total.toarray().ravel().tolist() == total.toarray().ravel().tolist()
