"""Differences between taxonomy versions: what a backfill must re-label."""

from __future__ import annotations

from typing import Any

from taxonomy.schema import Taxonomy

__all__ = ["diff_taxonomies"]


def diff_taxonomies(old: Taxonomy, new: Taxonomy) -> dict[str, Any]:
    """Per facet: labels added, removed, retired, renamed (same id, new name) and changed rules."""
    facets: dict[str, dict[str, list[str]]] = {}
    for name in sorted({f.name for f in old.facets} | {f.name for f in new.facets}):
        before = old.by_name[name].by_id if name in old.by_name else {}
        after = new.by_name[name].by_id if name in new.by_name else {}
        changes = {
            "added": sorted(set(after) - set(before)),
            "removed": sorted(set(before) - set(after)),
            "retired": sorted(i for i in set(before) & set(after) if after[i].retired and not before[i].retired),
            "renamed": sorted(
                f"{i}: {before[i].name} -> {after[i].name}" for i in set(before) & set(after) if before[i].name != after[i].name
            ),
            "rules_changed": sorted(
                i
                for i in set(before) & set(after)
                if (before[i].keywords, before[i].negative_keywords, before[i].regexes, before[i].parent)
                != (after[i].keywords, after[i].negative_keywords, after[i].regexes, after[i].parent)
            ),
        }
        if any(changes.values()):
            facets[name] = changes
    return {
        "old": old.version,
        "new": new.version,
        "same_version_string": old.version == new.version,
        "content_changed": old.fingerprint != new.fingerprint,
        "facets": facets,
    }
