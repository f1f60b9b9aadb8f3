"""The generate stream cut into time segments, so several processes can write it together.

:func:`bms_core.traffic.generator.stream` yields events in ``due_ms`` order (bookings before
payments of the same millisecond, payments by id, extras after their original). Cutting that stream
at slot starts therefore gives contiguous pieces: segment ``j`` is every event with ``due_ms`` in
``[lo_j, hi_j)``. A segment holds its own slots' bookings and every payment due inside it,
including payments of orders booked up to :data:`MAX_PAYMENT_DELAY_MS` earlier (its look-back),
so :func:`segment_bytes` of each segment, concatenated in order, is byte-identical to one
process writing the whole stream.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise
from typing import NamedTuple

from bms_core.traffic.catalog import catalog
from bms_core.traffic.emission import stream_plans
from bms_core.traffic.generator import plans_in, rows_in, slot_at, slot_bounds, slot_order_count
from bms_core.traffic.orderid import TIMER_NAMESPACE
from bms_core.traffic.orderplan import BOOKING_MS_FIELD, OUTCOME_FIELD, PlanRow, plan_rows, timings
from bms_core.traffic.payments import MAX_PAYMENT_DELAY_MS, OUTCOMES, Attempt, schedule
from bms_core.traffic.scenario import Scenario

Span = tuple[int, int]
"""``(slot, orders the stream takes from it)``."""


class Segment(NamedTuple):
    """One piece of work: its slots, the earlier slots it looks back into, its time bounds."""

    spans: tuple[Span, ...]
    lookback: tuple[Span, ...]
    lo_ms: int | None
    hi_ms: int | None


class SegmentOutput(NamedTuple):
    """JSON lines of one segment and what the summary needs."""

    data: bytes
    kinds: dict[str, int]
    outcomes: tuple[int, ...]
    last_ms: int | None


def stream_spans(scenario: Scenario, start_ms: int, orders: int) -> list[Span]:
    """How many orders :func:`~bms_core.traffic.generator.plans_from` takes
    from each slot, in order."""
    slot = slot_at(scenario, start_ms)
    first = sum(1 for p in plans_in(scenario, slot) if p.booking_ms >= start_ms)
    spans = [(slot, min(first, orders))]
    left = orders - spans[0][1]
    while left > 0:
        slot += 1
        taken = min(slot_order_count(scenario, slot), left)
        spans.append((slot, taken))
        left -= taken
    return spans


def split(scenario: Scenario, spans: list[Span], parts: int) -> list[Segment]:
    """Cut the stream's slots into about ``parts`` segments of similar order counts."""
    total = sum(taken for _, taken in spans)
    target = max(1, -(-total // max(1, parts)))
    cuts = [0]
    running = 0
    for i, (_, taken) in enumerate(spans):
        running += taken
        if running >= target and i + 1 < len(spans):
            cuts.append(i + 1)
            running = 0
    cuts.append(len(spans))
    segments = []
    for a, b in pairwise(cuts):
        lo = slot_bounds(scenario, spans[a][0])[0] if a else None
        hi = slot_bounds(scenario, spans[b][0])[0] if b < len(spans) else None
        back = []
        if lo is not None:
            reach = lo - MAX_PAYMENT_DELAY_MS
            back = [s for s in spans[:a] if slot_bounds(scenario, s[0])[1] > reach]
        segments.append(Segment(tuple(spans[a:b]), tuple(back), lo, hi))
    return segments


def _taken_plans(scenario: Scenario, start_ms: int, span: Span) -> list[PlanRow]:
    slot, taken = span
    return [p for p in rows_in(scenario, slot) if p[BOOKING_MS_FIELD] >= start_ms][:taken]


def _lookback_plans(scenario: Scenario, start_ms: int, span: Span, lo: int) -> list[PlanRow]:
    """Plans of a look-back slot that still have an attempt at or after ``lo``, in stream order."""
    slot, taken = span
    cat = catalog(scenario)
    seed = scenario.seed
    count = slot_order_count(scenario, slot)
    timed = list(enumerate(timings(scenario, TIMER_NAMESPACE, seed, slot, range(count))))
    timed.sort(key=lambda item: item[1][0])  # stable, like plans_in
    kept = [item for item in timed if item[1][0] >= start_ms][:taken]
    indexes = []
    for index, (booking_ms, record) in kept:
        attempts = schedule(cat, booking_ms, record)[1]
        if attempts and Attempt(*attempts[-1]).time_ms >= lo:
            indexes.append(index)
    return plan_rows(scenario, cat, TIMER_NAMESPACE, seed, slot, indexes)


def _plans(
    scenario: Scenario, start_ms: int, segment: Segment, outcomes: list[int]
) -> Iterator[PlanRow]:
    if segment.lo_ms is not None:
        for span in segment.lookback:
            yield from _lookback_plans(scenario, start_ms, span, segment.lo_ms)
    for span in segment.spans:
        for plan in _taken_plans(scenario, start_ms, span):
            outcomes[plan[OUTCOME_FIELD]] += 1
            yield plan


def segment_bytes(scenario: Scenario, start_ms: int, segment: Segment) -> SegmentOutput:
    """The JSON lines (one body and ``\\n`` per event) of every stream event in the segment."""
    outcomes = [0] * len(OUTCOMES)
    kinds = {"booking": 0, "payment": 0, "malformed": 0}
    lo, hi = segment.lo_ms, segment.hi_ms
    bodies: list[bytes] = []
    last_ms = None
    for event in stream_plans(
        scenario, catalog(scenario), _plans(scenario, start_ms, segment, outcomes)
    ):
        due = event.due_ms
        if lo is not None and due < lo:
            continue
        if hi is not None and due >= hi:
            break
        bodies.append(event.body)
        kinds["malformed" if event.event_id is None else event.kind] += 1
        last_ms = due
    data = b"\n".join(bodies) + b"\n" if bodies else b""
    return SegmentOutput(data, kinds, tuple(outcomes), last_ms)
