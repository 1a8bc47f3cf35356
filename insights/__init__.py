"""Acting on labelled feedback: summaries, proposals, trends, credit grading, reports."""

from __future__ import annotations

__all__: list[str] = []
