"""The TipDM 2020 hotspot board as forum posts in a store: real text for proposal tests and the bench."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from api.pipeline import Components, index_store, label_store
from ingestion.convert import ConvertOptions
from ingestion.pipeline import ingest_path
from radar.settings import Settings
from search.store import Store

__all__ = ["load_hotspot_store", "title_groups"]


def _posts(csv_path: Path, jsonl: Path) -> dict[str, dict[str, str]]:
    rows = {}
    with csv_path.open(encoding="utf-8-sig") as fh, jsonl.open("w", encoding="utf-8") as out:
        for r in csv.DictReader(fh):
            when = r["留言时间"].strip()  # several formats in the file: ingestion parses them
            post = {
                "post_id": r["留言编号"],
                "board": "留言板",
                "title": r["留言主题"],
                "content_html": r["留言详情"],
                "author_id": r["留言用户"],
                "created_at": when,
                "likes": int(r["点赞数"] or 0),
            }
            out.write(json.dumps(post, ensure_ascii=False) + "\n")
            rows[f"forum:{r['留言编号']}"] = r
    return rows


def load_hotspot_store(
    csv_path: Path, workdir: Path, settings: Settings, components: Components
) -> tuple[Store, dict[str, dict[str, str]]]:
    """Ingest, label (rules) and index the board; returns the open store and the raw rows by record id."""
    rows = _posts(csv_path, workdir / "hotspot.jsonl")
    store = Store.open(workdir / "hotspot.db")
    ingest_path("forum", workdir / "hotspot.jsonl", store, ConvertOptions.from_settings(settings))
    label_store(store, components, entities=False, zero_shot=False)
    index_store(store, components)
    return store, rows


def title_groups(rows: dict[str, dict[str, str]]) -> dict[str, list[str]]:
    """Record ids of posts sharing the same title, for titles used at least twice."""
    groups: dict[str, list[str]] = {}
    for rid, r in rows.items():
        groups.setdefault(r["留言主题"].strip(), []).append(rid)
    return {t: ids for t, ids in groups.items() if len(ids) >= 2}
