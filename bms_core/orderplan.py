"""An order as plain numbers and indexes (an :class:`OrderPlan`), and its contract Structs.

Planning is the one place that turns an order's draws into decisions (city, show, seats, money,
payment attempts). Two renderers read a plan: :func:`booking_of` / :func:`payments_of` build
the validated :mod:`bms_core.contract` Structs (model API, validator), and
:mod:`bms_core.wire` writes the same JSON bytes directly (the fast sending path).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from functools import lru_cache
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
from bms_core.contract import (
    CURRENCY,
    SCHEMA_VERSION,
    Booking,
    Customer,
    EventDetails,
    Payment,
    Seat,
)
from bms_core.money import to_decimal
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
from bms_core.pools import EMAIL_DOMAINS, pools
from bms_core.scenario import Scenario
from bms_core.timefmt import format_ms

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


def _index_texts(indexes: Sequence[int]) -> list[str] | dict[int, str]:
    """Index parts of order ids (:func:`bms_core.orderid.index_text`) by index.

    Texts of indexes below 65,536 are kept for the process (every slot uses the same few
    hundred); larger (burst) indexes get theirs made for the call.
    """
    top = max(indexes, default=0)
    if top >= _INDEX_TEXT_LIMIT:
        return {i: _index_text(i) for i in indexes}
    have = len(_INDEX_TEXTS)
    if have <= top:
        _INDEX_TEXTS.extend(_index_text(i) for i in range(have, top + 1))
    return _INDEX_TEXTS


def show_event_id(plan: OrderPlan) -> str:
    """The show's id: venue, show number and start minute (base 16)."""
    return f"{plan.venue.show_prefix}{plan.show:02d}-{plan.show_ms // 60_000:x}"


# --- customers -------------------------------------------------------------------------------


class People(NamedTuple):
    """Pool texts customers are made of (first/last names, their email forms, phones)."""

    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    first_emails: tuple[str, ...]
    last_emails: tuple[str, ...]
    phones: tuple[str, ...]


@lru_cache(maxsize=1)
def people() -> People:
    """Built once from the Faker pools."""
    p = pools()

    def clean(name: str) -> str:
        return "".join(c for c in name.lower() if c.isalnum())

    return People(
        p.first_names,
        p.last_names,
        tuple(clean(n) for n in p.first_names),
        tuple(clean(n) for n in p.last_names),
        p.phones,
    )


def customer_fields(city_key: int, slug: str, number: int) -> tuple[str, str, str, str]:
    """``(customer_id, name, email, phone)``: the same person every time they book.

    :func:`bms_core.wire.booking_body` inlines the same arithmetic; a test compares them.
    """
    firsts, lasts, first_emails, last_emails, phones = people()
    x = entropy.mix64(city_key ^ number)
    f = x % len(firsts)
    la = (x >> 12) % len(lasts)
    suffix = str((x >> 24) % 1000) if (x >> 40) % 3 else ""
    return (
        f"cu-{slug}-{number:05d}",
        f"{firsts[f]} {lasts[la]}",
        f"{first_emails[f]}.{last_emails[la]}{suffix}@{EMAIL_DOMAINS[(x >> 44) % 3]}",
        phones[(x >> 48) % len(phones)],
    )


def customer_of(cat: Catalog, plan: OrderPlan) -> tuple[str, str, str, str]:
    return customer_fields(cat.city_keys[plan.city], cat.city_slugs[plan.city], plan.customer)


# --- Structs ---------------------------------------------------------------------------------


@lru_cache(maxsize=65536)
def _seat(number: str, category: str, price: int) -> Seat:
    return Seat(seat_number=number, category=category, price=to_decimal(price))  # type: ignore[arg-type]


def booking_of(cat: Catalog, plan: OrderPlan) -> Booking:
    """The validated contract Booking of a plan."""
    customer_id, name, email, phone = customer_of(cat, plan)
    city = cat.cities[plan.city]
    category = cat.categories[plan.category]
    n = plan.seats
    seats = [_seat(f"{plan.row}{plan.first_seat + j}", category, plan.price) for j in range(n)]
    return Booking(
        schema_version=SCHEMA_VERSION,
        event_id=f"{plan.order_id}-b",
        order_id=plan.order_id,
        booking_time=format_ms(plan.booking_ms),
        customer=Customer(customer_id=customer_id, name=name, email=email, phone=phone, city=city),
        event_details=EventDetails(
            event_id=show_event_id(plan),
            event_name=cat.show_names[plan.city][plan.event_type][plan.show],
            event_type=cat.types[plan.event_type],  # type: ignore[arg-type]
            event_location=city,
            venue_id=plan.venue.venue_id,
            venue_name=plan.venue.venue_name,
            show_time=format_ms(plan.show_ms),
            seats=seats,
        ),
        currency=CURRENCY,
        ticket_subtotal=to_decimal(plan.subtotal),
        convenience_fee_per_ticket=to_decimal(plan.fee),
        convenience_fee=to_decimal(n * plan.fee),
        gst_on_fee=to_decimal(n * plan.gst),
        total_amount=to_decimal(plan.total),
        channel=cat.channels[plan.channel],  # type: ignore[arg-type]
    )


def payments_of(plan: OrderPlan) -> tuple[Payment, ...]:
    """The validated contract Payments of a plan, one per attempt, in time order."""
    amount = to_decimal(plan.total)
    out = []
    for a in plan.attempts:
        payment_id = f"{plan.order_id}-p{a.attempt}"
        out.append(
            Payment(
                schema_version=SCHEMA_VERSION,
                event_id=payment_id,
                payment_id=payment_id,
                order_id=plan.order_id,
                attempt=a.attempt,
                payment_time=format_ms(a.time_ms),
                amount=amount,
                currency=CURRENCY,
                payment_method=a.method,  # type: ignore[arg-type]
                payment_status=a.status,  # type: ignore[arg-type]
                failure_reason=a.reason,
            )
        )
    return tuple(out)
