"""Pydantic schema of a taxonomy file. Validation errors carry E2xx codes."""

from __future__ import annotations

import hashlib
import json
import re
from functools import cached_property

from pydantic import BaseModel, ConfigDict, Field, model_validator

from radar.errors import ErrorCode, TaxonomyError

__all__ = ["DEPARTMENTS", "DEPARTMENT_FORMS", "Facet", "LabelDef", "SourcePrior", "Taxonomy"]

DEPARTMENTS = ("市场", "数据", "集客", "服务", "网络")
# how feedback and tickets name the owning departments (DEPARTMENT entity patterns). Not added to
# the tokenizer's dictionary: every user word adds its frequency to jieba's total, and with these
# fifteen more jieba and jieba-rs began to cut 7 of 62,774 reviews differently (左下 / 左 下); the
# phrase patterns are cut by the same tokenizer as the text, so they match either way.
DEPARTMENT_FORMS: dict[str, tuple[str, ...]] = {
    "市场": ("市场部", "市场部门", "市场经营部"),
    "数据": ("数据部", "数据部门", "大数据中心", "数据中心"),
    "集客": ("集客部", "集客部门", "政企部", "政企客户部", "集团客户部"),
    "服务": ("客服部", "客户服务部", "客服中心", "服务部门"),
    "网络": ("网络部", "网络部门", "网管中心", "网优中心"),
}


class LabelDef(BaseModel):
    """One label: what it means, how to recognise it, and who owns it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str = Field(min_length=1, description="Chinese name shown to users and written on records")
    description: str = ""
    keywords: list[str] = Field(default_factory=list)
    negative_keywords: list[str] = Field(default_factory=list)
    regexes: list[str] = Field(default_factory=list)
    examples: list[str] = Field(default_factory=list)
    parent: str | None = None
    department: str | None = None
    retired: bool = False

    @model_validator(mode="after")
    def _check(self) -> LabelDef:
        if self.department is not None and self.department not in DEPARTMENTS:
            raise ValueError(f"department '{self.department}' is not one of {', '.join(DEPARTMENTS)}")
        for pattern in self.regexes:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise TaxonomyError(ErrorCode.E207, label=self.id, reason=str(exc)) from exc
        return self


class SourcePrior(BaseModel):
    """A label a record from some source leans to: every 投诉工单 is a complaint."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str
    score: float = Field(default=0.6, ge=0.0, le=1.0)


class Facet(BaseModel):
    """A labelling dimension: demand_category, complaint_type, intent, product, ..."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = ""
    multi_label: bool = False
    entity: bool = Field(default=False, description="Filled from entity matches, not judged for review")
    default: str | None = Field(default=None, description="Label id used when nothing matches (single-label)")
    source_priors: dict[str, SourcePrior] = Field(
        default_factory=dict, description="source -> the label a record from that source leans to"
    )
    labels: list[LabelDef]

    @cached_property
    def by_id(self) -> dict[str, LabelDef]:
        return {lab.id: lab for lab in self.labels}

    @cached_property
    def _paths(self) -> dict[str, str]:
        return {lab.id: self._walk_path(lab.id) for lab in self.labels}

    def path(self, label_id: str) -> str:
        """The label's name path from the facet's top level, e.g. ``触点/营业厅``."""
        return self._paths[label_id]

    def _walk_path(self, label_id: str) -> str:
        names: list[str] = []
        current: str | None = label_id
        while current is not None:
            lab = self.by_id[current]
            names.append(lab.name)
            current = lab.parent
        return "/".join(reversed(names))

    @cached_property
    def _ancestor_lists(self) -> dict[str, tuple[str, ...]]:
        out: dict[str, tuple[str, ...]] = {}
        for lab in self.labels:
            chain: list[str] = []
            parent = lab.parent
            while parent is not None:
                chain.append(parent)
                parent = self.by_id[parent].parent
            out[lab.id] = tuple(chain)
        return out

    def ancestors(self, label_id: str) -> list[str]:
        """Parent first, then its parent, up to the top level."""
        return list(self._ancestor_lists[label_id])

    def active(self) -> list[LabelDef]:
        return [lab for lab in self.labels if not lab.retired]


class Taxonomy(BaseModel):
    """A versioned taxonomy: facets of labels plus the synonym map shared with the tokenizer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str = Field(min_length=1)
    name: str = ""
    description: str = ""
    synonyms: dict[str, str] = Field(default_factory=dict, description="variant -> canonical term")
    extra_terms: list[str] = Field(default_factory=list, description="dictionary words that are no label")
    facets: list[Facet]

    @model_validator(mode="after")
    def _check_structure(self) -> Taxonomy:
        seen_facets: set[str] = set()
        for facet in self.facets:
            if facet.name in seen_facets:
                raise TaxonomyError(ErrorCode.E203, label=facet.name, facet="(facets)")
            seen_facets.add(facet.name)
            ids: set[str] = set()
            for lab in facet.labels:
                if lab.id in ids:
                    raise TaxonomyError(ErrorCode.E203, label=lab.id, facet=facet.name)
                ids.add(lab.id)
            for lab in facet.labels:
                if lab.parent is not None and lab.parent not in ids:
                    raise TaxonomyError(ErrorCode.E202, label=lab.id, parent=lab.parent, facet=facet.name)
            self._check_cycles(facet)
            for ref in [facet.default, *(p.label for p in facet.source_priors.values())]:
                if ref is not None and ref not in ids:
                    raise TaxonomyError(ErrorCode.E202, label="(default or prior)", parent=ref, facet=facet.name)
        return self

    @staticmethod
    def _check_cycles(facet: Facet) -> None:
        parents = {lab.id: lab.parent for lab in facet.labels}
        for start in parents:
            seen = {start}
            node = parents[start]
            while node is not None:
                if node in seen:
                    raise TaxonomyError(ErrorCode.E202, label=start, parent=node, facet=facet.name)
                seen.add(node)
                node = parents[node]

    @cached_property
    def by_name(self) -> dict[str, Facet]:
        return {f.name: f for f in self.facets}

    def facet(self, name: str) -> Facet:
        try:
            return self.by_name[name]
        except KeyError:
            raise TaxonomyError(ErrorCode.E204, facet=name, options=", ".join(self.by_name)) from None

    @cached_property
    def fingerprint(self) -> str:
        """Content hash: two files with the same version string but different content differ here."""
        payload = json.dumps(self.model_dump(mode="json"), ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:12]

    def dictionary_terms(self) -> list[str]:
        """Every word the tokenizer must keep whole: names, keywords, synonyms, extra terms."""
        terms: set[str] = set(self.extra_terms)
        terms.update(self.synonyms)
        terms.update(self.synonyms.values())
        for facet in self.facets:
            for lab in facet.labels:
                terms.add(lab.name)
                terms.update(lab.keywords)
                terms.update(lab.negative_keywords)
        return sorted(t for t in terms if t.strip())
