"""Any source held in a SQL table (an existing ticket database is common), read through SQLAlchemy.

Rows are read in keyset pages ordered by a cursor column that only grows (an id, or a
modification time with an id): ``WHERE cursor > :last ORDER BY cursor LIMIT :n``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from ingestion.formats import to_str
from ingestion.readers.calls import turns_from_transcript
from ingestion.readers.forms import FORM_HEADERS
from ingestion.readers.forum import FORUM_FIELDS
from ingestion.readers.tickets import TICKET_HEADERS
from ingestion.rows import BadRow, RawRow
from radar.errors import ErrorCode, IngestionError

__all__ = ["CALL_COLUMNS", "read_sql"]

_IDENT = re.compile(r"^[A-Za-z_\u4e00-\u9fff][A-Za-z0-9_\u4e00-\u9fff]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
CALL_COLUMNS = {
    "call_id": "source_id",
    "started_at": "created_at",
    "ended_at": "ended_at",
    "msisdn": "phone",
    "agent_id": "agent_id",
    "region": "region",
    "turns": "turns",
    "transcript": "transcript",
}
_DEFAULT_MAPS: dict[str, Mapping[str, str]] = {
    "tickets": TICKET_HEADERS,
    "forms": FORM_HEADERS,
    "calls": CALL_COLUMNS,
    "forum": {**{f: f for f in FORUM_FIELDS}, "post_id": "source_id"},
}


def _identifier(name: str) -> str:
    if not _IDENT.match(name):
        raise IngestionError(ErrorCode.E113, url="(config)", reason=f"{name!r} is not a plain column or table name")
    return name


def _to_row(source: str, url: str, location: str, record: Mapping[str, Any], mapping: Mapping[str, str]) -> RawRow | BadRow:
    data: dict[str, Any] = {}
    for column, value in record.items():
        field = mapping.get(column, column if column in mapping.values() else None)
        if field and value not in (None, ""):
            data[field] = value if field in ("turns", "content_html") else to_str(value)
    if source == "forum" and "post_id" in record:
        data["source_id"] = to_str(record["post_id"])
    if source == "calls":
        turns = data.pop("turns", None)
        transcript = data.pop("transcript", None)
        try:
            parsed = json.loads(turns) if isinstance(turns, str) else turns
        except json.JSONDecodeError as exc:
            return BadRow(
                source,
                url,
                location,
                json.dumps(record, ensure_ascii=False, default=str),
                ErrorCode.E105.name,
                ErrorCode.E105.template.format(reason=exc.msg),
            )
        data["turns"] = parsed if isinstance(parsed, list) else turns_from_transcript(to_str(transcript))
    return RawRow(source, url, location, data)


def read_sql(
    url: str,
    source: str,
    *,
    cursor_column: str,
    table: str | None = None,
    query: str | None = None,
    since: str | None = None,
    header_map: Mapping[str, str] | None = None,
    page_size: int = 1000,
) -> Iterator[RawRow | BadRow]:
    """Rows after ``since`` in cursor order.

    Each RawRow carries ``_cursor`` (the cursor value as JSON) for the store's cursor to advance;
    ``since`` takes that same JSON text.
    """
    import sqlalchemy as sa

    if (table is None) == (query is None):
        raise IngestionError(ErrorCode.E113, url=url, reason="give exactly one of table or query")
    cursor = _identifier(cursor_column)
    inner = f"SELECT * FROM {_identifier(table)}" if table else str(query)
    mapping = header_map or _DEFAULT_MAPS.get(source, {})
    statement = sa.text(f"SELECT * FROM ({inner}) AS radar_src WHERE (:last IS NULL OR {cursor} > :last) ORDER BY {cursor} LIMIT :n")
    try:
        engine = sa.create_engine(url)
    except (sa.exc.ArgumentError, ImportError) as exc:
        raise IngestionError(ErrorCode.E113, url=url, reason=str(exc)) from exc
    last: Any = json.loads(since) if since else None
    try:
        with engine.connect() as conn:
            while True:
                rows = conn.execute(statement, {"last": last, "n": page_size}).mappings().all()
                if not rows:
                    return
                for row in rows:
                    location = f"{cursor}={row[cursor]}"
                    out = _to_row(source, url, location, dict(row), mapping)
                    if isinstance(out, RawRow):  # JSON keeps the type: 9 < 10 as numbers, not as text
                        out.data["_cursor"] = json.dumps(row[cursor], default=str, ensure_ascii=False)
                    yield out
                last = rows[-1][cursor]
    except sa.exc.SQLAlchemyError as exc:
        raise IngestionError(ErrorCode.E113, url=url, reason=str(exc).splitlines()[0]) from exc
    finally:
        engine.dispose()
