from __future__ import annotations

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
