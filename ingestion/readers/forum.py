"""Forum posts (省钱擂台, 你问我答): JSONL exports; the HTTP API reader yields the same rows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from ingestion.formats import read_text, to_str
from ingestion.rows import BadRow, RawRow
from radar.errors import ErrorCode

__all__ = ["FORUM_FIELDS", "post_to_row", "read_forum"]

FORUM_FIELDS = ("post_id", "thread_id", "board", "title", "content_html", "author_id", "created_at", "floor", "likes", "reply_to")


def post_to_row(post: dict[str, object], file: str, location: str) -> RawRow:
    data = {k: post[k] for k in FORUM_FIELDS if k in post and post[k] is not None}
    data["source_id"] = to_str(post.get("post_id"))
    return RawRow("forum", file, location, data)


def read_forum(path: Path, encoding: str | None = None) -> Iterator[RawRow | BadRow]:
    text, _ = read_text(path, encoding)
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            post = json.loads(line)
        except json.JSONDecodeError as exc:
            yield BadRow("forum", str(path), f"line {n}", line, ErrorCode.E105.name, ErrorCode.E105.template.format(reason=exc.msg))
            continue
        if not isinstance(post, dict) or not post.get("post_id"):
            yield BadRow("forum", str(path), f"line {n}", line, ErrorCode.E106.name, ErrorCode.E106.template.format(field="post_id"))
            continue
        yield post_to_row(post, str(path), f"line {n}")
