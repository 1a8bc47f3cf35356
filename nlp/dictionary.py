"""The telecom dictionary: one versioned artefact shared by tokenizer, search index and entities."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

__all__ = ["USER_FREQ", "TelecomDictionary", "fold_units"]

# a high frequency makes the segmenters keep a dictionary term whole even against common splits
USER_FREQ = 200_000

_GB = re.compile(r"(\d+(?:\.\d+)?)\s*(?:GB|gb|Gb|个G|个g|G(?=流量|的流量|通用|定向|国内|全国)|g(?=流量))")
_MB = re.compile(r"(\d+(?:\.\d+)?)\s*(?:MB|mb|Mb|兆(?!瓦|赫|宽带)|M(?=流量|的流量))")


def fold_units(text: str) -> str:
    """Write data volumes one way: ``3个G``/``3G流量``/``3gb`` -> ``3GB``, ``500兆``/``500M流量`` -> ``500MB``.

    A bare ``5G`` stays as written: it names the network generation far more often than a volume.
    """
    return _MB.sub(r"\1MB", _GB.sub(r"\1GB", text))


@dataclass(frozen=True)
class TelecomDictionary:
    """Words to keep whole and variants to fold to one canonical term.

    ``version`` is derived from the content, so any change to the words or synonyms gives a
    new version; the index stores it and refuses to mix versions silently.
    """

    terms: tuple[str, ...]
    synonyms: Mapping[str, str] = field(default_factory=dict)
    name: str = "telecom"

    @classmethod
    def build(cls, terms: Iterable[str], synonyms: Mapping[str, str] | None = None, name: str = "telecom") -> TelecomDictionary:
        syn = dict(sorted((synonyms or {}).items()))
        words = set(terms) | set(syn) | set(syn.values())
        return cls(terms=tuple(sorted(w for w in words if w.strip())), synonyms=syn, name=name)

    @property
    def version(self) -> str:
        digest = hashlib.sha256()
        for term in self.terms:
            digest.update(term.encode() + b"\n")
        for variant, canonical in self.synonyms.items():
            digest.update(f"{variant}\t{canonical}\n".encode())
        return f"{self.name}-{digest.hexdigest()[:10]}"

    def canonical(self, word: str) -> str:
        return self.synonyms.get(word, word)

    def to_jieba_userdict(self) -> str:
        """The dictionary in jieba's user-dictionary text format (word freq per line)."""
        return "".join(f"{term.replace(' ', '')} {USER_FREQ}\n" for term in self.terms if " " not in term.strip())
