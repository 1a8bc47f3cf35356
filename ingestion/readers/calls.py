"""10086 call transcripts in three shapes: JSONL with turns, [SEP]-joined ASR rows, plain text."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path

from ingestion.formats import read_table, read_text, to_str
from ingestion.rows import BadRow, RawRow
from radar.errors import ErrorCode, IngestionError

__all__ = ["read_calls", "turns_from_transcript"]

_PREFIX = re.compile(r"^\s*(坐席|客服|话务员|agent|客户|用户|customer)\s*[:：]\s*(.*)$", re.IGNORECASE)
_HEADER = re.compile(r"^\s*(通话编号|call_id|通话ID)\s*[:：]\s*(\S+)", re.IGNORECASE)
_AGENT_WORDS = {"坐席", "客服", "话务员", "agent"}


def read_calls(path: Path, encoding: str | None = None, fmt: str | None = None) -> Iterator[RawRow | BadRow]:
    shape = fmt or _guess_shape(path)
    if shape == "jsonl":
        yield from _read_jsonl(path, encoding)
    elif shape == "sep":
        yield from _read_sep(path, encoding)
    elif shape == "text":
        yield from _read_plain(path, encoding)
    else:
        raise IngestionError(ErrorCode.E103, fmt=shape, source="calls", options="jsonl, sep, text")


def turns_from_transcript(text: str) -> list[dict[str, str]]:
    """Turns from a transcript held in one field: ``[SEP]``-joined, or ``坐席：``/``客户：`` lines."""
    if "[SEP]" in text:
        return [{"speaker": "unknown", "text": t.strip()} for t in text.split("[SEP]") if t.strip()]
    turns: list[dict[str, str]] = []
    for line in text.splitlines():
        if (m := _PREFIX.match(line)) is not None:
            speaker = "agent" if m.group(1).lower() in _AGENT_WORDS else "customer"
            turns.append({"speaker": speaker, "text": m.group(2).strip()})
        elif line.strip() and turns:
            turns[-1]["text"] += line.strip()
        elif line.strip():
            turns.append({"speaker": "unknown", "text": line.strip()})
    return turns


def _guess_shape(path: Path) -> str:
    suffix = path.suffix.lower()
    return {".jsonl": "jsonl", ".json": "jsonl", ".csv": "sep", ".xlsx": "sep", ".txt": "text"}.get(suffix, "text")


def _read_jsonl(path: Path, encoding: str | None) -> Iterator[RawRow | BadRow]:
    text, _ = read_text(path, encoding)
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = (str(path), f"line {n}")
        try:
            call = json.loads(line)
        except json.JSONDecodeError as exc:
            yield BadRow("calls", *where, line, ErrorCode.E105.name, ErrorCode.E105.template.format(reason=exc.msg))
            continue
        if not isinstance(call, dict) or not call.get("call_id"):
            yield BadRow("calls", *where, line, ErrorCode.E106.name, ErrorCode.E106.template.format(field="call_id"))
            continue
        turns = [t for t in call.get("turns") or [] if isinstance(t, dict) and to_str(t.get("text"))]
        data = {
            "source_id": to_str(call["call_id"]),
            "created_at": call.get("started_at"),
            "ended_at": call.get("ended_at"),
            "phone": to_str(call.get("msisdn")),
            "agent_id": to_str(call.get("agent_id")),
            "region": to_str(call.get("region")),
            "turns": [
                {
                    "speaker": t.get("speaker") if t.get("speaker") in ("agent", "customer") else "unknown",
                    "text": to_str(t.get("text")),
                    "start_ms": t.get("start_ms"),
                    "end_ms": t.get("end_ms"),
                }
                for t in turns
            ],
        }
        yield RawRow("calls", *where, data)


def _read_sep(path: Path, encoding: str | None) -> Iterator[RawRow | BadRow]:
    header: dict[str, int] | None = None
    for sheet, rownum, cells in read_table(path, encoding):
        location = f"{sheet}!{rownum}" if sheet else f"line {rownum}"
        if header is None:
            header = {c.strip().lstrip("\ufeff"): i for i, c in enumerate(cells)}
            if "sentence_sep" not in header and "word_mf2" not in header:
                raise_missing = BadRow(
                    "calls",
                    str(path),
                    location,
                    "\t".join(cells),
                    ErrorCode.E110.name,
                    ErrorCode.E110.template.format(path=path.name, columns=["sentence_sep", "word_mf2"]),
                )
                yield raise_missing
                return
            continue
        get = {k: (cells[i] if i < len(cells) else "") for k, i in header.items()}
        joined = get.get("sentence_sep") or get.get("word_mf2") or ""
        turns = [t.strip() for t in joined.split("[SEP]") if t.strip()]
        if not turns:
            yield BadRow(
                "calls",
                str(path),
                location,
                "\t".join(cells),
                ErrorCode.E104.name,
                ErrorCode.E104.template.format(columns=["sentence_sep", "word_mf2"]),
            )
            continue
        call_id = get.get("call_id") or "asr-" + hashlib.blake2b(joined.encode(), digest_size=8).hexdigest()
        data = {
            "source_id": call_id,
            "created_at": get.get("started_at") or None,
            "phone": get.get("msisdn", ""),
            "region": get.get("region", ""),
            "turns": [{"speaker": "unknown", "text": t} for t in turns],
            "reason": get.get("label_raw", ""),
        }
        yield RawRow("calls", str(path), location, data)
    if header is None:
        raise IngestionError(ErrorCode.E101, path=str(path), reason="the file is empty")


def _read_plain(path: Path, encoding: str | None) -> Iterator[RawRow | BadRow]:
    text, _ = read_text(path, encoding)
    blocks = re.split(r"\n\s*\n", text.replace("\r\n", "\n"))
    line_no = 1
    for block in blocks:
        start_line = line_no
        line_no += block.count("\n") + 2
        lines = [ln for ln in block.split("\n") if ln.strip()]
        if not lines:
            continue
        call_id, turns, stray = None, [], []
        for ln in lines:
            if (m := _HEADER.match(ln)) is not None:
                call_id = m.group(2)
            elif (m := _PREFIX.match(ln)) is not None:
                speaker = "agent" if m.group(1).lower() in _AGENT_WORDS else "customer"
                turns.append({"speaker": speaker, "text": m.group(2).strip()})
            elif turns:
                turns[-1]["text"] += ln.strip()  # a wrapped line continues the turn
            else:
                stray.append(ln)
        if not turns:
            yield BadRow(
                "calls",
                str(path),
                f"line {start_line}",
                block,
                ErrorCode.E104.name,
                ErrorCode.E104.template.format(columns=["坐席：", "客户："]),
            )
            continue
        call_id = call_id or "txt-" + hashlib.blake2b(block.encode(), digest_size=8).hexdigest()
        yield RawRow("calls", str(path), f"line {start_line}", {"source_id": call_id, "turns": turns})
