"""RawRow -> Record: normalise, mask personal data, derive the customer key. Pure functions."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ingestion.formats import parse_bool, parse_datetime, to_str
from ingestion.rows import BadRow, RawRow
from nlp.normalize import html_to_text, normalize
from nlp.pii import customer_key, find_pii, mask_pii
from nlp.speakers import infer_speakers
from radar.errors import ErrorCode
from radar.records import Record, Source, TicketFields, Turn, content_hash, record_id

__all__ = ["ConvertOptions", "dedup_key", "raw_identifiers", "to_record"]

_QUOTE = re.compile(r"<blockquote\b[^>]*>(.*?)</blockquote\s*>", re.IGNORECASE | re.DOTALL)
_TYPE_SPLIT = re.compile(r"\s*(?:>>|->|→|>|/|\\|－|—|-)\s*")


@dataclass(frozen=True)
class ConvertOptions:
    secret: str
    max_text_chars: int = 200_000
    keep_raw_identifiers: bool = False

    @classmethod
    def from_settings(cls, settings: Any) -> ConvertOptions:
        return cls(
            secret=settings.pii_secret.get_secret_value(),
            max_text_chars=settings.max_text_chars,
            keep_raw_identifiers=settings.keep_raw_identifiers,
        )


def _clean(text: str, is_html: bool = False) -> tuple[str, str | None]:
    """(normalised masked text, original masked text or None when normalising changed nothing)."""
    cleaned, _ = mask_pii(normalize(text, is_html=is_html))
    if cleaned == text.strip():
        return cleaned, None
    return cleaned, mask_pii(text)[0]


def _opt(data: dict[str, Any], key: str) -> str | None:
    """A field as text, or None when empty."""
    return to_str(data.get(key)) or None


def _date(data: dict[str, Any], key: str, warnings: list[str]) -> Any:
    try:
        return parse_datetime(data.get(key))
    except ValueError:
        warnings.append(ErrorCode.E108.template.format(value=to_str(data.get(key))))
        return None


def _forum(row: RawRow, opts: ConvertOptions, warnings: list[str]) -> dict[str, Any]:
    body = to_str(row.data.get("content_html"))
    quotes = [html_to_text(q) for q in _QUOTE.findall(body)]
    own = _QUOTE.sub("\n", body)
    text, original = _clean(own, is_html=True)
    quoted = "\n".join(_clean(q)[0] for q in quotes if q.strip()) or None
    author = to_str(row.data.get("author_id"))
    extra: dict[str, Any] = {k: row.data[k] for k in ("thread_id", "floor", "likes", "reply_to") if k in row.data}
    if author:
        extra["author_key"] = "a_" + hmac.new(opts.secret.encode(), author.encode(), hashlib.sha256).hexdigest()[:16]
    return {
        "channel": to_str(row.data.get("board")) or "论坛",
        "created_at": _date(row.data, "created_at", warnings),
        "title": _clean(to_str(row.data.get("title")))[0] or None,
        "text": text,
        "original_text": original,
        "quoted_text": quoted,
        "extra": extra,
    }


def _calls(row: RawRow, opts: ConvertOptions, warnings: list[str]) -> dict[str, Any]:
    turns = []
    for t in row.data.get("turns", []):
        cleaned, _ = _clean(to_str(t.get("text")))
        if cleaned:
            turns.append(Turn(speaker=t.get("speaker", "unknown"), text=cleaned, start_ms=t.get("start_ms"), end_ms=t.get("end_ms")))
    if turns and all(t.speaker == "unknown" for t in turns):
        for turn, speaker in zip(turns, infer_speakers([t.text for t in turns]), strict=True):
            turn.speaker, turn.inferred = speaker, True  # type: ignore[assignment]
    prefix = {"agent": "坐席：", "customer": "客户：", "unknown": ""}
    text = "\n".join(prefix[t.speaker] + t.text for t in turns)
    extra = {k: to_str(row.data[k]) for k in ("agent_id", "reason", "ended_at") if row.data.get(k)}
    return {
        "channel": "10086",
        "created_at": _date(row.data, "created_at", warnings),
        "region": _opt(row.data, "region"),
        "text": text,
        "original_text": None,
        "turns": turns,
        "extra": extra,
    }


def _tickets(row: RawRow, opts: ConvertOptions, warnings: list[str]) -> dict[str, Any]:
    d = row.data
    text, original = _clean(to_str(d.get("text")))
    path = [p for p in _TYPE_SPLIT.split(to_str(d.get("complaint_type"))) if p]
    ticket = TicketFields(
        complaint_type_path=path,
        brand=_opt(d, "brand"),
        star=_opt(d, "star"),
        result=_clean(to_str(d.get("result")))[0] or None,
        founded=parse_bool(d.get("founded")),
        escalated=parse_bool(d.get("escalated")),
        repeated=parse_bool(d.get("repeated")),
        satisfaction=_opt(d, "satisfaction"),
        closed_at=_date(d, "closed_at", warnings),
    )
    return {
        "channel": _opt(d, "channel"),
        "created_at": _date(d, "created_at", warnings),
        "region": _opt(d, "region"),
        "text": text,
        "original_text": original,
        "ticket": ticket,
    }


def _forms(row: RawRow, opts: ConvertOptions, warnings: list[str]) -> dict[str, Any]:
    d = row.data
    text, original = _clean(to_str(d.get("text")))
    extra = {"business": to_str(d["business"])} if d.get("business") else {}
    return {
        "channel": _opt(d, "channel"),
        "created_at": _date(d, "created_at", warnings),
        "region": _opt(d, "region"),
        "title": _clean(to_str(d.get("title")))[0] or None,
        "text": text,
        "original_text": original,
        "extra": extra,
    }


_CONVERTERS: dict[str, Callable[[RawRow, ConvertOptions, list[str]], dict[str, Any]]] = {
    "forum": _forum,
    "calls": _calls,
    "tickets": _tickets,
    "forms": _forms,
}


def _raw(row: RawRow) -> str:
    import json

    return json.dumps(row.data, ensure_ascii=False, default=str)


def to_record(row: RawRow, opts: ConvertOptions) -> Record | BadRow:
    """Convert one raw row, or say why it cannot be a record."""
    source_id = to_str(row.data.get("source_id"))
    if not source_id:
        return BadRow.of(row, _raw(row), ErrorCode.E106, field="source_id")
    total = sum(len(v) for v in row.data.values() if isinstance(v, str))
    if total > opts.max_text_chars:
        return BadRow.of(row, _raw(row)[:100_000], ErrorCode.E107, size=total, limit=opts.max_text_chars)
    warnings: list[str] = []
    fields = _CONVERTERS[row.source](row, opts, warnings)
    if not fields["text"].strip():
        return BadRow.of(row, _raw(row), ErrorCode.E104, columns=["text"])
    if warnings:
        fields.setdefault("extra", {})["warnings"] = warnings
    return Record(
        id=record_id(row.source, source_id),
        source=Source(row.source),
        source_id=source_id,
        customer_key=customer_key(to_str(row.data.get("phone")), opts.secret),
        **fields,
    )


def raw_identifiers(row: RawRow) -> list[tuple[str, str]]:
    """Personal identifiers of a row in clear: the phone field and what the masker finds in texts."""
    found: list[tuple[str, str]] = []
    phone = to_str(row.data.get("phone"))
    if phone:
        found.append(("phone_field", phone))
    for value in row.data.values():
        texts = (
            [value]
            if isinstance(value, str)
            else [to_str(t.get("text")) for t in value if isinstance(t, dict)]
            if isinstance(value, list)
            else []
        )
        for text in texts:
            found.extend((m.kind, m.value) for m in find_pii(text))
    return found


def dedup_key(record: Record) -> str:
    """Exact-duplicate key: the same normalised text from the same customer on the same source."""
    who = record.customer_key or str(record.extra.get("author_key", ""))
    return content_hash(record.source.value, who, re.sub(r"\s+", "", record.text))
