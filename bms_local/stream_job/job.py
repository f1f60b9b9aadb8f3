"""The reference stream job: ``asa/bms_join.asaql`` in Python, event by event.

Semantics it shares with the query (each one checked by a test):

* event time is ``booking_time`` / ``payment_time`` (``TIMESTAMP BY``), after the ordering
  policy of :mod:`bms_local.stream_job.policy` given each event's arrival (enqueued) time;
* partition-aligned: a booking only meets payments of the same input partition
  (``b.PartitionId = p.PartitionId``), as the producers route both by ``order_id``;
* the window is elapsed time, inclusive: ``0 <= payment - booking <= 900 s``
  (:func:`bms_core.projection.in_window`); every matching pair is emitted, duplicates included
  (ASA does not de-duplicate; the warehouse views do);
* a pair's ``System.Timestamp()`` is the later of the two (adjusted) event times.

Memory stays bounded: a booking is evicted once the payments' watermark on its partition has
passed ``booking + window``, a payment once the bookings' watermark has passed it; no event
admitted later could still match them, so eviction never changes the output. Evicted events
that never matched are counted as unmatched.
"""

from __future__ import annotations

import heapq
import json
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Final, NamedTuple, cast

import msgspec

from bms_core.names import PARTITION_COUNT
from bms_core.partitioning import partition_for
from bms_core.projection import JOIN_WINDOW_MS, order_row, seat_rows, wire_time_ms
from bms_local.stream_job.clean import (
    NOT_JSON,
    WELL_FORMED,
    clean_booking,
    clean_payment,
    decode,
)
from bms_local.stream_job.policy import OrderingPolicy, Timeline

BOOKING: Final = "booking"
PAYMENT: Final = "payment"
RECENT_REJECTS: Final = 100
PARTITION_CACHE: Final = 32_768
_IN: Final = {True: "in:booking", False: "in:payment"}
_DUPLICATE: Final = {True: "duplicate:booking", False: "duplicate:payment"}
_NONE: Final[tuple[JoinedPair, ...]] = ()


class Arrival(NamedTuple):
    """One event as an input delivers it."""

    kind: str
    """``"booking"`` or ``"payment"``: which input it came in on."""
    body: bytes | str | dict[str, Any]
    arrival_ms: int | None = None
    """Enqueued time; ``None`` means it arrived exactly at its own event time."""
    partition: int | None = None
    """Input partition; ``None`` routes by ``order_id`` as the producers do."""


class JoinedPair:
    """A (booking, payment attempt) match; bodies are decoded and rows projected only when asked."""

    __slots__ = ("_booking", "_payment", "joined_at_ms", "partition")

    def __init__(self, partition: int, booking: _Held, payment: _Held, joined_at_ms: int) -> None:
        self.partition = partition
        self._booking = booking
        self._payment = payment
        self.joined_at_ms = joined_at_ms

    @property
    def booking(self) -> dict[str, Any]:
        """The booking event as ASA deserializes it."""
        return self._booking.record

    @property
    def payment(self) -> dict[str, Any]:
        """The payment event as ASA deserializes it."""
        return self._payment.record

    def __repr__(self) -> str:
        return (
            f"JoinedPair(partition={self.partition}, booking={self.booking!r}, "
            f"payment={self.payment!r}, joined_at_ms={self.joined_at_ms})"
        )

    def seat_rows(self) -> list[dict[str, Any]]:
        """Rows for the joined hub and ``bms.fact_seat_payment``."""
        return seat_rows(self.booking, self.payment, self.joined_at_ms)

    def order_row(self) -> dict[str, Any]:
        """The row for ``bms.fact_order_payment``."""
        return order_row(self.booking, self.payment, self.joined_at_ms)


class Reject(NamedTuple):
    kind: str
    cause: str
    body: str
    """The first 200 characters of the event, for a person to look at."""


class _Held:
    """One event in state: its (adjusted) time, event id, and its body, decoded on first use."""

    __slots__ = ("_record", "body", "event_id", "matched", "t")

    def __init__(
        self,
        t: int,
        record: dict[str, Any] | None,
        body: bytes | str | dict[str, Any],
        event_id: object,
    ) -> None:
        self.t = t
        self._record = record
        self.body = body
        self.event_id = event_id
        self.matched = False

    @property
    def record(self) -> dict[str, Any]:
        record = self._record
        if record is None:
            # held without a record only when it came in as a well-formed JSON object body
            record = self._record = msgspec.json.decode(cast(bytes, self.body))
        return record


class _Side:
    """One input's state on one partition."""

    __slots__ = ("by_order", "expiry", "seq", "timeline")

    def __init__(self, policy: OrderingPolicy) -> None:
        self.by_order: dict[str, list[_Held]] = {}
        self.expiry: list[tuple[int, int, str, _Held]] = []
        self.seq = 0
        self.timeline = Timeline(policy)

    def hold(self, order_id: str, held: _Held) -> bool:
        """Keep ``held``; True when an event with the same id is already held (a duplicate)."""
        same = self.by_order.get(order_id)
        duplicate = False
        if same is None:
            self.by_order[order_id] = [held]
        else:
            event_id = held.event_id
            for h in same:
                if h.event_id == event_id:
                    duplicate = True
                    break
            same.append(held)
        self.seq += 1
        heapq.heappush(self.expiry, (held.t, self.seq, order_id, held))
        return duplicate

    def evict_before(self, limit: int, counts: Counter[str], unmatched_key: str) -> None:
        expiry = self.expiry
        while expiry and expiry[0][0] < limit:
            _, _, order_id, held = heapq.heappop(expiry)
            same = self.by_order[order_id]
            same.remove(held)
            if not same:
                del self.by_order[order_id]
            if not held.matched:
                counts[unmatched_key] += 1


class StreamJob:
    """Feed it arrivals; it yields every joined pair and keeps counts of everything else."""

    def __init__(
        self,
        policy: OrderingPolicy | None = None,
        *,
        partition_count: int = PARTITION_COUNT,
        window_ms: int = JOIN_WINDOW_MS,
    ) -> None:
        self.policy = policy or OrderingPolicy()
        self.partition_count = partition_count
        self.window_ms = window_ms
        self.counts: Counter[str] = Counter()
        self.rejects: deque[Reject] = deque(maxlen=RECENT_REJECTS)
        self._by_partition: dict[int, tuple[_Side, _Side]] = {}
        """partition -> (bookings side, payments side)"""
        self._partitions: dict[str, int] = {}

    # --- input -----------------------------------------------------------------------------

    def process(self, arrivals: Iterable[Arrival]) -> Iterator[JoinedPair]:
        """Every joined pair, in the order the matches become known."""
        for arrival in arrivals:
            yield from self.feed(arrival)

    def feed(self, arrival: Arrival) -> Sequence[JoinedPair]:
        """Admit one event; the pairs it completes (usually none or one)."""
        kind, body, arrival_ms, partition = arrival
        counts = self.counts
        if kind == BOOKING:
            is_booking = True
        elif kind == PAYMENT:
            is_booking = False
        else:
            raise ValueError(f"Arrival.kind must be 'booking' or 'payment', got {kind!r}")
        counts[_IN[is_booking]] += 1
        record: dict[str, Any] | None = None
        event_ms = None
        if type(body) is bytes and body.isascii():
            try:
                event = WELL_FORMED[is_booking](body)
            except msgspec.DecodeError:
                pass
            else:
                order_id = event.order_id
                if order_id and (not is_booking or event.event_details.seats):  # type: ignore[union-attr]
                    event_ms = wire_time_ms(event.time)
                    event_id = event.event_id
        if event_ms is None:
            record = decode(body)
            if record is None:
                self._reject(kind, f"{kind}.{NOT_JSON}", body)
                return _NONE
            clean = clean_booking(record) if is_booking else clean_payment(record)
            if isinstance(clean, str):
                self._reject(kind, clean, body)
                return _NONE
            order_id, event_id, event_ms = clean.order_id, clean.event_id, clean.event_ms
        if partition is None:
            partition = self._partition_of(order_id)
        sides = self._by_partition.get(partition)
        if sides is None:
            sides = self._by_partition[partition] = (_Side(self.policy), _Side(self.policy))
        mine, theirs = (sides[0], sides[1]) if is_booking else (sides[1], sides[0])
        t, causes = mine.timeline.admit(event_ms, event_ms if arrival_ms is None else arrival_ms)
        if causes:
            if not self.policy.adjust:
                counts[f"dropped:{kind}.{causes[0]}"] += 1
                return _NONE
            for cause in causes:
                counts[f"adjusted:{kind}.{cause}"] += 1
        held = _Held(t, record, body, event_id)
        out: Sequence[JoinedPair] = _NONE
        others = theirs.by_order.get(order_id)
        if others:
            found: list[JoinedPair] = []
            window = self.window_ms
            for other in others:
                if is_booking:
                    if 0 <= other.t - t <= window:
                        found.append(JoinedPair(partition, held, other, max(t, other.t)))
                        other.matched = held.matched = True
                elif 0 <= t - other.t <= window:
                    found.append(JoinedPair(partition, other, held, max(t, other.t)))
                    other.matched = held.matched = True
            if found:
                counts["joined_pairs"] += len(found)
                out = found
        if mine.hold(order_id, held):
            counts[_DUPLICATE[is_booking]] += 1
        self._evict(sides)
        return out

    def _partition_of(self, order_id: str) -> int:
        cache = self._partitions
        partition = cache.get(order_id)
        if partition is None:
            if len(cache) >= PARTITION_CACHE:
                cache.clear()
            partition = cache[order_id] = partition_for(order_id, self.partition_count)
        return partition

    def advance(self, now_ms: int) -> None:
        """Idle inputs' arrival clocks move to ``now_ms`` (live sources call this); evicts."""
        for sides in self._by_partition.values():
            for side in sides:
                side.timeline.advance(now_ms)
            self._evict(sides)

    def flush(self) -> None:
        """End of input: everything still held is counted (unmatched ones) and dropped."""
        for sides in self._by_partition.values():
            for side, key in zip(sides, ("unmatched:booking", "unmatched:payment"), strict=True):
                left = sum(1 for same in side.by_order.values() for h in same if not h.matched)
                if left:
                    self.counts[key] += left
        self._by_partition.clear()

    # --- state -----------------------------------------------------------------------------

    @property
    def held_events(self) -> int:
        """Events currently in state (what memory is proportional to)."""
        return sum(len(side.expiry) for sides in self._by_partition.values() for side in sides)

    def summary(self) -> dict[str, dict[str, int]]:
        """Counts grouped as a person reads them: in, rejected, adjusted, unmatched, ..."""
        grouped: dict[str, dict[str, int]] = {}
        for key, value in sorted(self.counts.items()):
            group, _, name = key.partition(":")
            grouped.setdefault(group, {})[name or group] = value
        return grouped

    def _evict(self, sides: tuple[_Side, _Side]) -> None:
        bookings, payments = sides
        payments_mark = payments.timeline.watermark
        if payments_mark is not None:
            expiry = bookings.expiry
            if expiry and expiry[0][0] < payments_mark - self.window_ms:
                bookings.evict_before(
                    payments_mark - self.window_ms, self.counts, "unmatched:booking"
                )
        bookings_mark = bookings.timeline.watermark
        if bookings_mark is not None:
            expiry = payments.expiry
            if expiry and expiry[0][0] < bookings_mark:
                payments.evict_before(bookings_mark, self.counts, "unmatched:payment")

    def _reject(self, kind: str, cause: str, body: object) -> None:
        self.counts["rejected:" + cause] += 1
        if isinstance(body, bytes):
            text = body[:200].decode("utf-8", "replace")
        elif isinstance(body, dict):
            text = json.dumps(body, ensure_ascii=False, default=str)[:200]
        else:
            text = str(body)[:200]
        self.rejects.append(Reject(kind, cause, text))
