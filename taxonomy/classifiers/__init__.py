"""Classifiers that apply a taxonomy. One ``Classifier`` protocol, several implementations."""

from __future__ import annotations

from taxonomy.classifiers.base import Candidate, Classifier, Document
from taxonomy.classifiers.rules import RulesClassifier

__all__ = ["Candidate", "Classifier", "Document", "RulesClassifier"]
