"""A small LRU of ranked keyword results per process: paging, facet clicks and popular queries
answer from memory. Keys include the store's search epoch, so any write makes old entries
unreachable (they age out); a result is never served for data it was not computed on."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np

__all__ = ["RankedResult", "ResultCache"]


@dataclass(frozen=True)
class RankedResult:
    rowids: np.ndarray  # every match, in the requested order
    scores: np.ndarray
    total: int
    relaxed: bool
    terms: tuple[str, ...]  # what hits are highlighted with
    facets: dict[str, dict[str, int]]
    group_sizes: np.ndarray | None = None  # collapsed: how many hits each returned one stands for


class ResultCache:
    def __init__(self, size: int = 128) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, RankedResult] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: Hashable) -> RankedResult | None:
        with self._lock:
            found = self._items.get(key)
            if found is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return found

    def put(self, key: Hashable, value: RankedResult) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
