"""Opaque page cursors shared by the backends: an offset bound to the query it came from."""

from __future__ import annotations

import base64
import hashlib
import json

from radar.errors import ErrorCode, SearchError
from search.backends.base import SearchRequest

__all__ = ["decode_cursor", "encode_cursor"]


def _fingerprint(request: SearchRequest) -> str:
    parts = [request.query, sorted(request.filters), request.order, str(request.since), str(request.until), request.collapse]
    key = json.dumps(parts, ensure_ascii=False)
    return hashlib.sha1(key.encode()).hexdigest()[:8]


def encode_cursor(request: SearchRequest, offset: int) -> str:
    raw = json.dumps({"o": offset, "f": _fingerprint(request)}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(request: SearchRequest) -> int:
    """The offset of ``request.cursor`` (0 without one); E304 for a cursor of another query or garbage."""
    if not request.cursor:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode((request.cursor + "=" * (-len(request.cursor) % 4)).encode()))
        if data["f"] != _fingerprint(request) or int(data["o"]) < 0:
            raise ValueError("cursor belongs to another query")
        return int(data["o"])
    except (ValueError, KeyError, TypeError) as exc:
        raise SearchError(ErrorCode.E304) from exc
