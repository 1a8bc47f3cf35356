"""Keyword and regex rules from the taxonomy, matched in one pass with Aho-Corasick."""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from typing import Any

from radar.errors import ErrorCode, NLPError
from radar.records import Evidence
from taxonomy.classifiers.base import Candidate, Document
from taxonomy.schema import Taxonomy

__all__ = ["RulesClassifier", "keyword_weight"]

logger = logging.getLogger(__name__)

_ASCII_WORD = re.compile(r"^[a-z0-9]+$")


def keyword_weight(keyword: str) -> float:
    """Longer keywords are more specific: a 2-character hit says less than a 5-character one."""
    return min(0.8, 0.35 + 0.1 * len(keyword))


def _import_ahocorasick() -> Any:
    try:
        import ahocorasick
    except ImportError as exc:  # pragma: no cover - declared dependency
        raise NLPError(ErrorCode.E205, package="pyahocorasick") from exc
    return ahocorasick


class RulesClassifier:
    """Scores each label by its matched keywords (noisy-or of keyword weights).

    Negative keywords veto a label; a sub-label's score and evidence lift its ancestors,
    so the hierarchy holds by construction.
    """

    name = "rules"

    def __init__(self, taxonomy: Taxonomy) -> None:
        self.taxonomy = taxonomy
        self._automaton: Any = None
        self._regexes: list[tuple[str, str, re.Pattern[str]]] = []
        self._ancestors: dict[tuple[str, str], list[str]] = {}

    def warm_up(self) -> None:
        if self._automaton is not None:
            return
        ahocorasick = _import_ahocorasick()
        entries: dict[str, list[tuple[str, str, bool]]] = defaultdict(list)
        variants: dict[str, list[str]] = defaultdict(list)
        for variant, canonical in self.taxonomy.synonyms.items():
            variants[canonical.lower()].append(variant.lower())
        for facet in self.taxonomy.facets:
            for lab in facet.active():
                for kw in {lab.name, *lab.keywords}:
                    for form in {kw.lower(), *variants.get(kw.lower(), [])}:
                        entries[form].append((facet.name, lab.id, False))
                for kw in lab.negative_keywords:
                    entries[kw.lower()].append((facet.name, lab.id, True))
                self._regexes.extend((facet.name, lab.id, re.compile(p)) for p in lab.regexes)
        automaton = ahocorasick.Automaton()
        for key, targets in entries.items():
            automaton.add_word(key, (key, tuple(targets), bool(_ASCII_WORD.match(key))))
        automaton.make_automaton()
        self._ancestors = {(f.name, lab.id): f.ancestors(lab.id) for f in self.taxonomy.facets for lab in f.labels}
        self._automaton = automaton

    def _matches(self, text: str) -> list[tuple[int, int, str, tuple[tuple[str, str, bool], ...]]]:
        lowered = text.lower()
        found = []
        for end, (key, targets, ascii_word) in self._automaton.iter(lowered):
            start = end - len(key) + 1
            # ASCII keywords ("app", "5g") must not match inside longer ASCII words or numbers
            if ascii_word and (
                (start > 0 and lowered[start - 1].isascii() and lowered[start - 1].isalnum())
                or (end + 1 < len(lowered) and lowered[end + 1].isascii() and lowered[end + 1].isdigit())
            ):
                continue
            found.append((start, end + 1, key, targets))
        return found

    def run(self, doc: Document) -> list[Candidate]:
        if self._automaton is None:
            self.warm_up()
        hits: dict[tuple[str, str], dict[str, Evidence]] = defaultdict(dict)
        vetoed: set[tuple[str, str]] = set()
        for start, end, key, targets in self._matches(doc.text):
            for facet, label_id, negative in targets:
                if negative:
                    vetoed.add((facet, label_id))
                elif key not in hits[(facet, label_id)]:
                    hits[(facet, label_id)][key] = Evidence.of(doc.text[start:end], start, end)
        for facet, label_id, pattern in self._regexes:
            for m in pattern.finditer(doc.text):
                hits[(facet, label_id)].setdefault(m.group(), Evidence.of(m.group(), m.start(), m.end()))
        return self._score(hits, vetoed)

    def _score(self, hits: dict[tuple[str, str], dict[str, Evidence]], vetoed: set[tuple[str, str]]) -> list[Candidate]:
        scored: dict[tuple[str, str], Candidate] = {}
        for key, by_keyword in hits.items():
            if key in vetoed:
                continue
            miss = 1.0
            for kw in by_keyword:
                miss *= 1.0 - keyword_weight(kw)
            evidence = sorted(by_keyword.values(), key=lambda e: e.start)
            scored[key] = Candidate(key[0], key[1], round(1.0 - miss, 4), self.name, evidence)
        for (facet_name, label_id), cand in list(scored.items()):
            for ancestor in self._ancestors[(facet_name, label_id)]:
                parent = scored.get((facet_name, ancestor))
                if parent is None:
                    scored[(facet_name, ancestor)] = Candidate(facet_name, ancestor, cand.score, self.name, list(cand.evidence))
                elif parent.score < cand.score:
                    parent.score = cand.score
                    parent.evidence = sorted({(e.start, e.end): e for e in parent.evidence + cand.evidence}.values(), key=lambda e: e.start)
        return list(scored.values())
