"""Ordered parallel map over a stream: worker processes, bounded look-ahead, no orphans."""

from __future__ import annotations

import signal
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, TypeVar

__all__ = ["die_with_parent", "ordered_map"]

T = TypeVar("T")
R = TypeVar("R")


def die_with_parent() -> None:
    """Call in a worker process: it ends with its parent, even when that is killed with SIGKILL (Linux)."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


def _die_with_parent(initializer: Callable[..., None] | None, initargs: tuple[Any, ...]) -> None:
    die_with_parent()
    if initializer is not None:
        initializer(*initargs)


def ordered_map(
    func: Callable[..., R],
    items: Iterable[T],
    *args: Any,
    workers: int = 1,
    initializer: Callable[..., None] | None = None,
    initargs: tuple[Any, ...] = (),
) -> Iterator[R]:
    """``func(item, *args)`` for each item, results in input order.

    With ``workers > 1`` the calls run in that many processes, at most ``2 * workers`` ahead of
    the consumer, so memory stays flat on any input size. ``func`` must be picklable.
    """
    if workers <= 1:
        if initializer is not None:
            initializer(*initargs)
        for item in items:
            yield func(item, *args)
        return
    with ProcessPoolExecutor(max_workers=workers, initializer=_die_with_parent, initargs=(initializer, initargs)) as pool:
        pending: deque[Future[R]] = deque()
        for item in items:
            pending.append(pool.submit(func, item, *args))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
