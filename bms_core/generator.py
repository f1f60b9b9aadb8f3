"""The deterministic, random-access traffic generator: orders, bookings, payments, emissions.

Time is cut into slots of ``scenario.slot_seconds``. Slot ``s`` holds a Poisson number of
timer orders (its mean follows ``orders_per_minute`` and the IST hour/weekday shape), and order
``i`` of slot ``s`` is a pure function of ``(seed, slot, i)`` and the scenario: it can be built
alone (:func:`order_at`), and its ``order_id`` is enough to rebuild it (:func:`regenerate`).
All randomness comes from :mod:`bms_core.entropy` (SHAKE-128 of the key, one hash per block of
16 orders), never from ``hash()``, so output is byte-identical in every process. A slot's orders
are planned in one call (:func:`~bms_core.orderplan.plan_orders`); a single order is planned by
the same code, so random access and sequential generation agree.

Bookings of slot ``s`` lie inside ``slot_bounds(s)``; call :func:`emit_bookings` once the slot
has ended. Payments follow their booking by their delay (never more than
:data:`MAX_PAYMENT_DELAY_MS`), so :func:`payments_due` looks back that far to find payments of
earlier slots' bookings. Every :class:`Emitted` has ``due_ms`` equal to its event time: the
earliest moment sending it keeps "no event time in the future".

Bursts (``POST /api/burst``) use their burst id as namespace and the anchor epoch second as
slot; their bookings lie at or up to 1 s before the anchor, their payments follow the same
delay model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from itertools import chain
from operator import itemgetter
from typing import Final, NamedTuple, TypeVar

from bms_core import entropy
from bms_core.catalog import catalog, poisson, rate_at
from bms_core.contract import Booking, Payment
from bms_core.emission import Emitted, emit_booking, emit_payment, stream_batches
from bms_core.orderid import (
    MAX_INDEX,
    TIMER_NAMESPACE,
    OrderKey,
    check_burst_id,
    decode_order_id,
    encode_order_id,
)
from bms_core.orderplan import (
    BURST_SPREAD_MS,
    OrderPlan,
    PlanRow,
    plan_order,
    plan_orders,
    plan_rows,
    timings,
)
from bms_core.payments import MAX_PAYMENT_DELAY_MS, OUTCOMES, schedule
from bms_core.plan_events import booking_of, payments_of
from bms_core.scenario import Scenario

__all__ = [
    "BURST_SPREAD_MS",
    "MAX_PAYMENT_DELAY_MS",
    "OUTCOMES",
    "Emitted",
    "Order",
    "bookings_in",
    "burst_orders",
    "burst_payments_due",
    "emit_bookings",
    "emit_burst",
    "emit_burst_payments",
    "emit_payments",
    "order_at",
    "orders_in",
    "payments_due",
    "regenerate",
    "slot_at",
    "slot_bounds",
    "slot_order_count",
    "stream",
]

MAX_BURST_ORDERS: Final = MAX_INDEX + 1
_BOOKING_MS: Final = itemgetter(2)


class Order(NamedTuple):
    """One order: its key, booking, payment attempts (time order) and outcome name."""

    key: OrderKey
    booking: Booking
    payments: tuple[Payment, ...]
    outcome: str


# --- slots -----------------------------------------------------------------------------------


def slot_bounds(scenario: Scenario, slot: int) -> tuple[int, int]:
    """``[start_ms, end_ms)`` of timer slot ``slot``."""
    width = scenario.slot_seconds * 1000
    return slot * width, (slot + 1) * width


def slot_at(scenario: Scenario, epoch_ms: int) -> int:
    """The slot holding ``epoch_ms``."""
    return epoch_ms // (scenario.slot_seconds * 1000)


@lru_cache(maxsize=8192)
def _slot_count(scenario: Scenario, seed: int, slot: int) -> int:
    mean = rate_at(catalog(scenario), slot * scenario.slot_seconds * 1000)
    draw = entropy.draws(seed, TIMER_NAMESPACE, slot, 0, entropy.SLOT_SIZE)[0]
    return min(poisson(mean, draw), MAX_INDEX + 1)


def slot_order_count(scenario: Scenario, slot: int) -> int:
    """How many timer orders slot ``slot`` holds (a pure function of seed, slot and shape)."""
    return _slot_count(scenario, scenario.seed, slot)


# --- orders ----------------------------------------------------------------------------------


def order_of(scenario: Scenario, plan: OrderPlan) -> Order:
    """The contract view of a plan (validated Structs)."""
    cat = catalog(scenario)
    return Order(plan.key, booking_of(cat, plan), payments_of(plan), OUTCOMES[plan.outcome])


def _check_key(scenario: Scenario, key: OrderKey) -> None:
    encode_order_id(key)
    if key.namespace == TIMER_NAMESPACE:
        count = _slot_count(scenario, key.seed, key.slot)
        if key.index >= count:
            raise ValueError(
                f"order {encode_order_id(key)} does not exist: slot {key.slot} holds {count} "
                "timer orders in this scenario"
            )


def plan_at(scenario: Scenario, key: OrderKey) -> OrderPlan:
    """The plan of order ``key``; ``ValueError`` if the key names no order."""
    _check_key(scenario, key)
    return plan_order(scenario, catalog(scenario), key)


def order_at(scenario: Scenario, key: OrderKey) -> Order:
    """The order ``key`` (random access, pure). ``ValueError`` if the key names no order."""
    return order_of(scenario, plan_at(scenario, key))


def regenerate(scenario: Scenario, order_id: str) -> Order:
    """Rebuild an order from its id alone (plus the scenario it was generated with)."""
    return order_at(scenario, decode_order_id(order_id))


def _sorted_plans(
    scenario: Scenario, namespace: str, seed: int, slot: int, count: int
) -> list[OrderPlan]:
    plans = plan_orders(scenario, catalog(scenario), namespace, seed, slot, range(count))
    plans.sort(key=_BOOKING_MS)  # stable: equal times keep index order
    return plans


def plans_in(scenario: Scenario, slot: int) -> list[OrderPlan]:
    """Plans of the timer orders of ``slot``, by booking time (ties by index)."""
    count = slot_order_count(scenario, slot)
    return _sorted_plans(scenario, TIMER_NAMESPACE, scenario.seed, slot, count)


def orders_in(scenario: Scenario, slot: int) -> list[Order]:
    """Timer orders of ``slot``, by booking time (ties by index)."""
    return [order_of(scenario, p) for p in plans_in(scenario, slot)]


def bookings_in(scenario: Scenario, slot: int) -> list[Booking]:
    """Bookings of ``slot`` by booking time; all lie inside ``slot_bounds(scenario, slot)``."""
    return [o.booking for o in orders_in(scenario, slot)]


# --- payments due ----------------------------------------------------------------------------

_Due = tuple[int, str, OrderPlan, int]


def _attempt_times(
    scenario: Scenario, namespace: str, seed: int, slot: int, count: int
) -> list[tuple[OrderKey, tuple[int, ...]]]:
    """``(key, attempt times)`` of orders ``0 .. count-1`` that have attempts."""
    cat = catalog(scenario)
    out = []
    for index, (booking_ms, words, record) in enumerate(
        timings(scenario, namespace, seed, slot, range(count))
    ):
        attempts = schedule(scenario, cat, words, booking_ms, record)[1]
        if attempts:
            key = OrderKey(namespace, seed, slot, index)
            out.append((key, tuple(a.time_ms for a in attempts)))
    return out


@lru_cache(maxsize=2048)
def _slot_payment_times(
    scenario: Scenario, slot: int
) -> tuple[tuple[OrderKey, tuple[int, ...]], ...]:
    """Attempt times of every timer order of a slot (orders with attempts only).

    Timers ask for overlapping look-back windows every tick; this keeps the answer per slot.
    """
    count = slot_order_count(scenario, slot)
    return tuple(_attempt_times(scenario, TIMER_NAMESPACE, scenario.seed, slot, count))


def _due_plans(
    scenario: Scenario,
    candidates: Iterable[tuple[OrderKey, tuple[int, ...]]],
    start_ms: int,
    end_ms: int,
) -> list[_Due]:
    """``(payment ms, payment_id, plan, attempt index)`` for attempts in ``[start_ms, end_ms)``."""
    cat = catalog(scenario)
    wanted: dict[tuple[str, int, int], list[int]] = {}
    for key, times in candidates:
        if times[-1] < start_ms or times[0] >= end_ms:
            continue
        if any(start_ms <= t < end_ms for t in times):
            namespace, seed, slot, index = key
            wanted.setdefault((namespace, seed, slot), []).append(index)
    found: list[_Due] = []
    for (namespace, seed, slot), indexes in wanted.items():
        for plan in plan_orders(scenario, cat, namespace, seed, slot, indexes):
            for i, a in enumerate(plan.attempts):
                if start_ms <= a.time_ms < end_ms:
                    found.append((a.time_ms, f"{plan.order_id}-p{a.attempt}", plan, i))
    found.sort(key=lambda item: (item[0], item[1]))
    return found


def _burst_due(scenario: Scenario, keys: list[OrderKey], start_ms: int, end_ms: int) -> list[_Due]:
    if not keys:
        return []
    namespace, seed, slot, _ = keys[0]
    candidates = _attempt_times(scenario, namespace, seed, slot, len(keys))
    return _due_plans(scenario, candidates, start_ms, end_ms)


@lru_cache(maxsize=2048)
def _slot_payment_buckets(
    scenario: Scenario, slot: int
) -> dict[int, tuple[tuple[OrderKey, tuple[int, ...]], ...]]:
    """A slot's orders with attempts, indexed by the slot-length bucket each attempt falls in.

    A timer asks for a short window, but its look-back spans 30 minutes of slots; indexing
    by bucket makes each ask touch only the orders paying inside it.
    """
    slot_ms = scenario.slot_seconds * 1000
    buckets: dict[int, list[tuple[OrderKey, tuple[int, ...]]]] = {}
    for item in _slot_payment_times(scenario, slot):
        for bucket in sorted({t // slot_ms for t in item[1]}):
            buckets.setdefault(bucket, []).append(item)
    return {bucket: tuple(items) for bucket, items in buckets.items()}


def _timer_due(scenario: Scenario, start_ms: int, end_ms: int) -> list[_Due]:
    first = slot_at(scenario, max(0, start_ms - MAX_PAYMENT_DELAY_MS))
    last = slot_at(scenario, end_ms - 1)
    slot_ms = scenario.slot_seconds * 1000
    wanted = range(start_ms // slot_ms, (end_ms - 1) // slot_ms + 1)
    if len(wanted) > 64:  # a long window: scanning each slot once is cheaper than the index
        scanned = (
            item for slot in range(first, last + 1) for item in _slot_payment_times(scenario, slot)
        )
        return _due_plans(scenario, scanned, start_ms, end_ms)
    candidates: dict[OrderKey, tuple[int, ...]] = {}
    for slot in range(first, last + 1):
        buckets = _slot_payment_buckets(scenario, slot)
        for bucket in wanted:
            for key, times in buckets.get(bucket, ()):
                candidates[key] = times
    return _due_plans(scenario, candidates.items(), start_ms, end_ms)


def _payments(scenario: Scenario, due: list[_Due]) -> list[Payment]:
    cache: dict[str, tuple[Payment, ...]] = {}
    out = []
    for _, _, plan, i in due:
        payments = cache.get(plan.order_id)
        if payments is None:
            payments = cache[plan.order_id] = payments_of(plan)
        out.append(payments[i])
    return out


def payments_due(scenario: Scenario, start_ms: int, end_ms: int) -> list[Payment]:
    """Timer orders' payment attempts with ``payment_time`` in ``[start_ms, end_ms)``, by time.

    Includes attempts of bookings from earlier slots (looks back ``MAX_PAYMENT_DELAY_MS``).
    """
    if end_ms <= start_ms:
        return []
    return _payments(scenario, _timer_due(scenario, start_ms, end_ms))


# --- bursts ----------------------------------------------------------------------------------


def burst_keys(scenario: Scenario, burst_id: str, orders: int, anchor_ms: int) -> list[OrderKey]:
    """The keys of a burst's orders; ``ValueError`` naming a bad argument."""
    check_burst_id(burst_id)
    if (
        isinstance(orders, bool)
        or not isinstance(orders, int)
        or not 0 <= orders <= MAX_BURST_ORDERS
    ):
        raise ValueError(f"orders must be an integer in 0 .. {MAX_BURST_ORDERS}, got {orders!r}")
    if isinstance(anchor_ms, bool) or not isinstance(anchor_ms, int) or anchor_ms < BURST_SPREAD_MS:
        raise ValueError(f"anchor_ms must be epoch milliseconds, got {anchor_ms!r}")
    second = anchor_ms // 1000
    return [OrderKey(burst_id, scenario.seed, second, i) for i in range(orders)]


def burst_orders(scenario: Scenario, burst_id: str, orders: int, anchor_ms: int) -> list[Order]:
    """The burst's orders by booking time; bookings lie at or up to 1 s before ``anchor_ms``."""
    burst_keys(scenario, burst_id, orders, anchor_ms)
    plans = _sorted_plans(scenario, burst_id, scenario.seed, anchor_ms // 1000, orders)
    return [order_of(scenario, p) for p in plans]


def burst_payments_due(
    scenario: Scenario, burst_id: str, orders: int, anchor_ms: int, start_ms: int, end_ms: int
) -> list[Payment]:
    """The burst's payment attempts with ``payment_time`` in ``[start_ms, end_ms)``, by time."""
    keys = burst_keys(scenario, burst_id, orders, anchor_ms)
    if end_ms <= start_ms:
        return []
    return _payments(scenario, _burst_due(scenario, keys, start_ms, end_ms))


# --- emission --------------------------------------------------------------------------------


def _emit_bookings(scenario: Scenario, plans: list[OrderPlan]) -> list[Emitted]:
    cat = catalog(scenario)
    out: list[Emitted] = []
    for plan in plans:
        emit_booking(out, scenario, cat, plan)
    return out


def _emit_due(scenario: Scenario, due: list[_Due]) -> list[Emitted]:
    out: list[Emitted] = []
    for _, _, plan, i in due:
        emit_payment(out, scenario, plan, plan.attempts[i])
    return out


def emit_bookings(scenario: Scenario, slot: int) -> list[Emitted]:
    """Slot ``slot``'s bookings as sent (with duplicates and malformed extras), by time.

    Call once the slot has ended: every ``due_ms`` (= booking time) is then in the past.
    """
    return _emit_bookings(scenario, plans_in(scenario, slot))


def emit_payments(scenario: Scenario, start_ms: int, end_ms: int) -> list[Emitted]:
    """Timer payments due in ``[start_ms, end_ms)`` as sent, by payment time."""
    if end_ms <= start_ms:
        return []
    return _emit_due(scenario, _timer_due(scenario, start_ms, end_ms))


def emit_burst(scenario: Scenario, burst_id: str, orders: int, anchor_ms: int) -> list[Emitted]:
    """A burst's bookings as sent, by booking time."""
    burst_keys(scenario, burst_id, orders, anchor_ms)
    plans = _sorted_plans(scenario, burst_id, scenario.seed, anchor_ms // 1000, orders)
    return _emit_bookings(scenario, plans)


def emit_burst_payments(
    scenario: Scenario, burst_id: str, orders: int, anchor_ms: int, start_ms: int, end_ms: int
) -> list[Emitted]:
    """A burst's payments due in ``[start_ms, end_ms)`` as sent, by payment time."""
    keys = burst_keys(scenario, burst_id, orders, anchor_ms)
    if end_ms <= start_ms:
        return []
    return _emit_due(scenario, _burst_due(scenario, keys, start_ms, end_ms))


def stream(scenario: Scenario, start_ms: int, orders: int) -> Iterator[Emitted]:
    """The first ``orders`` timer orders booked at or after ``start_ms``, as emitted events.

    Bookings and payments interleave by event time (``due_ms`` never decreases), bookings
    before payments at the same millisecond; duplicates and malformed extras follow their
    original. Only these orders' payments are included.
    """
    if orders > 0 and scenario.orders_per_minute == 0:
        raise ValueError("orders_per_minute is 0: there are no timer orders to stream")
    batches = _slots_from(scenario, start_ms, orders, _rows_in)
    return stream_batches(scenario, catalog(scenario), batches)


def plans_from(scenario: Scenario, start_ms: int, orders: int) -> Iterator[PlanRow]:
    """Plans (as :data:`PlanRow`, what :func:`stream` emits from) of the first ``orders`` timer
    orders booked at or after ``start_ms``, by time."""
    return chain.from_iterable(_slots_from(scenario, start_ms, orders, _rows_in))


def _rows_in(scenario: Scenario, slot: int) -> list[PlanRow]:
    """:func:`plans_in` as plain tuples (what :func:`stream` hands to the emission)."""
    count = slot_order_count(scenario, slot)
    cat = catalog(scenario)
    rows = plan_rows(scenario, cat, TIMER_NAMESPACE, scenario.seed, slot, range(count))
    rows.sort(key=_BOOKING_MS)  # stable: equal times keep index order
    return rows


_Plan = TypeVar("_Plan", bound=PlanRow)


def _slots_from(
    scenario: Scenario,
    start_ms: int,
    orders: int,
    plans_of: Callable[[Scenario, int], list[_Plan]],
) -> Iterator[list[_Plan]]:
    """The first ``orders`` timer orders booked at or after ``start_ms``, a list per slot."""
    slot = slot_at(scenario, start_ms)
    left = orders
    first = True
    while left > 0:
        plans = plans_of(scenario, slot)
        if first:
            plans = [p for p in plans if _BOOKING_MS(p) >= start_ms]
            first = False
        if len(plans) > left:
            plans = plans[:left]
        left -= len(plans)
        yield plans
        slot += 1
