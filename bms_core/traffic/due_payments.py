"""Which payment attempts fall due in a window of time, for timers and bursts.

A payment follows its booking by its delay (never more than
:data:`~bms_core.traffic.payments.MAX_PAYMENT_DELAY_MS`), so a window's payments include those of
bookings from earlier slots: :func:`timer_due` looks back that far. Attempt times are kept per
slot and indexed by slot-length bucket, so the timers' overlapping asks each touch only the
orders paying inside their window; the orders found are then planned in full.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from bms_core.contract import Payment
from bms_core.traffic.catalog import catalog
from bms_core.traffic.orderid import TIMER_NAMESPACE, OrderKey
from bms_core.traffic.orderplan import OrderPlan, plan_orders, timings
from bms_core.traffic.payments import MAX_PAYMENT_DELAY_MS, schedule
from bms_core.traffic.plan_events import payments_of
from bms_core.traffic.scenario import Scenario
from bms_core.traffic.slots import slot_at, slot_order_count

Due = tuple[int, str, OrderPlan, int]


def attempt_times(
    scenario: Scenario, namespace: str, seed: int, slot: int, count: int | range
) -> list[tuple[OrderKey, tuple[int, ...]]]:
    """``(key, attempt times)`` of orders ``0 .. count-1`` (or of the range) with attempts."""
    cat = catalog(scenario)
    indexes = range(count) if isinstance(count, int) else count
    out = []
    for index, (booking_ms, record) in zip(
        indexes, timings(scenario, namespace, seed, slot, indexes), strict=True
    ):
        attempts = schedule(cat, booking_ms, record)[1]
        if attempts:
            key = OrderKey(namespace, seed, slot, index)
            out.append((key, tuple(time_ms for _, time_ms, _, _, _ in attempts)))
    return out


@lru_cache(maxsize=2048)
def slot_payment_times(
    scenario: Scenario, slot: int
) -> tuple[tuple[OrderKey, tuple[int, ...]], ...]:
    """Attempt times of every timer order of a slot (orders with attempts only).

    Timers ask for overlapping look-back windows every tick; this keeps the answer per slot.
    """
    count = slot_order_count(scenario, slot)
    return tuple(attempt_times(scenario, TIMER_NAMESPACE, scenario.seed, slot, count))


def due_plans(
    scenario: Scenario,
    candidates: Iterable[tuple[OrderKey, tuple[int, ...]]],
    start_ms: int,
    end_ms: int,
) -> list[Due]:
    """``(payment ms, payment_id, plan, attempt index)`` for attempts in ``[start_ms, end_ms)``."""
    cat = catalog(scenario)
    wanted: dict[tuple[str, int, int], list[int]] = {}
    for key, times in candidates:
        if times[-1] < start_ms or times[0] >= end_ms:
            continue
        if any(start_ms <= t < end_ms for t in times):
            namespace, seed, slot, index = key
            wanted.setdefault((namespace, seed, slot), []).append(index)
    found: list[Due] = []
    for (namespace, seed, slot), indexes in wanted.items():
        for plan in plan_orders(scenario, cat, namespace, seed, slot, indexes):
            for i, a in enumerate(plan.attempts):
                if start_ms <= a.time_ms < end_ms:
                    found.append((a.time_ms, f"{plan.order_id}-p{a.attempt}", plan, i))
    found.sort(key=lambda item: (item[0], item[1]))
    return found


def burst_due(scenario: Scenario, keys: list[OrderKey], start_ms: int, end_ms: int) -> list[Due]:
    if not keys:
        return []
    namespace, seed, slot, _ = keys[0]
    candidates = attempt_times(scenario, namespace, seed, slot, len(keys))
    return due_plans(scenario, candidates, start_ms, end_ms)


@lru_cache(maxsize=2048)
def slot_payment_buckets(
    scenario: Scenario, slot: int
) -> dict[int, tuple[tuple[OrderKey, tuple[int, ...]], ...]]:
    """A slot's orders with attempts, indexed by the slot-length bucket each attempt falls in.

    A timer asks for a short window, but its look-back spans 30 minutes of slots; indexing
    by bucket makes each ask touch only the orders paying inside it.
    """
    slot_ms = scenario.slot_seconds * 1000
    buckets: dict[int, list[tuple[OrderKey, tuple[int, ...]]]] = {}
    for item in slot_payment_times(scenario, slot):
        for bucket in sorted({t // slot_ms for t in item[1]}):
            buckets.setdefault(bucket, []).append(item)
    return {bucket: tuple(items) for bucket, items in buckets.items()}


def timer_due(scenario: Scenario, start_ms: int, end_ms: int) -> list[Due]:
    first = slot_at(scenario, max(0, start_ms - MAX_PAYMENT_DELAY_MS))
    last = slot_at(scenario, end_ms - 1)
    slot_ms = scenario.slot_seconds * 1000
    wanted = range(start_ms // slot_ms, (end_ms - 1) // slot_ms + 1)
    if len(wanted) > 64:  # a long window: scanning each slot once is cheaper than the index
        scanned = (
            item for slot in range(first, last + 1) for item in slot_payment_times(scenario, slot)
        )
        return due_plans(scenario, scanned, start_ms, end_ms)
    candidates: dict[OrderKey, tuple[int, ...]] = {}
    for slot in range(first, last + 1):
        buckets = slot_payment_buckets(scenario, slot)
        for bucket in wanted:
            for key, times in buckets.get(bucket, ()):
                candidates[key] = times
    return due_plans(scenario, candidates.items(), start_ms, end_ms)


def payments_of_due(scenario: Scenario, due: list[Due]) -> list[Payment]:
    cache: dict[str, tuple[Payment, ...]] = {}
    out = []
    for _, _, plan, i in due:
        payments = cache.get(plan.order_id)
        if payments is None:
            payments = cache[plan.order_id] = payments_of(plan)
        out.append(payments[i])
    return out
