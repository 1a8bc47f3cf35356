"""SimHash over character shingles, for near-duplicate detection of templated texts.

Digits are folded before shingling, so tickets that differ only in amounts, dates or numbers
hash alike. Vectorised with numpy (splitmix64 over polynomial 3-gram codes): a 140-character
ticket hashes in about ten microseconds, the same in every process.
"""

from __future__ import annotations

import re

import numpy as np

__all__ = ["BANDS", "MAX_DISTANCE", "bands", "hamming", "simhash"]

BANDS = 4  # 4 bands of 16 bits: two hashes within 3 bits share at least one band exactly
MAX_DISTANCE = 3
_DIGITS = re.compile(r"\d+")
_SPACE = re.compile(r"\s+")


def _splitmix64(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        out: np.ndarray = x ^ (x >> np.uint64(31))
        return out


def simhash(text: str, n: int = 3) -> int:
    """64-bit SimHash of the character n-grams, as a signed int (SQLite's INTEGER)."""
    compact = _DIGITS.sub("0", _SPACE.sub("", text))
    if not compact:
        return 0
    codes = np.frombuffer(compact.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    if len(codes) < n:
        codes = np.concatenate([codes, np.zeros(n - len(codes), dtype=np.uint64)])
    with np.errstate(over="ignore"):
        grams = np.zeros(len(codes) - n + 1, dtype=np.uint64)
        for i in range(n):
            grams = grams * np.uint64(1_000_003) + codes[i : len(codes) - n + 1 + i]
    hashes = _splitmix64(grams).astype("<u8")
    bits = np.unpackbits(hashes.view(np.uint8).reshape(-1, 8), axis=1, bitorder="little")  # bit i of each hash
    votes = bits.sum(axis=0, dtype=np.int64) * 2 - len(hashes)
    value = int(np.packbits(votes > 0, bitorder="little").view("<u8")[0])
    return value - (1 << 64) if value >= 1 << 63 else value


def bands(value: int) -> list[int]:
    """The 16-bit bands of a SimHash, tagged with their band number (a key for an index)."""
    unsigned = value & ((1 << 64) - 1)
    return [(i << 16) | ((unsigned >> (16 * i)) & 0xFFFF) for i in range(BANDS)]


def hamming(a: int, b: int) -> int:
    return ((a ^ b) & ((1 << 64) - 1)).bit_count()
