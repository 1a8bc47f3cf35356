"""A seeded generator of SYNTHETIC feedback for demos and tests. Never measure quality on it."""

from __future__ import annotations

from ingestion.sample.generator import SampleSpec, generate_samples

__all__ = ["SampleSpec", "generate_samples"]
