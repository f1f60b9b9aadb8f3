"""Time for the handlers: the wall clock, or the clock of the running :mod:`bms_core.runtime`."""

from __future__ import annotations

import time


def wall_ms() -> int:
    """Current UTC time in epoch milliseconds."""
    return time.time_ns() // 1_000_000


def now_ms() -> int:
    """The running runtime's time: the wall clock in Azure, simulated in the local demo."""
    from bms_core import runtime

    return runtime.current().clock()
