"""``python -m api`` runs the radar command line."""

from __future__ import annotations

from api.cli import main

main()
