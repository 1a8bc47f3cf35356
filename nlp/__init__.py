"""Understanding Chinese feedback: normalisation, PII masking, tokenisation, keywords, sentiment.

Importing this package is cheap: heavy libraries (jieba, opencc, spaCy, torch) load lazily
inside the functions and components that need them.
"""

from __future__ import annotations

__all__: list[str] = []
