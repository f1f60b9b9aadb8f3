"""The deterministic, random-access traffic generator: orders, bookings, payments, emissions.

Time is cut into slots of ``scenario.slot_seconds``. Slot ``s`` holds a Poisson number of
timer orders (its mean follows ``orders_per_minute`` and the IST hour/weekday shape), and order
``i`` of slot ``s`` is a pure function of ``(seed, slot, i)`` and the scenario: it can be built
alone (:func:`order_at`), and its ``order_id`` is enough to rebuild it (:func:`regenerate`).
All randomness comes from :mod:`bms_core.traffic.entropy` (SHAKE-128 of the key, one hash per block
of 16 orders), never from ``hash()``, so output is byte-identical in every process. A slot's orders
are planned in one call (:func:`~bms_core.traffic.orderplan.plan_orders`); a single order is planned
by the same code, so random access and sequential generation agree.

Bookings of slot ``s`` lie inside ``slot_bounds(s)``; call :func:`bookings_to_send` once the slot
has ended. Payments follow their booking by their delay (never more than
:data:`MAX_PAYMENT_DELAY_MS`), so :func:`payments_due` looks back that far to find payments of
earlier slots' bookings. Every :class:`Emitted` has ``due_ms`` equal to its event time: the
earliest moment sending it keeps "no event time in the future".

Bursts (``POST /api/burst``) use their burst id as namespace and the anchor epoch second as
slot; their bookings lie at or up to 1 s before the anchor, their payments follow the same
delay model.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import chain
from operator import itemgetter
from typing import Final, NamedTuple

from bms_core.contract import Booking, Payment
from bms_core.traffic.catalog import catalog
from bms_core.traffic.due_payments import Due, burst_due, payments_of_due, timer_due
from bms_core.traffic.emission import Emitted, add_booking, add_payment, stream_batches
from bms_core.traffic.orderid import (
    MAX_INDEX,
    TIMER_NAMESPACE,
    OrderKey,
    check_burst_id,
    decode_order_id,
    encode_order_id,
)
from bms_core.traffic.orderplan import (
    BOOKING_MS_FIELD,
    BURST_SPREAD_MS,
    OrderPlan,
    PlanRow,
    plan_order,
    plan_orders,
    plan_rows,
)
from bms_core.traffic.payments import MAX_PAYMENT_DELAY_MS, OUTCOMES
from bms_core.traffic.plan_events import booking_of, payments_of
from bms_core.traffic.scenario import Scenario
from bms_core.traffic.slots import slot_at, slot_bounds, slot_count, slot_order_count

__all__ = [
    "BURST_SPREAD_MS",
    "MAX_PAYMENT_DELAY_MS",
    "OUTCOMES",
    "Emitted",
    "Order",
    "bookings_in",
    "bookings_to_send",
    "burst_chunk_plans",
    "burst_orders",
    "burst_payments_due",
    "burst_payments_to_send",
    "burst_to_send",
    "due_attempts",
    "due_payments_to_send",
    "order_at",
    "orders_in",
    "payments_due",
    "payments_to_send",
    "plan_bookings_to_send",
    "regenerate",
    "slot_at",
    "slot_bounds",
    "slot_order_count",
    "stream",
]

MAX_BURST_ORDERS: Final = MAX_INDEX + 1
_BOOKING_MS: Final = itemgetter(BOOKING_MS_FIELD)


class Order(NamedTuple):
    """One order: its key, booking, payment attempts (time order) and outcome name."""

    key: OrderKey
    booking: Booking
    payments: tuple[Payment, ...]
    outcome: str


# --- orders ----------------------------------------------------------------------------------


def order_of(scenario: Scenario, plan: OrderPlan) -> Order:
    """The contract view of a plan (validated Structs)."""
    cat = catalog(scenario)
    return Order(plan.key, booking_of(cat, plan), payments_of(plan), OUTCOMES[plan.outcome])


def _check_key(scenario: Scenario, key: OrderKey) -> None:
    encode_order_id(key)
    if key.namespace == TIMER_NAMESPACE:
        count = slot_count(scenario, key.seed, key.slot)
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
    scenario: Scenario, namespace: str, seed: int, slot: int, count: int | Sequence[int]
) -> list[OrderPlan]:
    indexes = range(count) if isinstance(count, int) else count
    plans = plan_orders(scenario, catalog(scenario), namespace, seed, slot, indexes)
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


def payments_due(scenario: Scenario, start_ms: int, end_ms: int) -> list[Payment]:
    """Timer orders' payment attempts with ``payment_time`` in ``[start_ms, end_ms)``, by time.

    Includes attempts of bookings from earlier slots (looks back ``MAX_PAYMENT_DELAY_MS``).
    """
    if end_ms <= start_ms:
        return []
    return payments_of_due(scenario, timer_due(scenario, start_ms, end_ms))


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
    return payments_of_due(scenario, burst_due(scenario, keys, start_ms, end_ms))


def burst_chunk_plans(
    scenario: Scenario, burst_id: str, anchor_ms: int, indexes: Sequence[int]
) -> list[OrderPlan]:
    """Plans of the burst orders ``indexes`` (ascending) booked at ``anchor_ms`` (one chunk of a
    large burst), by booking time; their keys carry ``anchor_ms // 1000`` as slot."""
    check_burst_id(burst_id)
    if indexes and (indexes[0] < 0 or indexes[-1] > MAX_INDEX):
        raise ValueError(f"indexes must lie in 0 .. {MAX_INDEX}, got {indexes!r}")
    return _sorted_plans(scenario, burst_id, scenario.seed, anchor_ms // 1000, indexes)


def due_attempts(plans: list[OrderPlan], start_ms: int, end_ms: int) -> list[Due]:
    """The attempts of ``plans`` with a time in ``[start_ms, end_ms)``, by time then id."""
    found: list[Due] = [
        (a.time_ms, f"{plan.order_id}-p{a.attempt}", plan, i)
        for plan in plans
        for i, a in enumerate(plan.attempts)
        if start_ms <= a.time_ms < end_ms
    ]
    found.sort(key=lambda item: (item[0], item[1]))
    return found


# --- emission --------------------------------------------------------------------------------


def _bookings_to_send(scenario: Scenario, plans: list[OrderPlan]) -> list[Emitted]:
    cat = catalog(scenario)
    out: list[Emitted] = []
    for plan in plans:
        add_booking(out, scenario, cat, plan)
    return out


def _due_to_send(scenario: Scenario, due: list[Due]) -> list[Emitted]:
    out: list[Emitted] = []
    for _, _, plan, i in due:
        add_payment(out, scenario, plan, plan.attempts[i])
    return out


def plan_bookings_to_send(scenario: Scenario, plans: list[OrderPlan]) -> list[Emitted]:
    """The bookings of ``plans`` as sent (duplicates and malformed extras included)."""
    return _bookings_to_send(scenario, plans)


def due_payments_to_send(scenario: Scenario, due: list[Due]) -> list[Emitted]:
    """The attempts ``due`` (from :func:`due_attempts`) as sent."""
    return _due_to_send(scenario, due)


def bookings_to_send(scenario: Scenario, slot: int) -> list[Emitted]:
    """Slot ``slot``'s bookings as sent (with duplicates and malformed extras), by time.

    Call once the slot has ended: every ``due_ms`` (= booking time) is then in the past.
    """
    return _bookings_to_send(scenario, plans_in(scenario, slot))


def payments_to_send(scenario: Scenario, start_ms: int, end_ms: int) -> list[Emitted]:
    """Timer payments due in ``[start_ms, end_ms)`` as sent, by payment time."""
    if end_ms <= start_ms:
        return []
    return _due_to_send(scenario, timer_due(scenario, start_ms, end_ms))


def burst_to_send(scenario: Scenario, burst_id: str, orders: int, anchor_ms: int) -> list[Emitted]:
    """A burst's bookings as sent, by booking time."""
    burst_keys(scenario, burst_id, orders, anchor_ms)
    plans = _sorted_plans(scenario, burst_id, scenario.seed, anchor_ms // 1000, orders)
    return _bookings_to_send(scenario, plans)


def burst_payments_to_send(
    scenario: Scenario, burst_id: str, orders: int, anchor_ms: int, start_ms: int, end_ms: int
) -> list[Emitted]:
    """A burst's payments due in ``[start_ms, end_ms)`` as sent, by payment time."""
    keys = burst_keys(scenario, burst_id, orders, anchor_ms)
    if end_ms <= start_ms:
        return []
    return _due_to_send(scenario, burst_due(scenario, keys, start_ms, end_ms))


def stream(scenario: Scenario, start_ms: int, orders: int) -> Iterator[Emitted]:
    """The first ``orders`` timer orders booked at or after ``start_ms``, as emitted events.

    Bookings and payments interleave by event time (``due_ms`` never decreases), bookings
    before payments at the same millisecond; duplicates and malformed extras follow their
    original. Only these orders' payments are included.
    """
    if orders > 0 and scenario.orders_per_minute == 0:
        raise ValueError("orders_per_minute is 0: there are no timer orders to stream")
    batches = _slots_from(scenario, start_ms, orders)
    return stream_batches(scenario, catalog(scenario), batches)


def plans_from(scenario: Scenario, start_ms: int, orders: int) -> Iterator[PlanRow]:
    """Plans (as :data:`~bms_core.traffic.orderplan.PlanRow`, what :func:`stream` emits from) of the
    first ``orders`` timer orders booked at or after ``start_ms``, by time."""
    return chain.from_iterable(_slots_from(scenario, start_ms, orders))


def rows_in(scenario: Scenario, slot: int) -> list[PlanRow]:
    """:func:`plans_in` as plain tuples (what the event stream reads)."""
    count = slot_order_count(scenario, slot)
    cat = catalog(scenario)
    rows = plan_rows(scenario, cat, TIMER_NAMESPACE, scenario.seed, slot, range(count))
    rows.sort(key=_BOOKING_MS)  # stable: equal times keep index order
    return rows


def _slots_from(scenario: Scenario, start_ms: int, orders: int) -> Iterator[list[PlanRow]]:
    """The first ``orders`` timer orders booked at or after ``start_ms``, a list per slot."""
    slot = slot_at(scenario, start_ms)
    left = orders
    first = True
    while left > 0:
        plans = rows_in(scenario, slot)
        if first:
            plans = [p for p in plans if _BOOKING_MS(p) >= start_ms]
            first = False
        if len(plans) > left:
            plans = plans[:left]
        left -= len(plans)
        yield plans
        slot += 1
