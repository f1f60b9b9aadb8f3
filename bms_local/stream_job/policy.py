"""ASA's event-ordering policies, applied per input partition as the reference job models them.

With ``TIMESTAMP BY``, Stream Analytics compares each event's time with its arrival (enqueued)
time and with the events already seen on the same input partition:

* **late arrival**: event time earlier than ``arrival - late_s`` -> adjusted to
  ``arrival - late_s`` (policy Adjust) or dropped (Drop);
* **early arrival**: event time later than ``arrival + early_s`` (ASA: 5 minutes) -> adjusted
  to ``arrival + early_s`` or dropped;
* **out of order**: after that, earlier than ``newest seen - out_of_order_s`` -> adjusted to
  ``newest seen - out_of_order_s`` or dropped; within the tolerance it is re-ordered, which for
  a join that keeps both sides in state changes nothing.

Adjusted times are what ``System.Timestamp()`` and the join's ``DATEDIFF`` see; the payload
columns (``booking_time``...) keep the original values.

Enqueued times only grow on a partition, so an arrival earlier than one already seen on the
same partition is taken as arriving with it. Hence every event a partition admits from now on
gets a time of at least its :attr:`Timeline.arrival_ms` minus the late-arrival tolerance; the
job evicts on that.
"""

from __future__ import annotations

from typing import Final, NamedTuple

EARLY_ARRIVAL_S: Final = 300
"""ASA's fixed early-arrival window (not configurable)."""

LATE: Final = "late"
EARLY: Final = "early"
OUT_OF_ORDER: Final = "out_of_order"


class OrderingPolicy(NamedTuple):
    """The ``JobConfig.json`` settings the reference job honours (values in seconds)."""

    late_arrival_s: int = 60
    """``EventsLateArrivalMaxDelayInSeconds``; -1: no late-arrival policy (wait indefinitely)."""
    out_of_order_s: int = 10
    adjust: bool = True
    """``EventsOutOfOrderPolicy``: ``Adjust`` (True) or ``Drop`` (False)."""
    early_arrival_s: int = EARLY_ARRIVAL_S


class Timeline:
    """One input partition (bookings on partition 0, payments on partition 3, ...): its arrival
    clock and the newest event time it admitted."""

    __slots__ = ("_adjust", "_early_ms", "_late_ms", "_ooo_ms", "arrival_ms", "newest_ms")

    def __init__(self, policy: OrderingPolicy, arrival_ms: int) -> None:
        self._late_ms = policy.late_arrival_s * 1000 if policy.late_arrival_s >= 0 else None
        self._early_ms = policy.early_arrival_s * 1000
        self._ooo_ms = policy.out_of_order_s * 1000
        self._adjust = policy.adjust
        self.arrival_ms = arrival_ms
        """The newest arrival seen on this partition (or the clock it started from)."""
        self.newest_ms: int | None = None

    def admit(self, event_ms: int, arrival_ms: int) -> tuple[int | None, tuple[str, ...]]:
        """The event's time as the join sees it (``None``: dropped by the Drop policy), and the
        adjustments that applied, in ASA's order (late or early arrival, then out of order)."""
        if arrival_ms > self.arrival_ms:
            self.arrival_ms = arrival_ms
        else:
            arrival_ms = self.arrival_ms
        t = event_ms
        causes: tuple[str, ...] = ()
        late = self._late_ms
        if late is not None and t < arrival_ms - late:
            t, causes = arrival_ms - late, (LATE,)
        elif t > arrival_ms + self._early_ms:
            t, causes = arrival_ms + self._early_ms, (EARLY,)
        newest = self.newest_ms
        if newest is not None and t < newest - self._ooo_ms:
            t, causes = newest - self._ooo_ms, (*causes, OUT_OF_ORDER)
        if causes and not self._adjust:
            return None, causes
        if newest is None or t > newest:
            self.newest_ms = t
        return t, causes

    def advance(self, now_ms: int) -> None:
        """The partition is idle up to ``now_ms``: its arrival clock moves on."""
        if now_ms > self.arrival_ms:
            self.arrival_ms = now_ms
