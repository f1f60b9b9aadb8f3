"""An order as plain numbers and indexes (an :class:`OrderPlan`).

Planning is the one place that turns an order's draws
(:class:`~bms_core.traffic.entropy.BookingDraws`) into decisions: when it is booked, by whom,
for which show, which seats at what price; how it is paid comes from the payment model
(:func:`bms_core.traffic.payments.schedule`). Two renderers read a plan:
:mod:`bms_core.traffic.plan_events` builds the validated :mod:`bms_core.contract` Structs
(model API, validator), and :mod:`bms_core.traffic.wire` writes the same JSON bytes directly
(the fast sending path).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Final, NamedTuple

from bms_core.traffic import entropy
from bms_core.traffic.catalog import (
    CUSTOMERS_PER_CITY,
    DAY_MS,
    IST_OFFSET_MS,
    REGULARS_PER_CITY,
    SEATS_PER_ROW,
    SHOWS_PER_VENUE,
    Catalog,
    Venue,
)
from bms_core.traffic.entropy import BookingDraws, booking_draws, delivery_draws, pick
from bms_core.traffic.orderid import TIMER_NAMESPACE, OrderKey, decode_order_id, order_id_prefix
from bms_core.traffic.orderid import index_text as _index_text
from bms_core.traffic.payments import Attempt, AttemptFields, schedule
from bms_core.traffic.scenario import Scenario

BURST_SPREAD_MS: Final = 1000
"""Burst bookings lie in ``(anchor_second*1000 - BURST_SPREAD_MS, anchor_second*1000]``."""
MIN_SHOW_LEAD_MS: Final = 30 * 60_000
"""A show starts at least 30 minutes after it is booked."""
_new = tuple.__new__


class OrderPlan(NamedTuple):
    slot_index: int
    """The order's index in its slot (or burst): the last part of its key."""
    order_id: str
    booking_ms: int
    city: int
    customer: int
    event_type: int
    venue: Venue
    show: int
    show_ms: int
    category: int
    seats: int
    row: str
    first_seat: int
    price: int
    fee: int
    gst: int
    channel: int
    outcome: int
    attempts: tuple[Attempt, ...]
    delivery: tuple[int, int, int, int]
    """Whether its booking and first attempt are sent twice or followed by a malformed copy:
    the draws of :class:`~bms_core.traffic.entropy.DeliveryDraws`."""
    record: bytes
    """All its draws (:mod:`bms_core.traffic.entropy`): retries and later
    attempts' extras read it."""

    @property
    def key(self) -> OrderKey:
        """The order's key, read back from its id (the plan keeps only the index)."""
        return decode_order_id(self.order_id)

    @property
    def subtotal(self) -> int:
        return self.seats * self.price

    @property
    def total(self) -> int:
        """``total_amount`` in paise: seat prices + n * (fee + GST on fee)."""
        return self.seats * (self.price + self.fee + self.gst)


class BookingClock(NamedTuple):
    """Where the bookings of one slot (or burst) lie: ``base + sign * offset`` with ``offset``
    the booking-time draw scaled to ``[0, width)``."""

    base: int
    sign: int
    width: int

    def at(self, draw: int) -> int:
        return self.base + self.sign * ((draw * self.width) >> 32)

    @property
    def earliest(self) -> int:
        return self.base if self.sign > 0 else self.base - self.width


def booking_clock(scenario: Scenario, namespace: str, slot: int) -> BookingClock:
    """Timer bookings fill their slot forwards; a burst's lie in the second before its anchor."""
    if namespace == TIMER_NAMESPACE:
        width = scenario.slot_seconds * 1000
        return BookingClock(slot * width, 1, width)
    return BookingClock(slot * 1000, -1, BURST_SPREAD_MS)


def timings(
    scenario: Scenario, namespace: str, seed: int, slot: int, indexes: Sequence[int]
) -> list[tuple[int, bytes]]:
    """``(booking ms, record)`` of orders of one slot (or burst): what a payment schedule
    needs, without planning the booking."""
    clock = booking_clock(scenario, namespace, slot)
    records = entropy.order_records(seed, namespace, slot, indexes)
    return [(clock.at(BookingDraws(*booking_draws(r)).booking_time), r) for r in records]


def plan_order(scenario: Scenario, cat: Catalog, key: OrderKey) -> OrderPlan:
    """Every decision about the order ``key`` (the key must be valid; not checked here)."""
    namespace, seed, slot, index = key
    return plan_orders(scenario, cat, namespace, seed, slot, (index,))[0]


def plan_orders(
    scenario: Scenario,
    cat: Catalog,
    namespace: str,
    seed: int,
    slot: int,
    indexes: Sequence[int],
) -> list[OrderPlan]:
    """Plans of the orders ``indexes`` of ``(namespace, seed, slot)``, in that order.

    A slot is planned in one call (draws hashed per block, tables looked up once), a single
    order is the one-element case, so both give identical plans.
    """
    rows = plan_rows(scenario, cat, namespace, seed, slot, indexes)
    return [_as_plan(row) for row in rows]


def _as_plan(row: PlanRow) -> OrderPlan:
    plan: OrderPlan = _new(OrderPlan, row)
    return plan._replace(attempts=tuple(_new(Attempt, a) for a in plan.attempts))


PlanRow = tuple[
    int, str, int, int, int, int, Venue, int, int, int, int, str, int, int, int, int, int, int,
    tuple[AttemptFields, ...], tuple[int, int, int, int], bytes,
]  # fmt: skip
"""An :class:`OrderPlan`'s fields as a plain tuple, what the event stream reads: unpacking a
plain tuple is several times cheaper than unpacking a NamedTuple. Its attempts are plain
tuples too (:data:`~bms_core.traffic.payments.AttemptFields`)."""
BOOKING_MS_FIELD: Final = 2
OUTCOME_FIELD: Final = 17
"""Where a :data:`PlanRow` holds its booking time and its outcome."""
assert OrderPlan._fields[BOOKING_MS_FIELD] == "booking_ms"
assert OrderPlan._fields[OUTCOME_FIELD] == "outcome"


def plan_rows(
    scenario: Scenario,
    cat: Catalog,
    namespace: str,
    seed: int,
    slot: int,
    indexes: Sequence[int],
) -> list[PlanRow]:
    """:func:`plan_orders` as plain tuples (:data:`PlanRow`): the one planner."""
    id_prefix = order_id_prefix(namespace, seed, slot)
    index_texts = _index_texts(indexes)
    clock = booking_clock(scenario, namespace, slot)
    base, sign, width = clock
    midnight = (clock.earliest + IST_OFFSET_MS) // DAY_MS * DAY_MS - IST_OFFSET_MS
    next_midnight = midnight + DAY_MS  # a slot or burst spans at most one IST midnight
    # the catalog's tables as locals: reading a NamedTuple field per order costs more
    city_cuts, type_cuts, day_cuts = cat.city_cuts, cat.type_cuts, cat.day_cuts
    category_cuts, seat_cuts, channel_cuts = cat.category_cuts, cat.seat_cuts, cat.channel_cuts
    venues, tickets, starts_by_type, rows_by_category = (
        cat.venues, cat.tickets, cat.show_starts, cat.category_rows
    )  # fmt: skip
    out = []
    records = entropy.order_records(seed, namespace, slot, indexes)
    for index, record in zip(indexes, records, strict=True):
        (booking_time, city_draw, customer_draw, type_draw, venue_and_show, show_day,
         show_start, channel_draw, seats_draw, category_draw, row_draw, seat_draw,
         ) = booking_draws(record)  # fmt: skip
        booking_ms = base + sign * ((booking_time * width) >> 32)  # clock.at, inlined
        outcome, attempts = schedule(cat, booking_ms, record)
        city = pick(city_cuts, city_draw)
        event_type = pick(type_cuts, type_draw)
        tier = venue_and_show & 3  # a venue's index is its tier
        starts = starts_by_type[event_type]
        show_ms = (
            (midnight if booking_ms < next_midnight else next_midnight)
            + pick(day_cuts, show_day) * DAY_MS
            + starts[show_start % len(starts)]
        )
        while show_ms < booking_ms + MIN_SHOW_LEAD_MS:
            show_ms += DAY_MS
        category = pick(category_cuts, category_draw)
        price, fee, gst = tickets[event_type][tier][category]
        seats = 1 + pick(seat_cuts, seats_draw)
        rows = rows_by_category[category]
        regular = customer_draw & 1  # half the orders come from the city's regulars
        row: PlanRow = (
            index,
            id_prefix + index_texts[index],
            booking_ms,
            city,
            (customer_draw >> 1) % (REGULARS_PER_CITY if regular else CUSTOMERS_PER_CITY),
            event_type,
            venues[city][event_type][tier],
            (venue_and_show >> 2) % SHOWS_PER_VENUE,  # the show at that venue
            show_ms,
            category,
            seats,
            rows[row_draw % len(rows)],
            1 + seat_draw % (SEATS_PER_ROW - seats + 1),
            price,
            fee,
            gst,
            pick(channel_cuts, channel_draw),
            outcome,
            attempts,
            delivery_draws(record),
            record,
        )
        out.append(row)  # the fields in OrderPlan's order
    return out


_INDEX_TEXTS: list[str] = []
_INDEX_TEXT_LIMIT: Final = 1 << 16
_INDEX_TEXTS_GROWING = threading.Lock()
"""Held while the table grows: the Python worker runs invocations on a thread pool, and two
threads growing it at once would misalign ids and orders. Readers need no lock (entries are
only appended, each whole list appended at once)."""


def _index_texts(indexes: Sequence[int]) -> list[str] | dict[int, str]:
    """Index parts of order ids (:func:`bms_core.traffic.orderid.index_text`) by index.

    Texts of indexes below 65,536 are kept for the process (every slot uses the same few
    hundred); larger (burst) indexes get theirs made for the call.
    """
    top = max(indexes, default=0)
    if top >= _INDEX_TEXT_LIMIT:
        return {i: _index_text(i) for i in indexes}
    if len(_INDEX_TEXTS) <= top:
        with _INDEX_TEXTS_GROWING:
            have = len(_INDEX_TEXTS)
            if have <= top:
                _INDEX_TEXTS.extend([_index_text(i) for i in range(have, top + 1)])
    return _INDEX_TEXTS
