"""The product's surfaces: the ``radar`` command line and (later) the HTTP API and web UI."""

from __future__ import annotations

__all__: list[str] = []
