"""The deterministic, random-access traffic generator: orders, bookings, payments, emissions.

Time is cut into slots of ``scenario.slot_seconds``. Slot ``s`` holds a Poisson number of
timer orders (its mean follows ``orders_per_minute`` and the IST hour/weekday shape), and order
``i`` of slot ``s`` is a pure function of ``(seed, slot, i)`` and the scenario: it can be built
alone (:func:`order_at`), and its ``order_id`` is enough to rebuild it (:func:`regenerate`).
All randomness comes from :mod:`bms_core.entropy` (BLAKE2b of the key), never from ``hash()``,
so output is byte-identical in every process.

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

from collections.abc import Iterator
from functools import lru_cache
from typing import Final, NamedTuple

from bms_core import entropy
from bms_core.catalog import (
    CATEGORY_ROWS,
    CUSTOMERS_PER_CITY,
    DAY_MS,
    IST_OFFSET_MS,
    SEATS_PER_ROW,
    SHOW_MINUTES_IST,
    Catalog,
    catalog,
    poisson,
    rate_at,
)
from bms_core.contract import (
    CURRENCY,
    SCHEMA_VERSION,
    Booking,
    Customer,
    EventDetails,
    Payment,
    Seat,
)
from bms_core.emission import Emitted, emit_order_events, stream_orders
from bms_core.money import to_decimal
from bms_core.orderid import (
    MAX_INDEX,
    TIMER_NAMESPACE,
    OrderKey,
    check_burst_id,
    decode_order_id,
    encode_order_id,
)
from bms_core.payments import MAX_PAYMENT_DELAY_MS, OUTCOMES, Attempt, schedule
from bms_core.pools import EMAIL_DOMAINS, pools
from bms_core.scenario import Scenario
from bms_core.timefmt import format_ms

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

BURST_SPREAD_MS: Final = 1000
"""Burst bookings lie in ``(anchor_second*1000 - BURST_SPREAD_MS, anchor_second*1000]``."""
MIN_SHOW_LEAD_MS: Final = 30 * 60_000


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


# --- one order -------------------------------------------------------------------------------


def _booking_ms(key: OrderKey, slot_ms: int, first_draw: int) -> int:
    if key.namespace == TIMER_NAMESPACE:
        return key.slot * slot_ms + ((first_draw * slot_ms) >> 32)
    return key.slot * 1000 - ((first_draw * BURST_SPREAD_MS) >> 32)


@lru_cache(maxsize=65536)
def _customer(city: str, slug: str, number: int) -> Customer:
    p = pools()
    d = entropy.text_draws(f"customer|{city}|{number}", entropy.CUSTOMER)
    first = p.first_names[d[0] % len(p.first_names)]
    last = p.last_names[d[1] % len(p.last_names)]
    local = "".join(c for c in f"{first}.{last}".lower() if c.isalnum() or c == ".")
    suffix = str(d[2] % 1000) if d[3] % 3 else ""
    return Customer(
        customer_id=f"cu-{slug}-{number:05d}",
        name=f"{first} {last}",
        email=f"{local}{suffix}@{EMAIL_DOMAINS[d[4] % len(EMAIL_DOMAINS)]}",
        phone=p.phones[d[5] % len(p.phones)],
        city=city,
    )


@lru_cache(maxsize=65536)
def _seat(number: str, category: str, price: int) -> Seat:
    return Seat(seat_number=number, category=category, price=to_decimal(price))  # type: ignore[arg-type]


def _show_ms(booking_ms: int, day: int, minute: int) -> int:
    ist_midnight = (booking_ms + IST_OFFSET_MS) // DAY_MS * DAY_MS - IST_OFFSET_MS
    show = ist_midnight + day * DAY_MS + minute * 60_000
    while show < booking_ms + MIN_SHOW_LEAD_MS:
        show += DAY_MS
    return show


def _booking(
    cat: Catalog, order_id: str, booking_ms: int, d: tuple[int, ...]
) -> tuple[Booking, int]:
    """The booking and its total in paise."""
    city_i = entropy.pick(cat.city_cuts, d[1])
    city = cat.cities[city_i]
    type_i = entropy.pick(cat.type_cuts, d[3])
    event_type = cat.types[type_i]
    venue = cat.venues[city_i][type_i][d[4] & 3]
    show_i = (d[4] >> 2) % len(cat.show_names[city_i][type_i])
    minutes = SHOW_MINUTES_IST[event_type]
    show_ms = _show_ms(booking_ms, entropy.pick(cat.day_cuts, d[6]), minutes[d[7] % len(minutes)])
    cat_i = entropy.pick(cat.category_cuts, d[10])
    category = cat.categories[cat_i]
    price = cat.prices[type_i][venue.tier][cat_i]
    fee, gst = cat.fees[type_i][venue.tier][cat_i]
    n = entropy.pick(cat.seat_cuts, d[9]) + 1
    rows = CATEGORY_ROWS[category]
    row = rows[d[11] % len(rows)]
    first_seat = 1 + d[12] % (SEATS_PER_ROW - n + 1)
    seats = [_seat(f"{row}{first_seat + j}", category, price) for j in range(n)]
    subtotal = n * price
    total = subtotal + n * (fee + gst)
    booking = Booking(
        schema_version=SCHEMA_VERSION,
        event_id=f"{order_id}-b",
        order_id=order_id,
        booking_time=format_ms(booking_ms),
        customer=_customer(city, cat.city_slugs[city_i], d[2] % CUSTOMERS_PER_CITY),
        event_details=EventDetails(
            event_id=f"sh-{venue.venue_id[3:]}-{show_i:02d}-{show_ms // 60_000:x}",
            event_name=cat.show_names[city_i][type_i][show_i],
            event_type=event_type,  # type: ignore[arg-type]
            event_location=city,
            venue_id=venue.venue_id,
            venue_name=venue.venue_name,
            show_time=format_ms(show_ms),
            seats=seats,
        ),
        currency=CURRENCY,
        ticket_subtotal=to_decimal(subtotal),
        convenience_fee_per_ticket=to_decimal(fee),
        convenience_fee=to_decimal(n * fee),
        gst_on_fee=to_decimal(n * gst),
        total_amount=to_decimal(total),
        channel=cat.channels[entropy.pick(cat.channel_cuts, d[8])],  # type: ignore[arg-type]
    )
    return booking, total


def _payment(order_id: str, amount_paise: int, a: Attempt) -> Payment:
    payment_id = f"{order_id}-p{a.attempt}"
    return Payment(
        schema_version=SCHEMA_VERSION,
        event_id=payment_id,
        payment_id=payment_id,
        order_id=order_id,
        attempt=a.attempt,
        payment_time=format_ms(a.time_ms),
        amount=to_decimal(amount_paise),
        currency=CURRENCY,
        payment_method=a.method,  # type: ignore[arg-type]
        payment_status=a.status,  # type: ignore[arg-type]
        failure_reason=a.reason,
    )


def _check_key(scenario: Scenario, key: OrderKey) -> None:
    encode_order_id(key)
    if key.namespace == TIMER_NAMESPACE:
        count = _slot_count(scenario, key.seed, key.slot)
        if key.index >= count:
            raise ValueError(
                f"order {encode_order_id(key)} does not exist: slot {key.slot} holds {count} "
                "timer orders in this scenario"
            )


def _timing(scenario: Scenario, key: OrderKey) -> tuple[int, tuple[int, ...]]:
    d = entropy.draws(key.seed, key.namespace, key.slot, key.index, entropy.BOOKING)
    return _booking_ms(key, scenario.slot_seconds * 1000, d[0]), d


class _Built(NamedTuple):
    booking_ms: int
    order: Order
    attempt_ms: tuple[int, ...]


def _build_timed(scenario: Scenario, key: OrderKey) -> _Built:
    cat = catalog(scenario)
    booking_ms, d = _timing(scenario, key)
    order_id = encode_order_id(key)
    booking, total = _booking(cat, order_id, booking_ms, d)
    outcome, attempts = schedule(scenario, cat, key, booking_ms)
    payments = tuple(_payment(order_id, total, a) for a in attempts)
    order = Order(key, booking, payments, OUTCOMES[outcome])
    return _Built(booking_ms, order, tuple(a.time_ms for a in attempts))


def _build(scenario: Scenario, key: OrderKey) -> Order:
    return _build_timed(scenario, key).order


def order_at(scenario: Scenario, key: OrderKey) -> Order:
    """The order ``key`` (random access, pure). ``ValueError`` if the key names no order."""
    _check_key(scenario, key)
    return _build(scenario, key)


def regenerate(scenario: Scenario, order_id: str) -> Order:
    """Rebuild an order from its id alone (plus the scenario it was generated with)."""
    return order_at(scenario, decode_order_id(order_id))


def _keys(scenario: Scenario, slot: int) -> list[OrderKey]:
    seed = scenario.seed
    return [
        OrderKey(TIMER_NAMESPACE, seed, slot, i) for i in range(slot_order_count(scenario, slot))
    ]


def _timed_in(scenario: Scenario, slot: int) -> list[_Built]:
    built = [_build_timed(scenario, key) for key in _keys(scenario, slot)]
    built.sort(key=lambda b: (b.booking_ms, b.order.key.index))
    return built


def orders_in(scenario: Scenario, slot: int) -> list[Order]:
    """Timer orders of ``slot``, by booking time (ties by index)."""
    return [b.order for b in _timed_in(scenario, slot)]


def bookings_in(scenario: Scenario, slot: int) -> list[Booking]:
    """Bookings of ``slot`` by booking time; all lie inside ``slot_bounds(scenario, slot)``."""
    return [o.booking for o in orders_in(scenario, slot)]


# --- payments due ------------------------------------------------------------------------------


def _due_orders(
    scenario: Scenario, keys: Iterator[OrderKey], start_ms: int, end_ms: int
) -> list[tuple[int, str, Order, Payment]]:
    """``(payment ms, payment_id, order, payment)`` for attempts in ``[start_ms, end_ms)``."""
    cat = catalog(scenario)
    found: list[tuple[int, str, Order, Payment]] = []
    for key in keys:
        booking_ms, _ = _timing(scenario, key)
        if booking_ms + MAX_PAYMENT_DELAY_MS < start_ms or booking_ms >= end_ms:
            continue
        _, attempts = schedule(scenario, cat, key, booking_ms)
        if any(start_ms <= a.time_ms < end_ms for a in attempts):
            order = _build(scenario, key)
            for a, payment in zip(attempts, order.payments, strict=True):
                if start_ms <= a.time_ms < end_ms:
                    found.append((a.time_ms, payment.payment_id, order, payment))
    found.sort(key=lambda item: (item[0], item[1]))
    return found


def _timer_keys(scenario: Scenario, start_ms: int, end_ms: int) -> Iterator[OrderKey]:
    first = slot_at(scenario, max(0, start_ms - MAX_PAYMENT_DELAY_MS))
    last = slot_at(scenario, end_ms - 1)
    for slot in range(first, last + 1):
        yield from _keys(scenario, slot)


def payments_due(scenario: Scenario, start_ms: int, end_ms: int) -> list[Payment]:
    """Timer orders' payment attempts with ``payment_time`` in ``[start_ms, end_ms)``, by time.

    Includes attempts of bookings from earlier slots (looks back ``MAX_PAYMENT_DELAY_MS``).
    """
    if end_ms <= start_ms:
        return []
    return [
        p
        for _, _, _, p in _due_orders(
            scenario, _timer_keys(scenario, start_ms, end_ms), start_ms, end_ms
        )
    ]


# --- bursts ----------------------------------------------------------------------------------


def _burst_keys(scenario: Scenario, burst_id: str, orders: int, anchor_ms: int) -> list[OrderKey]:
    check_burst_id(burst_id)
    if isinstance(orders, bool) or not isinstance(orders, int) or not 0 <= orders <= MAX_INDEX + 1:
        raise ValueError(f"orders must be an integer in 0 .. {MAX_INDEX + 1}, got {orders!r}")
    if isinstance(anchor_ms, bool) or not isinstance(anchor_ms, int) or anchor_ms < BURST_SPREAD_MS:
        raise ValueError(f"anchor_ms must be epoch milliseconds, got {anchor_ms!r}")
    second = anchor_ms // 1000
    return [OrderKey(burst_id, scenario.seed, second, i) for i in range(orders)]


def burst_orders(scenario: Scenario, burst_id: str, orders: int, anchor_ms: int) -> list[Order]:
    """The burst's orders by booking time; bookings lie at or up to 1 s before ``anchor_ms``."""
    built = [_build(scenario, key) for key in _burst_keys(scenario, burst_id, orders, anchor_ms)]
    built.sort(key=lambda o: (o.booking.booking_time, o.key.index))
    return built


def burst_payments_due(
    scenario: Scenario, burst_id: str, orders: int, anchor_ms: int, start_ms: int, end_ms: int
) -> list[Payment]:
    """The burst's payment attempts with ``payment_time`` in ``[start_ms, end_ms)``, by time."""
    keys = _burst_keys(scenario, burst_id, orders, anchor_ms)
    if end_ms <= start_ms:
        return []
    return [p for _, _, _, p in _due_orders(scenario, iter(keys), start_ms, end_ms)]


# --- emission ----------------------------------------------------------------------------------


def _emit_bookings(scenario: Scenario, built: list[_Built]) -> list[Emitted]:
    out: list[Emitted] = []
    for b in built:
        times = (b.booking_ms,)
        out.extend(emit_order_events(scenario, b.order, booking=True, attempts=(), times=times))
    return out


def _emit_due(scenario: Scenario, due: list[tuple[int, str, Order, Payment]]) -> list[Emitted]:
    out: list[Emitted] = []
    for time_ms, _, order, payment in due:
        times = (0,) * payment.attempt + (time_ms,)
        out.extend(
            emit_order_events(
                scenario, order, booking=False, attempts=(payment.attempt,), times=times
            )
        )
    return out


def emit_bookings(scenario: Scenario, slot: int) -> list[Emitted]:
    """Slot ``slot``'s bookings ready to send (with duplicates and malformed extras)."""
    return _emit_bookings(scenario, _timed_in(scenario, slot))


def emit_payments(scenario: Scenario, start_ms: int, end_ms: int) -> list[Emitted]:
    """Timer payments due in ``[start_ms, end_ms)`` ready to send, by payment time."""
    if end_ms <= start_ms:
        return []
    keys = _timer_keys(scenario, start_ms, end_ms)
    return _emit_due(scenario, _due_orders(scenario, keys, start_ms, end_ms))


def emit_burst(scenario: Scenario, burst_id: str, orders: int, anchor_ms: int) -> list[Emitted]:
    """A burst's bookings ready to send."""
    keys = _burst_keys(scenario, burst_id, orders, anchor_ms)
    built = sorted(
        (_build_timed(scenario, key) for key in keys),
        key=lambda b: (b.booking_ms, b.order.key.index),
    )
    return _emit_bookings(scenario, built)


def emit_burst_payments(
    scenario: Scenario, burst_id: str, orders: int, anchor_ms: int, start_ms: int, end_ms: int
) -> list[Emitted]:
    """A burst's payments due in ``[start_ms, end_ms)`` ready to send, by payment time."""
    keys = _burst_keys(scenario, burst_id, orders, anchor_ms)
    if end_ms <= start_ms:
        return []
    return _emit_due(scenario, _due_orders(scenario, iter(keys), start_ms, end_ms))


def stream(scenario: Scenario, start_ms: int, orders: int) -> Iterator[Emitted]:
    """The first ``orders`` timer orders booked at or after ``start_ms``, as emitted events.

    Bookings and payments interleave by event time (``due_ms`` never decreases), bookings
    before payments at the same millisecond; duplicates and malformed extras follow their
    original. Only these orders' payments are included.
    """
    if orders > 0 and scenario.orders_per_minute == 0:
        raise ValueError("orders_per_minute is 0: there are no timer orders to stream")
    return stream_orders(scenario, _orders_from(scenario, start_ms, orders))


def _orders_from(
    scenario: Scenario, start_ms: int, orders: int
) -> Iterator[tuple[int, Order, tuple[int, ...]]]:
    slot = slot_at(scenario, start_ms)
    left = orders
    while left > 0:
        for built in _timed_in(scenario, slot):
            if left and built.booking_ms >= start_ms:
                left -= 1
                yield built
        slot += 1
