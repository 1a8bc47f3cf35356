"""Bottom layer of Demand Radar: record model, settings and errors, importable by every package."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
