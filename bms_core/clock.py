"""The one place handlers read the current time, so the local demo can run on a simulated clock.

In Azure this is the wall clock. ``python -m bms_local demo`` swaps in a simulated clock with
:func:`use_clock` so an hour of traffic runs in seconds through the very same handlers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_source: Callable[[], int] = lambda: time.time_ns() // 1_000_000  # noqa: E731


def now_ms() -> int:
    """Current UTC time in epoch milliseconds (simulated when the local demo says so)."""
    return _source()


@contextmanager
def use_clock(source: Callable[[], int]) -> Iterator[None]:
    """Within the block, :func:`now_ms` returns ``source()``; restored afterwards."""
    global _source
    previous = _source
    _source = source
    try:
        yield
    finally:
        _source = previous
