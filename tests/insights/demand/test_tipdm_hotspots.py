"""On REAL text: the themes the TipDM hotspot board shows by repetition become proposals with their posts as evidence."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from api.pipeline import Components
from insights.demand.config import load_proposal_config
from insights.demand.service import build_proposals, list_proposals
from nlp.stopwords import load_stopwords
from radar.settings import Settings
from tests.conftest import SHARED_DATA, shared_file
from tests.insights.demand.tipdm import load_hotspot_store

JUDGED = Path(__file__).resolve().parents[1] / "data" / "tipdm_expected_themes.yaml"


@pytest.mark.shared_data
def test_judged_hotspot_themes_become_proposals(tmp_path: Path, components: Components) -> None:
    csv_path = shared_file("tipdm2020_gov/hotspot_messages_4326.csv")
    settings = Settings(db=tmp_path / "unused.db", semantic=False, zero_shot=False)
    store, rows = load_hotspot_store(csv_path, tmp_path, settings, components)
    with store:
        build_proposals(
            store,
            tokenizer=components.tokenizer,
            taxonomy=components.taxonomy,
            config=load_proposal_config(),
            stopwords=load_stopwords(SHARED_DATA / "stopwords"),
            idf=components.backend(store, semantic=False).idf,
        )
        proposals = list_proposals(store, limit=10_000)
    for theme in yaml.safe_load(JUDGED.read_text(encoding="utf-8"))["themes"]:
        ids = {rid for rid, r in rows.items() if theme["marker"] in r["留言主题"] + r["留言详情"]}
        assert len(ids) == theme["posts"], theme["name"]
        best = max(proposals, key=lambda p: len(ids & set(p["evidence"]["record_ids"])))
        held = ids & set(best["evidence"]["record_ids"])
        assert len(held) >= theme["min_in_proposal"], (theme["name"], len(held))
        assert len(held) / best["size"] >= 0.5, theme["name"]  # the proposal is about this theme, not a catch-all
        assert {q["record_id"] for q in best["evidence"]["quotes"]} <= set(best["evidence"]["record_ids"])
