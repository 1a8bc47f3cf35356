"""The proposal workflow: draft → submitted → accepted / rejected → in_progress → done."""

from __future__ import annotations

__all__ = ["STATUSES", "TRANSITIONS", "allowed"]

STATUSES = ("draft", "submitted", "accepted", "rejected", "in_progress", "done")
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "draft": ("submitted", "rejected"),
    "submitted": ("accepted", "rejected", "draft"),  # back to draft: sent back for rework
    "accepted": ("in_progress", "rejected"),
    "rejected": ("draft",),  # reopened
    "in_progress": ("done",),
    "done": (),
}


def allowed(current: str, wanted: str) -> bool:
    return wanted in TRANSITIONS.get(current, ())
