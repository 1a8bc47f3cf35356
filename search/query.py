"""The user's query syntax, parsed tolerantly: any string gives a query, never an exception.

Syntax: words (Chinese or not), ``"exact phrase"``, ``-exclude``, ``facet:value`` filters and
``OR`` between alternatives. Everything else is text: brackets, ``*``, SQL or ES syntax are
just characters, because backends build their queries from our own tokens.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

__all__ = ["MAX_QUERY_CHARS", "ParsedQuery", "parse_query"]

MAX_QUERY_CHARS = 1000
_CHUNK = re.compile(r'(-?)"([^"]*)"?|(\S+)')


@dataclass
class ParsedQuery:
    """Alternatives (OR) of conjunctions (AND) of text chunks, plus phrases, exclusions and filters."""

    alternatives: list[list[str]] = field(default_factory=list)
    phrases: list[str] = field(default_factory=list)
    excludes: list[str] = field(default_factory=list)
    filters: list[tuple[str, str]] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not any(self.alternatives) and not self.phrases

    @property
    def text(self) -> str:
        """What the query asks for, without its syntax, exclusions or filters: what an encoder embeds."""
        return " ".join([chunk for alternative in self.alternatives for chunk in alternative] + self.phrases)


def _clean(text: str) -> str:
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co") or ch in "\t\n")
    return text[:MAX_QUERY_CHARS]


def parse_query(text: str, known_facets: frozenset[str] | set[str] = frozenset()) -> ParsedQuery:
    """Parse a raw user string. ``facet:value`` is a filter only for a known facet name."""
    query = ParsedQuery()
    current: list[str] = []
    for m in _CHUNK.finditer(_clean(text or "")):
        negate, phrase, word = m.group(1), m.group(2), m.group(3)
        if phrase is not None:
            if not phrase.strip():
                continue
            (query.excludes if negate else query.phrases).append(phrase.strip())
            continue
        if word == "OR":
            if current:
                query.alternatives.append(current)
            current = []
            continue
        if word.startswith("-") and len(word) > 1:
            query.excludes.append(word[1:])
            continue
        facet, sep, value = word.partition(":")
        if sep and facet in known_facets and value:
            query.filters.append((facet, value))
            continue
        current.append(word)
    if current:
        query.alternatives.append(current)
    return query
