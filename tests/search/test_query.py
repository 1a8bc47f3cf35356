from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from search.query import MAX_QUERY_CHARS, parse_query

HOSTILE = [
    '"',
    '""',
    "(",
    ")",
    "*",
    ":",
    "AND",
    "OR",
    "NOT",
    "NEAR(a b)",
    "a OR",
    "OR OR",
    '-"',
    "-",
    "intent:",
    "'; DROP TABLE records; --",
    '{"query": {"match_all": {}}}',
    "流量 AND (营业厅",
    "^",
    "\\",
    "\x00\x01",
    "😤" * 50,
]


def test_syntax() -> None:
    q = parse_query('流量 "视频彩铃" -退订 intent:投诉 OR 营业厅', {"intent"})
    assert q.alternatives == [["流量"], ["营业厅"]]
    assert q.phrases == ["视频彩铃"] and q.excludes == ["退订"] and q.filters == [("intent", "投诉")]


def test_unknown_facet_prefix_is_text() -> None:
    assert parse_query("http://x", {"intent"}).alternatives == [["http://x"]]


def test_hostile_strings_parse() -> None:
    for s in HOSTILE:
        parse_query(s, {"intent"})
    assert len("".join(sum(parse_query("流" * 20_000).alternatives, []))) <= MAX_QUERY_CHARS


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_string_parses(text: str) -> None:
    parse_query(text, {"intent", "source"})
