"""Training and evaluation on the operator's own labels: builds the models the taxonomy loads."""

from __future__ import annotations

__all__: list[str] = []
