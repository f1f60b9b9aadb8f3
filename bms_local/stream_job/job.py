"""The reference stream job: ``asa/bms_join.asaql`` in Python, event by event.

Events in the producers' shape take a fast path (a msgspec Struct of just the fields the join
needs, the body decoded in full only if it joins); anything else takes the exact ``TRY_CAST``
path of :mod:`.clean`, with the same result (tested on every shape TRY_CAST treats apart).

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
from collections.abc import Iterable, Iterator
from heapq import heappush
from typing import Any, Final, NamedTuple, cast

import msgspec

from bms_core.names import PARTITION_COUNT
from bms_core.partitioning import partition_for
from bms_core.projection import (
    JOIN_WINDOW_MS,
    WIRE_MILLIS,
    WIRE_SECONDS,
    order_row,
    pair_rows,
    seat_rows,
    wire_time_ms,
)
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


class Arrival(NamedTuple):
    """One event as an input delivers it."""

    kind: str
    """``"booking"`` or ``"payment"``: which input it came in on."""
    body: bytes | str | dict[str, Any]
    arrival_ms: int | None = None
    """Enqueued time; ``None`` means it arrived exactly at its own event time."""
    partition: int | None = None
    """Input partition; ``None`` routes by ``order_id`` as the producers do."""


class _Held(msgspec.Struct, gc=False, eq=False):
    """One event in state: its (adjusted) time, event id, and its body, decoded on first use.

    A Struct: created once per event, and its C constructor is the cheapest available.
    ``eq=False``: held events are told apart by identity (duplicates are equal copies).
    """

    t: int
    decoded: dict[str, Any] | None
    body: bytes | str | dict[str, Any]
    event_id: object
    matched: bool = False

    @property
    def record(self) -> dict[str, Any]:
        """The event as ASA deserializes it (a JSON object)."""
        record = self.decoded
        if record is None:
            # held undecoded only when it came in as a well-formed JSON object body
            record = self.decoded = msgspec.json.decode(cast(bytes, self.body))
        return record


class JoinedPair(msgspec.Struct, gc=False):
    """A (booking, payment attempt) match; bodies are decoded and rows projected only when asked."""

    partition: int
    held_booking: _Held
    held_payment: _Held
    joined_at_ms: int

    @property
    def booking(self) -> dict[str, Any]:
        """The booking event as ASA deserializes it."""
        return self.held_booking.record

    @property
    def payment(self) -> dict[str, Any]:
        """The payment event as ASA deserializes it."""
        return self.held_payment.record

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

    def rows(self) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """``(seat_rows(), order_row())``, the columns they share computed once."""
        return pair_rows(self.booking, self.payment, self.joined_at_ms)


class Reject(NamedTuple):
    kind: str
    cause: str
    body: str
    """The first 200 characters of the event, for a person to look at."""


class _Side:
    """One input's state on one partition."""

    __slots__ = ("by_order", "expiry", "seq", "timeline")

    def __init__(self, policy: OrderingPolicy) -> None:
        self.by_order: dict[str, list[_Held]] = {}
        self.expiry: list[tuple[int, int, str, _Held]] = []
        self.seq = 0
        self.timeline = Timeline(policy)

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
        """partition -> (payments side, bookings side): indexed by ``is_booking``"""
        self._partitions: dict[str, int] = {}

    # --- input -----------------------------------------------------------------------------

    def process(self, arrivals: Iterable[Arrival]) -> Iterator[JoinedPair]:
        """Every joined pair, in the order the matches become known."""
        for arrival in arrivals:
            yield from self.feed_all((arrival,))

    def feed(self, arrival: Arrival) -> list[JoinedPair]:
        """Admit one event; the pairs it completes (usually none or one)."""
        return self.feed_all((arrival,))

    def feed_all(self, arrivals: Iterable[Arrival]) -> list[JoinedPair]:
        """Admit events in order; every pair they complete, in order (the batch form of
        :meth:`feed`, same result, less per-event overhead)."""
        out: list[JoinedPair] = []
        counts = self.counts
        arrived = [0, 0]  # payments, bookings: plain ints, folded into counts at the end
        duplicates = [0, 0]
        try:
            self._feed_into(arrivals, out, arrived, duplicates)
        finally:
            for is_booking in (False, True):
                if arrived[is_booking]:
                    counts[_IN[is_booking]] += arrived[is_booking]
                if duplicates[is_booking]:
                    counts[_DUPLICATE[is_booking]] += duplicates[is_booking]
            if out:
                counts["joined_pairs"] += len(out)
        return out

    def _feed_into(
        self,
        arrivals: Iterable[Arrival],
        out: list[JoinedPair],
        arrived: list[int],
        duplicates: list[int],
    ) -> None:
        counts = self.counts
        by_partition = self._by_partition
        window = self.window_ms
        seconds = WIRE_SECONDS
        for kind, body, arrival_ms, partition in arrivals:
            if kind == BOOKING:
                is_booking = True
            elif kind == PAYMENT:
                is_booking = False
            else:
                raise ValueError(f"Arrival.kind must be 'booking' or 'payment', got {kind!r}")
            arrived[is_booking] += 1
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
                        time = event.time  # wire_time_ms inlined for the usual case
                        base = seconds.get(time[:20])
                        milli = WIRE_MILLIS.get(time[20:23])
                        if base is None or base < 0 or milli is None or len(time) != 24:
                            event_ms = wire_time_ms(time)
                        elif time[23] == "Z":
                            event_ms = base + milli
                        event_id = event.event_id
            if event_ms is None:
                clean = self._clean_exact(kind, is_booking, body)
                if clean is None:
                    continue
                record, order_id, event_id, event_ms = clean
            if partition is None:
                partition = self._partition_of(order_id)
            sides = by_partition.get(partition)
            if sides is None:
                sides = by_partition[partition] = (_Side(self.policy), _Side(self.policy))
            mine = sides[is_booking]
            t, causes = mine.timeline.admit(
                event_ms, event_ms if arrival_ms is None else arrival_ms
            )
            if causes and not self._adjusted(kind, causes):
                continue
            held = _Held(t, record, body, event_id)
            others = sides[not is_booking].by_order.get(order_id)
            if others:
                for other in others:
                    if is_booking:
                        if 0 <= other.t - t <= window:
                            out.append(JoinedPair(partition, held, other, max(t, other.t)))
                            other.matched = held.matched = True
                    elif 0 <= t - other.t <= window:
                        out.append(JoinedPair(partition, other, held, max(t, other.t)))
                        other.matched = held.matched = True
            same = mine.by_order.get(order_id)
            if same is None:
                mine.by_order[order_id] = [held]
            else:
                for h in same:
                    if h.event_id == event_id:
                        duplicates[is_booking] += 1
                        break
                same.append(held)
            mine.seq = seq = mine.seq + 1
            heappush(mine.expiry, (t, seq, order_id, held))
            payments, bookings = sides
            mark = payments.timeline.watermark
            if mark is not None:
                expiry = bookings.expiry
                if expiry and expiry[0][0] < mark - window:
                    bookings.evict_before(mark - window, counts, "unmatched:booking")
            mark = bookings.timeline.watermark
            if mark is not None:
                expiry = payments.expiry
                if expiry and expiry[0][0] < mark:
                    payments.evict_before(mark, counts, "unmatched:payment")

    def _clean_exact(
        self, kind: str, is_booking: bool, body: bytes | str | dict[str, Any]
    ) -> tuple[dict[str, Any], str, object, int] | None:
        """The exact ``TRY_CAST`` path: (record, order id, event id, time), or ``None`` when the
        query drops the event (counted and kept for inspection)."""
        record = decode(body)
        if record is None:
            self._reject(kind, f"{kind}.{NOT_JSON}", body)
            return None
        clean = clean_booking(record) if is_booking else clean_payment(record)
        if isinstance(clean, str):
            self._reject(kind, clean, body)
            return None
        return record, clean.order_id, clean.event_id, clean.event_ms

    def _adjusted(self, kind: str, causes: tuple[str, ...]) -> bool:
        """Count an event the ordering policy changed; False when the policy drops it."""
        if not self.policy.adjust:
            self.counts[f"dropped:{kind}.{causes[0]}"] += 1
            return False
        for cause in causes:
            self.counts[f"adjusted:{kind}.{cause}"] += 1
        return True

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
            for side, key in zip(sides, ("unmatched:payment", "unmatched:booking"), strict=True):
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
        payments, bookings = sides
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
