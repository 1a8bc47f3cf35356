from __future__ import annotations

from radar.parallel import ordered_map


def _square_plus(x: int, offset: int) -> int:
    return x * x + offset


def test_order_is_kept_with_and_without_workers() -> None:
    items = range(200)
    expected = [x * x + 3 for x in items]
    assert list(ordered_map(_square_plus, items, 3)) == expected
    assert list(ordered_map(_square_plus, iter(items), 3, workers=2)) == expected


def test_consumes_lazily() -> None:
    seen: list[int] = []

    def source() -> object:
        for i in range(10_000):
            seen.append(i)
            yield i

    first = next(ordered_map(_square_plus, source(), 0, workers=2))
    assert first == 0 and len(seen) <= 8  # bounded look-ahead: 2 x workers submitted, not the whole stream
