"""The versioned label taxonomy and the classifiers that apply it."""

from __future__ import annotations

from taxonomy.loader import bundled_taxonomy_path, load_taxonomy
from taxonomy.schema import Facet, LabelDef, Taxonomy

__all__ = ["Facet", "LabelDef", "Taxonomy", "bundled_taxonomy_path", "load_taxonomy"]
