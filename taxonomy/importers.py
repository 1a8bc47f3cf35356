"""Build a taxonomy from a levelled label table (一级分类, 二级分类, 三级分类 ...), as agencies publish them."""

from __future__ import annotations

import csv
import hashlib
import re
from pathlib import Path

from taxonomy.loader import parse_taxonomy
from taxonomy.schema import Taxonomy

__all__ = ["taxonomy_from_levels_csv"]

_SPLIT = re.compile(r"[、，,/及和与]")
_GENERIC = frozenset({"其他", "其它", "综合", "一般", "其他问题"})  # too vague to be evidence


def _slug(prefix: str, name: str) -> str:
    return f"{prefix}_{hashlib.blake2b(name.encode(), digest_size=4).hexdigest()}"


def _keywords(name: str) -> list[str]:
    parts = [p.strip() for p in _SPLIT.split(name) if len(p.strip()) >= 2]
    return sorted({name, *parts} - _GENERIC)


def taxonomy_from_levels_csv(path: Path, *, facet: str = "category", version: str | None = None, max_depth: int = 2) -> Taxonomy:
    """One single-label facet: level-1 labels with level-2 sub-labels; deeper levels become keywords.

    Descriptions list the children's names, so embeddings see what a label covers.
    """
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = [[c.strip() for c in row] for row in csv.reader(fh)]
    body = [r for r in rows[1:] if r and r[0]]
    children: dict[tuple[str, ...], set[str]] = {}
    for row in body:
        levels = [c for c in row if c]
        for depth in range(len(levels)):
            children.setdefault(tuple(levels[:depth]), set()).add(levels[depth])
    labels: list[dict[str, object]] = []
    for top in sorted(children.get((), set())):
        labels.append(_label((top,), children, None, max_depth))
        for sub in sorted(children.get((top,), set())) if max_depth >= 2 else []:
            labels.append(_label((top, sub), children, _slug("l1", top), max_depth))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:8]
    data = {"version": version or f"{path.stem}-{digest}", "name": path.stem, "facets": [{"name": facet, "labels": labels}]}
    return parse_taxonomy(data, str(path))


def _label(levels: tuple[str, ...], children: dict[tuple[str, ...], set[str]], parent: str | None, max_depth: int) -> dict[str, object]:
    below = sorted(children.get(levels, set()))
    deeper = sorted({g for c in below for g in children.get((*levels, c), set())}) if len(levels) >= max_depth else []
    keywords = sorted({kw for name in [levels[-1], *(below if len(levels) >= max_depth else []), *deeper] for kw in _keywords(name)})
    return {
        "id": _slug(f"l{len(levels)}", "/".join(levels)) if len(levels) > 1 else _slug("l1", levels[0]),
        "name": levels[-1],
        "description": "、".join(below or [levels[-1]]),
        "keywords": keywords,
        "parent": parent,
    }
