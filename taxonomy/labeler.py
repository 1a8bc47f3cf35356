"""The ensemble: combines classifier candidates per facet into labels a demand manager can trust.

Per facet it keeps the best-supported labels, writes sub-labels as paths (``消费/流量``), adds
structured evidence from the source (the ticket's own complaint type, the source's prior),
and marks the facet ``needs_review`` instead of guessing when confidence is low.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from nlp.sentiment import SentimentResult, analyze_sentiment
from radar.records import Evidence, Label
from taxonomy.classifiers.base import Candidate, Classifier, Document
from taxonomy.classifiers.rules import RulesClassifier
from taxonomy.schema import Facet, Taxonomy

__all__ = ["LabelResult", "Labeler", "TurnSentiment"]

logger = logging.getLogger(__name__)

COMPLAINT_INTENT = "complain"
TICKET_FIELD_SCORE = 0.95
DEFAULT_SCORE = 0.3
MIN_MULTI_SCORE = 0.5


@dataclass(slots=True)
class LabelResult:
    labels: dict[str, list[Label]] = field(default_factory=dict)
    needs_review: list[str] = field(default_factory=list)
    turn_sentiment: list[TurnSentiment] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class TurnSentiment:
    """Sentiment of one call turn: where in a call the customer's mood turns."""

    turn: int
    speaker: str
    polarity: str
    score: float
    intensity: float
    escalation: bool


def _run_many(clf: Classifier, docs: Sequence[Document]) -> list[list[Candidate]]:
    batch = getattr(clf, "run_many", None)
    if batch is not None:
        out: list[list[Candidate]] = batch(docs)
        return out
    return [clf.run(d) for d in docs]


def _noisy_or(scores: Iterable[float]) -> float:
    miss = 1.0
    for s in scores:
        miss *= 1.0 - s
    return 1.0 - miss


class Labeler:
    """Labels documents with every facet of a taxonomy.

    ``classifiers`` default to the taxonomy's rules; trained and zero-shot classifiers are
    added to the list and take part per facet through the same noisy-or combination.
    """

    def __init__(
        self,
        taxonomy: Taxonomy,
        classifiers: Sequence[Classifier] | None = None,
        *,
        backups: Sequence[Classifier] = (),
        review_threshold: float = 0.45,
    ) -> None:
        self.taxonomy = taxonomy
        self.classifiers: list[Classifier] = list(classifiers) if classifiers else [RulesClassifier(taxonomy)]
        self.backups: list[Classifier] = list(backups)
        self.review_threshold = review_threshold

    @property
    def version(self) -> str:
        names = [c.name for c in self.classifiers] + [f"backup:{c.name}" for c in self.backups]
        return f"{self.taxonomy.version}+{'+'.join(names)}"

    def warm_up(self) -> None:
        for clf in [*self.classifiers, *self.backups]:
            clf.warm_up()

    def run(self, doc: Document) -> LabelResult:
        return self.run_many([doc])[0]

    def run_many(self, docs: Sequence[Document]) -> list[LabelResult]:
        """Label a batch; backup classifiers (zero-shot) run once over the batch, used only where needed."""
        primary = [self._candidates(self.classifiers, d) for d in docs]
        need = [self._facets_needing_backup(d, c) for d, c in zip(docs, primary, strict=True)]
        if self.backups and any(need):
            todo = [i for i, n in enumerate(need) if n]
            for clf in self.backups:
                batch = _run_many(clf, [docs[i] for i in todo])
                for i, cands in zip(todo, batch, strict=True):
                    for cand in cands:
                        if cand.facet in need[i]:
                            primary[i][cand.facet].append(cand)
        return [self._decide(d, c) for d, c in zip(docs, primary, strict=True)]

    @staticmethod
    def _candidates(classifiers: Sequence[Classifier], doc: Document) -> dict[str, list[Candidate]]:
        by_facet: dict[str, list[Candidate]] = defaultdict(list)
        for clf in classifiers:
            for cand in clf.run(doc):
                by_facet[cand.facet].append(cand)
        return by_facet

    def _facets_needing_backup(self, doc: Document, cands: dict[str, list[Candidate]]) -> set[str]:
        """Facets the primaries leave without a confident answer."""
        if not self.backups:
            return set()
        need = set()
        for facet in self.taxonomy.facets:
            if facet.entity:
                continue
            floor = MIN_MULTI_SCORE if facet.multi_label else self.review_threshold
            prior = facet.source_priors.get(doc.source or "")
            best = max([c.score for c in cands.get(facet.name, [])] + [prior.score if prior else 0.0])
            if best < floor:
                need.add(facet.name)
        return need

    @cached_property
    def _plan(self) -> list[tuple[Facet, str]]:
        """Each facet with how it is decided; intent first, since complaint_type depends on it."""
        def kind(f: Facet) -> str:
            return "complaint_type" if f.name == "complaint_type" else "multi" if f.multi_label else "single"

        kinds = [(f, kind(f)) for f in self.taxonomy.facets]
        return sorted(kinds, key=lambda fk: fk[0].name != "intent")

    def _decide(self, doc: Document, by_facet: dict[str, list[Candidate]]) -> LabelResult:
        result = LabelResult()
        senti = analyze_sentiment(doc.text)
        for facet, kind in self._plan:
            cands = by_facet.get(facet.name, [])
            if facet.name == "intent":
                self._single(facet, self._with_prior(facet, doc, cands + self._dissatisfaction(facet, senti)), result)
            elif kind == "complaint_type":
                self._complaint_type(facet, doc, cands, result)
            elif kind == "multi":
                if cands:
                    self._multi(facet, cands, result)
            else:
                self._single(facet, cands, result)
        self._sentiment(senti, result)
        if doc.turns:
            result.turn_sentiment = [
                TurnSentiment(i, speaker, r.polarity, r.score, r.intensity, r.escalation)
                for i, (speaker, text) in enumerate(doc.turns)
                for r in [analyze_sentiment(text)]
            ]
        return result

    # -- facets ---------------------------------------------------------------------------

    @staticmethod
    def _merge(cands: list[Candidate]) -> dict[str, Candidate]:
        if len(cands) == 1:  # the common case: one classifier proposed one label
            return {cands[0].label_id: cands[0]}
        merged: dict[str, Candidate] = {}
        grouped: dict[str, list[Candidate]] = defaultdict(list)
        for c in cands:
            grouped[c.label_id].append(c)
        for label_id, group in grouped.items():
            if len(group) == 1:  # the common case: nothing to combine
                merged[label_id] = group[0]
                continue
            best = max(group, key=lambda c: c.score)
            evidence = sorted({(e.start, e.end): e for c in group for e in c.evidence}.values(), key=lambda e: e.start)
            sources = "+".join(sorted({c.source for c in group}))
            merged[label_id] = Candidate(best.facet, label_id, round(_noisy_or(c.score for c in group), 4), sources, evidence)
        return merged

    def _label(self, facet: Facet, cand: Candidate) -> Label:
        return Label.of(facet.path(cand.label_id), min(1.0, cand.score), cand.source, cand.evidence)

    def _with_prior(self, facet: Facet, doc: Document, cands: list[Candidate]) -> list[Candidate]:
        prior = facet.source_priors.get(doc.source or "")
        out = list(cands)
        if prior is not None:
            out.append(Candidate(facet.name, prior.label, prior.score, "source_prior"))
        if not out and facet.default is not None:
            out.append(Candidate(facet.name, facet.default, DEFAULT_SCORE, "default"))
        return out

    def _single(self, facet: Facet, cands: list[Candidate], result: LabelResult) -> None:
        merged = self._merge(cands)
        if not merged:
            if not facet.entity:
                result.needs_review.append(facet.name)
            return
        ranked = sorted(merged.values(), key=lambda c: (-c.score, c.label_id))
        best = ranked[0]
        # a near-tie between two labels is as unsure as a low score
        margin = best.score - ranked[1].score if len(ranked) > 1 else best.score
        if best.score < self.review_threshold or margin < 0.05:
            result.needs_review.append(facet.name)
            return
        result.labels[facet.name] = [self._label(facet, best)]

    def _multi(self, facet: Facet, cands: list[Candidate], result: LabelResult) -> None:
        if not cands:
            return
        merged = self._merge(cands)
        chosen = [c for c in merged.values() if c.score >= MIN_MULTI_SCORE or facet.entity]
        for cand in list(chosen):  # a sub-label implies its parent, whichever classifier proposed it
            for ancestor in facet.ancestors(cand.label_id):
                held = next((c for c in chosen if c.label_id == ancestor), None)
                if held is None:
                    chosen.append(Candidate(facet.name, ancestor, cand.score, cand.source, list(cand.evidence)))
                elif held.score < cand.score:
                    held.score = cand.score
        chosen.sort(key=lambda c: (-c.score, facet.path(c.label_id)))
        if chosen:
            result.labels[facet.name] = [self._label(facet, c) for c in chosen]

    def _complaint_type(self, facet: Facet, doc: Document, cands: list[Candidate], result: LabelResult) -> None:
        from_field = self._from_ticket_field(facet, doc)
        if from_field is not None:
            cands = [*cands, from_field]
        intent = result.labels.get("intent")
        is_complaint = doc.source == "tickets" or (intent is not None and intent[0].label == self._complaint_intent)
        if not is_complaint:
            return  # a question or a suggestion has no complaint type: nothing to review
        if not cands and facet.default is not None:
            cands = [Candidate(facet.name, facet.default, DEFAULT_SCORE, "default")]
        self._single(facet, cands, result)

    @cached_property
    def _complaint_intent(self) -> str:
        return self._intent_name(COMPLAINT_INTENT)

    def _intent_name(self, label_id: str) -> str:
        facet = self.taxonomy.by_name.get("intent")
        return facet.by_id[label_id].name if facet and label_id in facet.by_id else label_id

    @staticmethod
    def _from_ticket_field(facet: Facet, doc: Document) -> Candidate | None:
        """The agent's own choice on the ticket, when one of its levels names a complaint type."""
        for level in reversed(doc.complaint_type_path):
            for lab in facet.active():
                if lab.name == level or (lab.name in level and len(lab.name) >= 3):
                    return Candidate(facet.name, lab.id, TICKET_FIELD_SCORE, "ticket_field", [Evidence.of(level, -1, -1)])
        return None

    @staticmethod
    def _dissatisfaction(facet: Facet, senti: SentimentResult) -> list[Candidate]:
        """Clearly negative wording is a complaint even without the word 投诉."""
        if COMPLAINT_INTENT not in facet.by_id or senti.score > -0.3:
            return []
        evidence = [Evidence.of(t, s, e) for t, s, e in senti.cues if t]
        score = min(0.85, 0.45 + abs(senti.score) / 2 + (0.1 if senti.escalation else 0.0))
        return [Candidate(facet.name, COMPLAINT_INTENT, round(score, 4), "sentiment", evidence[:6])]

    @staticmethod
    def _sentiment(senti: SentimentResult, result: LabelResult) -> None:
        evidence = [Evidence.of(t, s, e) for t, s, e in senti.cues[:8]]
        confidence = round(0.5 + abs(senti.score) / 2, 4) if senti.polarity != "中性" else 0.5
        result.labels["sentiment"] = [Label.of(senti.polarity, confidence, "lexicon", evidence)]
        if senti.escalation:
            esc = [Evidence.of(t, s, e) for t, s, e in senti.escalation_cues]
            result.labels["escalation"] = [Label(label="升级风险", score=min(1.0, 0.6 + 0.1 * len(esc)), source="lexicon", evidence=esc)]
