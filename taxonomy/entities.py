"""The taxonomy's side of entity extraction: which surface forms name which product, brand,
channel or department. ``nlp.entities.EntityExtractor`` takes the result; nlp never imports
taxonomy."""

from __future__ import annotations

from typing import TYPE_CHECKING

from taxonomy.schema import DEPARTMENT_FORMS, Taxonomy

if TYPE_CHECKING:
    from nlp.entities import EntityExtractor
    from nlp.tokenizer import Tokenizer

__all__ = ["ENTITY_FACETS", "entity_extractor", "entity_terms"]

# entity facet -> spaCy entity label
ENTITY_FACETS = {"product": "PRODUCT", "brand": "BRAND", "channel": "CHANNEL"}


def entity_terms(taxonomy: Taxonomy) -> dict[str, dict[str, list[str]]]:
    """``{entity label: {label path: [surface forms]}}``: names, keywords and their synonyms."""
    variants: dict[str, list[str]] = {}
    for variant, canonical in taxonomy.synonyms.items():
        variants.setdefault(canonical, []).append(variant)
    terms: dict[str, dict[str, list[str]]] = {}
    for facet in taxonomy.facets:
        label = ENTITY_FACETS.get(facet.name)
        if label is None:
            continue
        by_path = terms.setdefault(label, {})
        for lab in facet.active():
            forms = {lab.name, *lab.keywords}
            forms.update(v for f in list(forms) for v in variants.get(f, []))
            by_path[facet.path(lab.id)] = sorted(forms)
    terms["DEPARTMENT"] = {dept: sorted(forms) for dept, forms in DEPARTMENT_FORMS.items()}
    return terms


def entity_extractor(taxonomy: Taxonomy, tokenizer: Tokenizer | None = None) -> EntityExtractor:
    """An extractor whose patterns and tokenizer dictionary both come from this taxonomy."""
    from nlp.dictionary import TelecomDictionary
    from nlp.entities import EntityExtractor
    from nlp.tokenizer import Tokenizer

    if tokenizer is None:
        tokenizer = Tokenizer(TelecomDictionary.build(taxonomy.dictionary_terms(), taxonomy.synonyms))
    return EntityExtractor(entity_terms(taxonomy), tokenizer)
