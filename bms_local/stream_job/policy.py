"""ASA's event-ordering policies, per input and partition, as the reference job applies them.

With ``TIMESTAMP BY``, Stream Analytics compares each event's time with its arrival (enqueued)
time and with the events already seen on the same input partition:

* **late arrival**: event time earlier than ``arrival - late_s`` -> adjusted to
  ``arrival - late_s`` (policy Adjust) or dropped (Drop);
* **early arrival**: event time later than ``arrival + early_s`` (ASA: 5 minutes) -> adjusted
  to ``arrival + early_s`` or dropped;
* **out of order**: after that, earlier than ``max seen - out_of_order_s`` -> adjusted to
  ``max seen - out_of_order_s`` or dropped; within the tolerance it is re-ordered, which for a
  join that keeps both sides in state changes nothing.

Adjusted times are what ``System.Timestamp()`` and the join's ``DATEDIFF`` see; the payload
columns (``booking_time``...) keep the original values. No later event on the partition can get
a time below :attr:`Timeline.watermark`, which is what makes eviction exact.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, NamedTuple

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

EARLY_ARRIVAL_S: Final = 300
"""ASA's fixed early-arrival window (not configurable)."""


class OrderingPolicy(NamedTuple):
    """The JobConfig.json settings the reference job honours (values in seconds)."""

    late_arrival_s: int = 60
    out_of_order_s: int = 10
    adjust: bool = True
    """``EventsOutOfOrderPolicy``: ``Adjust`` (True) or ``Drop`` (False)."""
    early_arrival_s: int = EARLY_ARRIVAL_S


ADJUSTED_LATE: Final = "late"
ADJUSTED_EARLY: Final = "early"
ADJUSTED_OUT_OF_ORDER: Final = "out_of_order"


class Timeline:
    """Event-time bookkeeping of one input partition (bookings/p0, payments/p3, ...)."""

    __slots__ = (
        "_early_ms",
        "_late_ms",
        "_ooo_ms",
        "adjust",
        "max_arrival_ms",
        "max_event_ms",
        "watermark",
    )

    def __init__(self, policy: OrderingPolicy) -> None:
        self._late_ms = policy.late_arrival_s * 1000 if policy.late_arrival_s >= 0 else None
        self._early_ms = policy.early_arrival_s * 1000
        self._ooo_ms = policy.out_of_order_s * 1000
        self.adjust = policy.adjust
        self.max_event_ms: int | None = None
        self.max_arrival_ms: int | None = None
        self.watermark: int | None = None
        """No event admitted from now on gets an event time below this (``None``: unknown)."""

    def admit(self, event_ms: int, arrival_ms: int) -> tuple[int, tuple[str, ...]]:
        """The event's time as the job sees it, and every adjustment applied (in ASA's order:
        late or early arrival first, then out of order). Empty when the time is unchanged.

        With the Drop policy a changed event must be discarded by the caller.
        """
        top_arrival = self.max_arrival_ms
        if top_arrival is not None and arrival_ms < top_arrival:
            arrival_ms = top_arrival  # enqueued times only grow on a partition
        causes: tuple[str, ...] = ()
        t = event_ms
        late = self._late_ms
        if late is not None and t < arrival_ms - late:
            t, causes = arrival_ms - late, (ADJUSTED_LATE,)
        elif t > arrival_ms + self._early_ms:
            t, causes = arrival_ms + self._early_ms, (ADJUSTED_EARLY,)
        top = self.max_event_ms
        if top is not None and t < top - self._ooo_ms:
            t, causes = top - self._ooo_ms, (*causes, ADJUSTED_OUT_OF_ORDER)
        if not causes or self.adjust:
            if top is None or t > top:
                self.max_event_ms = top = t
            self.max_arrival_ms = arrival_ms
            mark = top - self._ooo_ms  # what _mark computes, inlined: once per event
            if late is not None and arrival_ms - late > mark:
                mark = arrival_ms - late
            self.watermark = mark
        return t, causes

    def admit_many(
        self, event_ms: NDArray[np.int64], arrival_ms: NDArray[np.int64]
    ) -> tuple[NDArray[np.int64], NDArray[np.bool_], NDArray[np.bool_], NDArray[np.bool_]]:
        """:meth:`admit` for many events of this partition at once, in arrival order, with the
        Adjust policy: ``(times, late, early, out_of_order)`` (the last three mark which events
        each adjustment changed). Same times and the same state afterwards as calling
        :meth:`admit` event by event (a test compares them).

        Why it vectorizes: the newest event time seen after event *i* is the running maximum of
        the arrival-adjusted times, because an out-of-order adjustment never raises it.
        """
        import numpy as np

        if not self.adjust:
            raise ValueError("admit_many applies the Adjust policy; Drop goes event by event")
        if not len(event_ms):
            empty = np.zeros(0, dtype=bool)
            return event_ms.copy(), empty, empty, empty
        arrivals = np.maximum.accumulate(arrival_ms)
        if self.max_arrival_ms is not None:
            np.maximum(arrivals, self.max_arrival_ms, out=arrivals)
        times = event_ms.copy()
        late = np.zeros(len(times), dtype=bool)
        if self._late_ms is not None:
            floor = arrivals - self._late_ms
            late = times < floor
            times[late] = floor[late]
        ceiling = arrivals + self._early_ms
        early = ~late & (times > ceiling)
        times[early] = ceiling[early]
        newest = np.maximum.accumulate(times)
        before = np.empty_like(newest)
        before[1:] = newest[:-1]
        top = self.max_event_ms
        if top is None:
            before[0] = times[0]  # the first event ever seen on a partition is never out of order
        else:
            before[0] = top
            np.maximum(before, top, out=before)
        bound = before - self._ooo_ms
        out_of_order = times < bound
        times[out_of_order] = bound[out_of_order]
        newest_top = int(newest[-1]) if top is None else max(top, int(newest[-1]))
        self.max_event_ms = newest_top
        self.max_arrival_ms = last_arrival = int(arrivals[-1])
        mark = newest_top - self._ooo_ms
        if self._late_ms is not None and last_arrival - self._late_ms > mark:
            mark = last_arrival - self._late_ms
        self.watermark = mark
        return times, late, early, out_of_order

    def advance(self, now_ms: int) -> None:
        """An idle partition's arrival clock moves on (live inputs call this periodically)."""
        if self.max_arrival_ms is None or now_ms > self.max_arrival_ms:
            self.max_arrival_ms = now_ms
            self._mark(self.max_event_ms, now_ms)

    def _mark(self, top: int | None, arrival_ms: int) -> None:
        mark = None if top is None else top - self._ooo_ms
        if self._late_ms is not None:
            by_arrival = arrival_ms - self._late_ms
            if mark is None or by_arrival > mark:
                mark = by_arrival
        self.watermark = mark
