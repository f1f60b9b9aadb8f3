"""An order as plain numbers and indexes (an :class:`OrderPlan`).

Planning is the one place that turns an order's draws into decisions (city, show, seats, money,
payment attempts). Two renderers read a plan: :mod:`bms_core.plan_events` builds the validated
:mod:`bms_core.contract` Structs (model API, validator), and :mod:`bms_core.wire` writes the
same JSON bytes directly (the fast sending path).
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections.abc import Sequence
from typing import Final, NamedTuple, cast

from bms_core import entropy
from bms_core.catalog import (
    CUSTOMERS_PER_CITY,
    DAY_MS,
    IST_OFFSET_MS,
    LATE_DELAY_MS,
    REGULARS_PER_CITY,
    SEATS_PER_ROW,
    SHOWS_PER_VENUE,
    Catalog,
    Venue,
)
from bms_core.orderid import TIMER_NAMESPACE, OrderKey, decode_order_id, order_id_prefix
from bms_core.orderid import index_text as _index_text
from bms_core.payments import (
    LATE_SPAN_MS,
    NEVER_PAID,
    PAID_FIRST_TRY,
    Attempt,
    AttemptFields,
    retries,
)
from bms_core.scenario import Scenario

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
    delivery: tuple[int, ...]
    """Words 16-19 of its record: is the booking, is the first attempt delivered twice /
    followed by a malformed copy (:data:`bms_core.entropy.DUPLICATE`, ``MALFORMED``)."""
    record: bytes
    """All its draws (:func:`bms_core.entropy.all_words`): retries and delivery extras."""

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


def timings(
    scenario: Scenario, namespace: str, seed: int, slot: int, indexes: Sequence[int]
) -> list[tuple[int, tuple[int, ...], bytes]]:
    """``(booking ms, hot draws, record)`` of orders of one slot (or burst): what a payment
    schedule needs, without planning the booking."""
    base, sign, width = _booking_base(scenario, namespace, slot)
    hot = entropy.hot_words
    out = []
    for record in entropy.order_records(seed, namespace, slot, indexes):
        d = hot(record)
        out.append((base + sign * ((d[0] * width) >> 32), d, record))
    return out


def _booking_base(scenario: Scenario, namespace: str, slot: int) -> tuple[int, int, int]:
    """``(base, sign, width)``: booking ms = base + sign * ((first draw * width) >> 32)."""
    if namespace == TIMER_NAMESPACE:
        width = scenario.slot_seconds * 1000
        return slot * width, 1, width
    return slot * 1000, -1, BURST_SPREAD_MS


def plan_order(scenario: Scenario, cat: Catalog, key: OrderKey) -> OrderPlan:
    """Every decision about the order ``key`` (the key must be valid; not checked here)."""
    namespace, seed, slot, index = key
    return plan_orders(scenario, cat, namespace, seed, slot, (index,))[0]


PlanRow = tuple[
    int, str, int, int, int, int, Venue, int, int, int, int, str, int, int, int, int, int, int,
    tuple[AttemptFields, ...], tuple[int, ...], bytes,
]  # fmt: skip
"""An :class:`OrderPlan`'s fields as a plain tuple: what the event stream reads (a plain
tuple is cheaper to build, unpack and free than a NamedTuple). A first attempt that pays
is a plain tuple there too (:data:`~bms_core.payments.AttemptFields`)."""
OUTCOME_FIELD: Final = OrderPlan._fields.index("outcome")
"""Where a :data:`PlanRow` (or an :class:`OrderPlan`) holds its outcome."""


def plan_orders(
    scenario: Scenario,
    cat: Catalog,
    namespace: str,
    seed: int,
    slot: int,
    indexes: Sequence[int],
) -> list[OrderPlan]:
    """Plans of the orders ``indexes`` of ``(namespace, seed, slot)``, in that order.

    The one planner: a slot is planned in one call (draws hashed per block, tables looked up
    once), a single order is the one-element case, so both give identical plans. The payment
    schedule is :func:`bms_core.payments.schedules` written inline (a test compares them).
    """
    return cast(list[OrderPlan], _plan(scenario, cat, namespace, seed, slot, indexes, OrderPlan))


def plan_rows(
    scenario: Scenario,
    cat: Catalog,
    namespace: str,
    seed: int,
    slot: int,
    indexes: Sequence[int],
) -> list[PlanRow]:
    """:func:`plan_orders` as plain tuples (:data:`PlanRow`), for the event stream."""
    return _plan(scenario, cat, namespace, seed, slot, indexes, None)


def _plan(
    scenario: Scenario,
    cat: Catalog,
    namespace: str,
    seed: int,
    slot: int,
    indexes: Sequence[int],
    plan_type: type[OrderPlan] | None,
) -> list[PlanRow]:
    id_prefix = order_id_prefix(namespace, seed, slot)
    index_texts = _index_texts(indexes)
    pick = bisect_right
    city_cuts = cat.city_cuts
    type_cuts = cat.type_cuts
    day_cuts = cat.day_cuts
    category_cuts = cat.category_cuts
    seat_cuts = cat.seat_cuts
    channel_cuts = cat.channel_cuts
    outcome_cuts = cat.outcome_cuts
    method_cuts = cat.method_cuts
    city_table, type_table, category_table, seat_table, method_table, channel_table, \
        outcome_table, day_table = cat.picks  # fmt: skip
    top = entropy.TOP_BYTES
    venues = cat.venues
    show_starts = cat.show_starts
    tickets = cat.tickets
    category_rows = cat.category_rows
    late_cut = cat.late_cut
    delay_steps = cat.delay_steps
    methods = cat.methods
    late_low = LATE_DELAY_MS[0]
    new = _new
    attempt_type = Attempt
    plain = plan_type is None
    planned = entropy.planned_words
    word = entropy.word
    later = entropy.later_words
    hot_bytes = entropy.HOT_BYTES
    day_ms = DAY_MS
    lead_ms = MIN_SHOW_LEAD_MS
    base, sign, width = _booking_base(scenario, namespace, slot)
    earliest = base if sign > 0 else base - width
    midnight = (earliest + IST_OFFSET_MS) // DAY_MS * DAY_MS - IST_OFFSET_MS
    next_midnight = midnight + DAY_MS  # a slot or burst spans at most one IST midnight
    out = []
    records = entropy.order_records(seed, namespace, slot, indexes)
    # word layout: see bms_core.entropy
    for index, record in zip(indexes, records, strict=True):
        w0, w2, w4, w6, w10, w11, w14, w15, w16, w17, w18, w19 = planned(record)  # PLANNED
        booking_ms = base + sign * ((w0 * width) >> 32)
        # the payment schedule (bms_core.payments.schedules)
        outcome = outcome_table[record[top[12]]]
        if outcome < 0:
            outcome = pick(outcome_cuts, word(record, 12))
        if outcome == NEVER_PAID:
            attempts: tuple[AttemptFields, ...] = ()
        else:
            draw = w15
            if w14 < late_cut:
                time_ms = booking_ms + late_low + ((draw * LATE_SPAN_MS) >> 32)
            else:
                low, rise = delay_steps[draw >> 20]
                time_ms = booking_ms + low + ((rise * (draw & 0xFFFFF)) >> 20)
            method = method_table[record[top[13]]]
            method_name = methods[method if method >= 0 else pick(method_cuts, word(record, 13))]
            if outcome == PAID_FIRST_TRY:
                paid: AttemptFields = (1, time_ms, method_name, "Success", None)
                attempts = (paid if plain else new(attempt_type, paid),)
            else:
                attempts = retries(cat, outcome, time_ms, method_name, later(record, hot_bytes))
        # the booking
        city = city_table[record[top[1]]]
        if city < 0:
            city = pick(city_cuts, word(record, 1))
        event_type = type_table[record[top[3]]]
        if event_type < 0:
            event_type = pick(type_cuts, word(record, 3))
        tier = w4 & 3  # a venue's tier is its index
        starts = show_starts[event_type]
        day = day_table[record[top[5]]]
        if day < 0:
            day = pick(day_cuts, word(record, 5))
        show_ms = (
            (midnight if booking_ms < next_midnight else next_midnight)
            + day * day_ms
            + starts[w6 % len(starts)]
        )
        if show_ms < booking_ms + lead_ms:
            show_ms += day_ms
            while show_ms < booking_ms + lead_ms:
                show_ms += day_ms
        category = category_table[record[top[9]]]
        if category < 0:
            category = pick(category_cuts, word(record, 9))
        price, fee, gst = tickets[event_type][tier][category]
        n = seat_table[record[top[8]]]
        if n < 0:
            n = pick(seat_cuts, word(record, 8))
        n += 1
        channel = channel_table[record[top[7]]]
        if channel < 0:
            channel = pick(channel_cuts, word(record, 7))
        rows = category_rows[category]
        draw = w2
        fields: PlanRow = (
            index,
            id_prefix + index_texts[index],
            booking_ms,
            city,
            (draw >> 1) % (REGULARS_PER_CITY if draw & 1 else CUSTOMERS_PER_CITY),
            event_type,
            venues[city][event_type][tier],
            (w4 >> 2) % SHOWS_PER_VENUE,
            show_ms,
            category,
            n,
            rows[w10 % len(rows)],
            1 + w11 % (SEATS_PER_ROW - n + 1),
            price,
            fee,
            gst,
            channel,
            outcome,
            attempts,
            (w16, w17, w18, w19),
            record,
        )
        out.append(fields if plan_type is None else new(plan_type, fields))
    return out


_INDEX_TEXTS: list[str] = []
_INDEX_TEXT_LIMIT: Final = 1 << 16
_INDEX_TEXTS_GROWING = threading.Lock()
"""Held while the table grows: the Python worker runs invocations on a thread pool, and two
threads growing it at once would misalign ids and orders. Readers need no lock (entries are
only appended, each whole list appended at once)."""


def _index_texts(indexes: Sequence[int]) -> list[str] | dict[int, str]:
    """Index parts of order ids (:func:`bms_core.orderid.index_text`) by index.

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
