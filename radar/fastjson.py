"""One JSON encoder for hot paths: orjson when it can, the standard library when it cannot."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["dumps"]


def dumps(obj: Any) -> str:
    """Compact JSON text, Chinese kept as is; several times faster than ``json.dumps`` via orjson.

    Falls back to the standard library for what orjson refuses (an int beyond 64 bits) or when it
    is not installed; values neither knows are written with ``str``.
    """
    try:
        import orjson

        return orjson.dumps(obj, default=str).decode()
    except (ImportError, TypeError):
        return json.dumps(obj, ensure_ascii=False, default=str)
