"""The reference stream job: ``asa/bms_join.asaql`` in plain Python, one event at a time.

Where each part of the query lives:

==============================================  ===================================================
query                                           code
==============================================  ===================================================
``FROM [bookings]``, ``FROM [payments]``        :class:`.Arrival`; :mod:`.sources` (files, hubs)
``CleanBookings``/``CleanPayments``: TRY_CAST   :func:`.intake.usable`, :mod:`.clean` (exact path)
``WHERE`` drops an unusable event               ``rejected:*`` counts, :attr:`StreamJob.rejects`
``TIMESTAMP BY booking_time``/``payment_time``  :func:`.intake.usable` returns the event time
JobConfig event ordering, per input partition   :meth:`.Timeline.admit`; ``adjusted:``/``dropped:``
``ON b.order_id = p.order_id`` (any partition)  :meth:`.JoinState.add`, by order id
``DATEDIFF(second, b, p) BETWEEN 0 AND 900``    :meth:`.JoinState.add`, on the adjusted times
every matching pair, duplicates too             :meth:`.JoinState.add`; ``duplicate:*`` counts
``System.Timestamp() AS joined_at``             :attr:`.JoinedPair.joined_at_ms` (the later time)
``Paired``, ``SeatRows``, ``SELECT ... INTO``   :meth:`.JoinedPair.rows` (``bms_core.projection``)
state held while a later event could match      :meth:`StreamJob._evict`; ``unmatched:*`` counts
==============================================  ===================================================

Arrivals are taken in the order given, which is arrival order: pairs come out as the matches
become known (when the later of the two events is admitted). Feeding events one at a time, in
batches or through :meth:`StreamJob.process` gives the same pairs in the same order and the
same counts.

**Eviction never changes the output.** Every event an input partition admits from now on gets
a time of at least that partition's arrival clock minus the late-arrival tolerance (its
floor; :mod:`.policy`). A booking's payments may come from any partition, so the job's
floor is the lowest of all partitions' floors (the merge waits for the slowest partition, as
ASA's does), and a partition first heard from later starts its clock at the slowest one's. An
event more than a window below the floor can neither match nor repeat anything still to come,
so it is let go, and counted as unmatched if it never matched. A partition that falls silent
holds the floor back until :meth:`StreamJob.advance` (live sources call it when idle) or the
end of input. Without a late-arrival policy (``late_arrival_s=-1``) there is no floor, and
nothing is let go before :meth:`StreamJob.flush`.
"""

from __future__ import annotations

import json
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from typing import Final

from bms_core.names import PARTITION_COUNT
from bms_core.projection import JOIN_WINDOW_MS
from bms_local.stream_job.intake import usable
from bms_local.stream_job.policy import OrderingPolicy, Timeline
from bms_local.stream_job.records import Arrival, JoinedPair, Reject
from bms_local.stream_job.state import Held, JoinState

BOOKING: Final = "booking"
PAYMENT: Final = "payment"
RECENT_REJECTS: Final = 100
EVICT_EVERY: Final = 256
"""Events admitted between two evictions (when is free: eviction never changes the output)."""
_IN: Final = ("in:payment", "in:booking")


class StreamJob:
    """Feed it arrivals; it returns every joined pair and keeps counts of everything else."""

    def __init__(
        self,
        policy: OrderingPolicy | None = None,
        *,
        partition_count: int = PARTITION_COUNT,
        window_ms: int = JOIN_WINDOW_MS,
    ) -> None:
        self.policy = policy or OrderingPolicy()
        self.partition_count = partition_count
        """Partitions of the joined output hub, whose rows are keyed by ``order_id``."""
        self.window_ms = window_ms
        self.counts: Counter[str] = Counter()
        self.rejects: deque[Reject] = deque(maxlen=RECENT_REJECTS)
        self._state = JoinState(window_ms)
        self._timelines: dict[tuple[int, bool], Timeline] = {}
        """``(partition, is_booking)`` -> that input partition's timeline."""
        self._until_evict = EVICT_EVERY

    # --- input -----------------------------------------------------------------------------

    def feed(self, arrival: Arrival) -> list[JoinedPair]:
        """Admit one event; the pairs it completes (usually none or one)."""
        out: list[JoinedPair] = []
        self._admit(arrival, out)
        return out

    def feed_all(self, arrivals: Iterable[Arrival]) -> list[JoinedPair]:
        """Admit events in arrival order; every pair they complete, in the order the matches
        become known."""
        out: list[JoinedPair] = []
        admit = self._admit
        for arrival in arrivals:
            admit(arrival, out)
        return out

    def process(self, arrivals: Iterable[Arrival]) -> Iterator[JoinedPair]:
        """Every joined pair of ``arrivals``, yielded as soon as it is known."""
        out: list[JoinedPair] = []
        admit = self._admit
        for arrival in arrivals:
            admit(arrival, out)
            if out:
                yield from out
                out = []

    def _admit(self, arrival: Arrival, out: list[JoinedPair]) -> None:
        """One event through the clean step, the ordering policy and the join.

        ``ValueError`` names a field of the arrival that is not what :class:`.Arrival` says
        (the event is not taken; the ones before it were)."""
        kind, body, arrival_ms, partition = arrival
        if kind == BOOKING:
            is_booking = True
        elif kind == PAYMENT:
            is_booking = False
        else:
            raise ValueError(f"Arrival.kind must be {BOOKING!r} or {PAYMENT!r}, got {kind!r}")
        if partition is None:
            partition = 0
        elif type(partition) is not int:
            raise ValueError(f"Arrival.partition must be an integer, got {partition!r}")
        if arrival_ms is not None and type(arrival_ms) is not int:
            raise ValueError(
                f"Arrival.arrival_ms must be an integer (epoch ms), got {arrival_ms!r}"
            )
        self.counts[_IN[is_booking]] += 1
        event = usable(body, is_booking)
        if type(event) is str:
            self._reject(kind, event, body)
            return
        order_id, event_id, event_ms, held = event
        if arrival_ms is None:
            arrival_ms = event_ms
        timeline = self._timelines.get((partition, is_booking))
        if timeline is None:
            timeline = self._new_timeline(partition, is_booking, arrival_ms)
        t, causes = timeline.admit(event_ms, arrival_ms)
        if causes:
            self._count_adjusted(kind, causes, dropped=t is None)
        if t is None:
            return
        pairs_before = len(out)
        if self._state.add(Held(order_id, event_id, t, held, is_booking, partition), out):
            self.counts["duplicate:" + kind] += 1
        if len(out) > pairs_before:
            self.counts["joined_pairs"] += len(out) - pairs_before
        self._until_evict -= 1
        if not self._until_evict:
            self._evict()

    def _new_timeline(self, partition: int, is_booking: bool, arrival_ms: int) -> Timeline:
        """A partition heard from for the first time starts its arrival clock no earlier than
        the slowest partition already known: the job reads every partition as it goes, so one
        that shows up now is taken to be at least that far along."""
        known = [t.arrival_ms for t in self._timelines.values()]
        start = max(arrival_ms, min(known)) if known else arrival_ms
        timeline = self._timelines[(partition, is_booking)] = Timeline(self.policy, start)
        return timeline

    def _count_adjusted(self, kind: str, causes: tuple[str, ...], *, dropped: bool) -> None:
        if dropped:
            self.counts[f"dropped:{kind}.{causes[0]}"] += 1
            return
        for cause in causes:
            self.counts[f"adjusted:{kind}.{cause}"] += 1

    def _reject(self, kind: str, cause: str, body: object) -> None:
        self.counts["rejected:" + cause] += 1
        if isinstance(body, bytes):
            text = body[:200].decode("utf-8", "replace")
        elif isinstance(body, dict):
            text = json.dumps(body, ensure_ascii=False, default=str)[:200]
        else:
            text = str(body)[:200]
        self.rejects.append(Reject(kind, cause, text))

    # --- time and state --------------------------------------------------------------------

    def advance(self, now_ms: int) -> None:
        """Every input partition is idle up to ``now_ms`` (live sources call this when nothing
        is waiting): their arrival clocks move on, and what can no longer match is let go."""
        for timeline in self._timelines.values():
            timeline.advance(now_ms)
        self._evict()

    def _evict(self) -> None:
        """Let go of every held event more than a window below the floor (see the module's
        docstring); count those that never matched."""
        self._until_evict = EVICT_EVERY
        if not self._timelines or self.policy.late_arrival_s < 0:
            return  # no event yet, or no late-arrival policy: nothing can be ruled out
        floor = (
            min(t.arrival_ms for t in self._timelines.values()) - self.policy.late_arrival_s * 1000
        )
        self._count_unmatched(*self._state.evict(floor - self.window_ms))

    def flush(self) -> None:
        """End of input: everything still held is counted (those never matched) and let go."""
        self._count_unmatched(*self._state.clear())

    def _count_unmatched(self, bookings: int, payments: int) -> None:
        if bookings:
            self.counts["unmatched:booking"] += bookings
        if payments:
            self.counts["unmatched:payment"] += payments

    @property
    def held_events(self) -> int:
        """Events currently held (what the job's memory is proportional to)."""
        return len(self._state)

    def summary(self) -> dict[str, dict[str, int]]:
        """Counts grouped as a person reads them: in, rejected, adjusted, unmatched, ..."""
        grouped: dict[str, dict[str, int]] = {}
        for key, value in sorted(self.counts.items()):
            group, _, name = key.partition(":")
            grouped.setdefault(group, {})[name or group] = value
        return grouped
