"""Write a SYNTHETIC sample of all four sources in their real file formats, with real mess.

Seeded and deterministic: the same spec writes byte-identical files. Files say they are
synthetic in their names and (where the format allows) in a field. For demos and tests only.
"""

from __future__ import annotations

import csv
import html
import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ingestion.sample.themes import CITIES, THEMES, Theme

__all__ = ["SampleSpec", "generate_samples", "write_calls_jsonl", "write_ticket_csv", "write_ticket_xlsx"]

_PREFIXES = ("135", "136", "137", "138", "139", "150", "151", "152", "157", "158", "159", "182", "183", "187", "188", "198")
_SPOKEN = dict(zip("0123456789", "零幺二三四五六七八九", strict=True))
_BOARDS = ("省钱擂台", "你问我答")
_CHANNELS = ("10086热线", "营业厅", "中国移动APP", "网上营业厅", "短信营业厅")
_FORM_CHANNELS = ("网站", "WAP", "营业厅")
_BRANDS = ("全球通", "动感地带", "神州行")
_STARS = ("一星", "二星", "三星", "四星", "五星", "准星")
_FILLERS = ("呃", "嗯", "那个", "就是", "哎")
_START = datetime(2026, 8, 1, 8, 0, 0)


@dataclass(frozen=True)
class SampleSpec:
    seed: int = 20261124
    forum: int = 160
    calls: int = 150
    tickets: int = 300
    forms: int = 100
    customers: int = 220


class _Gen:
    def __init__(self, spec: SampleSpec) -> None:
        self.spec = spec
        self.rng = random.Random(spec.seed)
        self.phones = [self.rng.choice(_PREFIXES) + f"{self.rng.randrange(10**8):08d}" for _ in range(spec.customers)]
        self.weights = [t.weight for t in THEMES]

    def theme(self) -> Theme:
        return self.rng.choices(THEMES, weights=self.weights)[0]

    def when(self) -> datetime:
        return _START + timedelta(minutes=self.rng.randrange(0, 120 * 24 * 60))

    def say(self, theme: Theme) -> str:
        text = self.rng.choice(theme.customer)
        return text.format(
            amount=self.rng.choice((8, 15, 30, 56, 120, 268)), city=self.rng.choice(CITIES), plan=self.rng.choice((58, 88, 128, 158, 238))
        )

    def phone(self) -> str:
        return self.rng.choice(self.phones)


def _write_jsonl(path: Path, items: list[Any]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        for item in items:
            fh.write((item if isinstance(item, str) else json.dumps(item, ensure_ascii=False)) + "\n")


def _forum(g: _Gen, out: Path) -> None:
    posts: list[Any] = []
    for i in range(g.spec.forum):
        theme = g.theme()
        body = (
            html.escape(g.say(theme))
            + "<br/>"
            + html.escape(g.rng.choice(("大家有没有遇到过？", "求助各位大神！", "有知道怎么办的吗&hellip;", "😤")))
        )
        reply_to = None
        if posts and g.rng.random() < 0.3:
            earlier = g.rng.choice([p for p in posts if isinstance(p, dict)])
            reply_to = earlier["post_id"]
            body = f"<blockquote>{earlier['content_html']}</blockquote>" + "我也是这样！" + body
        posts.append(
            {
                "post_id": f"P{100000 + i}",
                "thread_id": f"T{1000 + i // 3}",
                "board": g.rng.choice(_BOARDS),
                "title": html.unescape(g.say(theme))[:18],
                "content_html": body,
                "author_id": f"u{g.rng.randrange(500)}",
                "created_at": g.when().isoformat(timespec="seconds") + "+08:00",
                "floor": 1 + i % 3,
                "likes": g.rng.randrange(0, 60),
                "reply_to": reply_to,
                "synthetic": True,
            }
        )
    posts.insert(len(posts) // 2, '{"post_id": "P-broken", "content_html": "断了的一行')  # a truncated export line
    posts.append({"post_id": "P-empty", "title": "", "content_html": "<p> </p>", "created_at": "2026-09-01T10:00:00"})
    _write_jsonl(out / "forum" / "posts-synthetic.jsonl", posts)


def _turns(g: _Gen, theme: Theme, phone: str) -> list[tuple[str, str]]:
    turns = [("agent", "您好，很高兴为您服务，请问有什么可以帮您"), ("customer", g.say(theme))]
    if g.rng.random() < 0.4:
        turns += [("agent", "好的，请问您的手机号码是多少"), ("customer", f"{phone[:3]} {phone[3:7]} {phone[7:]}")]
    turns += [
        ("agent", theme.agent),
        ("customer", g.say(theme) if g.rng.random() < 0.5 else "好的，那麻烦你们尽快处理"),
        ("agent", "请问还有其他可以帮您的吗"),
        ("customer", "没有了，谢谢"),
    ]
    return turns


def _asr(text: str, g: _Gen) -> str:
    """Spoken form: no punctuation, spoken digits, fillers."""
    text = "".join(_SPOKEN.get(ch, ch) if ch.isdigit() else ch for ch in text)
    text = text.replace("，", "").replace("。", "").replace(" ", "")
    return (g.rng.choice(_FILLERS) + text) if g.rng.random() < 0.5 else text


def _calls(g: _Gen, out: Path) -> None:
    folder = out / "calls"
    jsonl: list[Any] = []
    sep_rows = []
    text_blocks = []
    for i in range(g.spec.calls):
        theme, phone, start = g.theme(), g.phone(), g.when()
        turns = _turns(g, theme, phone)
        shape = i % 3
        if shape == 0:
            t_ms, items = 0, []
            for speaker, text in turns:
                dur = 600 + 180 * len(text)
                items.append({"speaker": speaker, "start_ms": t_ms, "end_ms": t_ms + dur, "text": text})
                t_ms += dur + 300
            jsonl.append(
                {
                    "call_id": f"C{200000 + i}",
                    "started_at": start.isoformat(sep=" "),
                    "ended_at": (start + timedelta(milliseconds=t_ms)).isoformat(sep=" "),
                    "msisdn": phone,
                    "agent_id": f"A{g.rng.randrange(100, 999)}",
                    "region": g.rng.choice(CITIES),
                    "turns": items,
                }
            )
        elif shape == 1:
            spoken = [_asr(t, g) for _, t in turns]
            sep_rows.append(["".join(spoken), theme.key, "", "", "[SEP]".join(spoken), f"S{300000 + i}"])
        else:
            lines = [f"通话编号：T{400000 + i}"] + [("坐席：" if s == "agent" else "客户：") + t for s, t in turns]
            text_blocks.append("\n".join(lines))
    jsonl.insert(3, '{"call_id": "C-bad", "turns": [')
    _write_jsonl(folder / "calls-synthetic.jsonl", jsonl)
    with (folder / "calls-asr-sep-synthetic.csv").open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["word_mf2", "label_raw", "c_numerical", "num_cnum", "sentence_sep", "call_id"])
        writer.writerows(sep_rows)
    (folder / "calls-plain-synthetic.txt").write_text("\n\n".join(text_blocks) + "\n\n这一段没有说话人前缀，无法识别\n", encoding="utf-8")


def _ticket_text(g: _Gen, theme: Theme, phone: str) -> str:
    masked = phone[:3] + "******" + phone[-2:]
    body = f"客户反映{g.say(theme)}，要求{theme.demand}。"
    if g.rng.random() < 0.3:
        body = f"用户{masked}来电，" + body
    if g.rng.random() < 0.15:
        body += "客户表示如再不解决将向工信部投诉。"
    if g.rng.random() < 0.1:
        body += "客户于（时间）在（地点）办理。"
    return body


def _ticket_rows(g: _Gen, n: int, offset: int) -> list[list[Any]]:
    rows = []
    for i in range(n):
        theme, phone, start = g.theme(), g.phone(), g.when()
        date_style = i % 5
        when: Any = (
            start.isoformat(sep=" "),
            start.strftime("%Y/%m/%d %H:%M"),
            start.strftime("%Y年%m月%d日 %H时%M分"),
            start.strftime("%Y%m%d%H%M%S"),
            start.strftime("%Y-%m-%d"),
        )[date_style]
        founded = g.rng.choice(("是", "否", ""))
        result = g.rng.choice(("已解释", "已退费", "已派单处理", "已安抚客户"))
        still_open = i % 4 == 3  # a quarter of the tickets are still being handled: the triage queue
        escalated, repeated = g.rng.random() < 0.1, g.rng.random() < 0.2
        satisfaction = g.rng.choice(("满意", "基本满意", "不满意", ""))
        closed = (start + timedelta(days=g.rng.randrange(1, 5))).isoformat(sep=" ")
        rows.append(
            [
                f"GD{offset + i:08d}",
                when,
                g.rng.choice(_CHANNELS),
                phone,
                g.rng.choice(CITIES),
                g.rng.choice(_BRANDS),
                g.rng.choice(_STARS),
                theme.ticket_type,
                _ticket_text(g, theme, phone),
                "处理中" if still_open else result,
                "" if still_open else founded,  # not verified while open
                "是" if escalated else "否",
                "是" if repeated else "否",
                "" if still_open else satisfaction,
                "" if still_open else closed,
            ]
        )
    return rows


_TICKET_HEADER = [
    "工单编号",
    "受理时间",
    "受理渠道",
    "投诉号码",
    "地市",
    "客户品牌",
    "客户星级",
    "投诉类型",
    "投诉内容",
    "处理结果",
    "是否属实",
    "是否升级",
    "是否重复投诉",
    "满意度",
    "办结时间",
]


def _tickets(g: _Gen, out: Path) -> None:
    import openpyxl

    folder = out / "tickets"
    half = g.spec.tickets // 2
    csv_rows = _ticket_rows(g, half, 0)
    csv_rows.append(["GD-EMPTY", "2026-09-09 09:09:09", "营业厅", "", "广州", "", "", "其他", "", "", "", "", "", "", ""])
    csv_rows.append(csv_rows[0][:])  # an exact repeat of a row: ingesting it changes nothing
    with (folder / "tickets-synthetic-gbk.csv").open("w", encoding="gbk", errors="replace", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(_TICKET_HEADER)
        writer.writerows(csv_rows)
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "投诉工单"
    sheet.append(["投诉工单导出（合成样例数据）"])  # a title row above the header, as real exports have
    sheet.append([*_TICKET_HEADER, "投诉内容"])  # a duplicated header: the first column wins
    rows = _ticket_rows(g, g.spec.tickets - half, half)
    for i, row in enumerate(rows):
        row[3] = float(row[3])  # phone numbers stored as floats: 1.3912345678E10
        if i % 25 == 1:
            row[4] = rows[i - 1][4]  # same city as the row above: merged below
        sheet.append([*row, "（重复列）"])
    for i in range(1, len(rows), 25):
        sheet.merge_cells(start_row=i + 2, start_column=5, end_row=i + 3, end_column=5)  # 地市 spans two tickets
    notes = book.create_sheet("说明")
    notes.append(["本表为演示用合成数据"])
    notes.append(["导出人", "系统"])
    book.save(folder / "tickets-synthetic.xlsx")


def _forms(g: _Gen, out: Path) -> None:
    import openpyxl

    folder = out / "forms"
    items = []
    for i in range(g.spec.forms):
        theme, start = g.theme(), g.when()
        items.append(
            {
                "form_id": f"JY{500000 + i}",
                "submitted_at": start.isoformat(timespec="seconds"),
                "channel": g.rng.choice(_FORM_CHANNELS),
                "phone": g.phone(),
                "title": theme.suggestion[:12],
                "content": theme.suggestion + g.rng.choice(("", "，谢谢！", "。希望采纳。")),
                "business": theme.key,
                "city": g.rng.choice(CITIES),
            }
        )
    half = len(items) // 2
    (folder / "forms-synthetic.json").write_text(
        json.dumps({"forms": items[:half], "synthetic": True}, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "建议单"
    sheet.append(["建议编号", "提交时间", "渠道", "联系电话", "建议标题", "建议内容", "涉及业务", "地市"])
    for it in items[half:]:
        sheet.append(
            [
                it["form_id"],
                it["submitted_at"].replace("T", " "),
                it["channel"],
                it["phone"],
                it["title"],
                it["content"],
                it["business"],
                it["city"],
            ]
        )
    book.save(folder / "forms-synthetic.xlsx")


def generate_samples(out: Path, spec: SampleSpec | None = None) -> dict[str, list[Path]]:
    """Write the sample into ``out/{forum,calls,tickets,forms}/``; returns the files per source."""
    spec = spec or SampleSpec()
    g = _Gen(spec)
    for name in ("forum", "calls", "tickets", "forms"):
        (out / name).mkdir(parents=True, exist_ok=True)
    _forum(g, out)
    _calls(g, out)
    _tickets(g, out)
    _forms(g, out)
    return {name: sorted((out / name).iterdir()) for name in ("forum", "calls", "tickets", "forms")}


def write_ticket_csv(path: Path, n: int, seed: int = 7, encoding: str = "gbk") -> Path:
    """A large SYNTHETIC ticket export (for benchmarks and crash tests), deterministic."""
    g = _Gen(SampleSpec(seed=seed, customers=max(100, n // 4)))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding=encoding, errors="replace", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(_TICKET_HEADER)
        for start in range(0, n, 10_000):
            writer.writerows(_ticket_rows(g, min(10_000, n - start), start))
    return path


def write_ticket_xlsx(path: Path, n: int, seed: int = 7) -> Path:
    """The same export as XLSX (written in openpyxl's streaming mode)."""
    import openpyxl

    g = _Gen(SampleSpec(seed=seed, customers=max(100, n // 4)))
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("投诉工单")
    sheet.append(_TICKET_HEADER)
    for start in range(0, n, 10_000):
        for row in _ticket_rows(g, min(10_000, n - start), start):
            sheet.append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


def write_calls_jsonl(path: Path, n: int, seed: int = 7) -> Path:
    """A large SYNTHETIC JSONL call export with speaker-labelled turns."""
    g = _Gen(SampleSpec(seed=seed, customers=max(100, n // 4)))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            theme, phone, start = g.theme(), g.phone(), g.when()
            turns = [{"speaker": s, "text": t} for s, t in _turns(g, theme, phone)]
            fh.write(
                json.dumps(
                    {
                        "call_id": f"B{i:08d}",
                        "started_at": start.isoformat(sep=" "),
                        "msisdn": phone,
                        "region": g.rng.choice(CITIES),
                        "turns": turns,
                    },
                    ensure_ascii=False,
                )
                + "\n"
            )
    return path
