"""Complaint tickets (投诉工单): CSV or XLSX exports, any common Chinese encoding."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

from ingestion.readers.tabular import read_mapped_table
from ingestion.rows import BadRow, RawRow

__all__ = ["TICKET_HEADERS", "read_tickets"]

# Chinese header -> canonical field. Configurable: pass your own map to read_tickets.
TICKET_HEADERS: dict[str, str] = {
    "工单编号": "source_id",
    "工单号": "source_id",
    "流水号": "source_id",
    "受理时间": "created_at",
    "投诉时间": "created_at",
    "受理渠道": "channel",
    "投诉渠道": "channel",
    "投诉号码": "phone",
    "联系号码": "phone",
    "用户号码": "phone",
    "地市": "region",
    "地区": "region",
    "客户品牌": "brand",
    "品牌": "brand",
    "客户星级": "star",
    "星级": "star",
    "投诉类型": "complaint_type",
    "投诉分类": "complaint_type",
    "投诉内容": "text",
    "工单内容": "text",
    "受理内容": "text",
    "处理结果": "result",
    "处理意见": "result",
    "是否属实": "founded",
    "是否升级": "escalated",
    "是否重复投诉": "repeated",
    "满意度": "satisfaction",
    "办结时间": "closed_at",
}


def read_tickets(path: Path, encoding: str | None = None, header_map: Mapping[str, str] | None = None) -> Iterator[RawRow | BadRow]:
    yield from read_mapped_table(path, "tickets", header_map or TICKET_HEADERS, "text", encoding)
