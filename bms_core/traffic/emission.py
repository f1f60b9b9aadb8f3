"""Events as sent: JSON bodies, exact duplicates and deliberately malformed extras.

Whether an event is delivered twice, or followed by a malformed variant, is decided by the
order's own draws (its record's delivery words), so it too is reproducible. Duplicates are exact
byte copies (same ``event_id``); malformed extras carry ``event_id=None`` and come in four kinds:
``bad_json`` (truncated), ``bad_timestamp`` (event time not in the contract's format),
``missing_field`` (no ``order_id``) and ``wrong_type`` (money as text). They appear only here,
never in the model functions of :mod:`bms_core.traffic.generator`.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from itertools import chain, islice
from operator import itemgetter
from typing import TYPE_CHECKING, Final, NamedTuple

from bms_core.traffic import entropy, wire
from bms_core.traffic.catalog import Catalog
from bms_core.traffic.entropy import SCALE
from bms_core.traffic.orderplan import BOOKING_MS_FIELD, OrderPlan, PlanRow
from bms_core.traffic.payments import Attempt
from bms_core.traffic.wire import booking_body, payment_body

if TYPE_CHECKING:
    from bms_core.traffic.scenario import Scenario

MALFORMED_KINDS: Final = ("bad_json", "bad_timestamp", "missing_field", "wrong_type")
_TIME_FIELD: Final = re.compile(
    rb'"(booking_time|payment_time)":"(\d{4})-(\d{2})-(\d{2})T([^"]*)Z"'
)
_ORDER_ID_FIELD: Final = re.compile(rb'"order_id":"[^"]*",')
_AMOUNT_FIELD: Final = re.compile(rb'"(total_amount|amount)":([0-9.]+)')


_CHUNK: Final = 256
"""Plans read at a time by :func:`stream_plans` (its events are handed over per batch)."""
_new = tuple.__new__
"""Builds a NamedTuple from a tuple without the Python-level ``__new__`` (hot loops only)."""


class Emitted(NamedTuple):
    """One message to send. ``due_ms`` is its event time, the earliest moment to send it."""

    kind: str
    partition_key: str
    body: bytes
    due_ms: int
    event_id: str | None


def malformed_body(body: bytes, kind: str) -> bytes:
    """A broken variant of a valid event body; consumers must reject it, naming the problem."""
    if kind == "bad_json":
        return body[: max(1, len(body) // 2)]
    if kind == "bad_timestamp":
        return _TIME_FIELD.sub(rb'"\1":"\4/\3/\2 \5"', body, count=1)
    if kind == "missing_field":
        return _ORDER_ID_FIELD.sub(b"", body, count=1)
    if kind == "wrong_type":
        return _AMOUNT_FIELD.sub(rb'"\1":"Rs \2"', body, count=1)
    raise ValueError(f"malformed kind must be one of {', '.join(MALFORMED_KINDS)}, got {kind!r}")


def _extras(scenario: Scenario, original: Emitted, record: bytes, which: int) -> list[Emitted]:
    """The duplicate and/or malformed extra that follow ``original``, as its draws decide.

    ``record`` is the order's (:mod:`bms_core.traffic.entropy`); ``which`` is 0 for the booking and
    the attempt number for a payment.
    """
    out: list[Emitted] = []
    duplicate, malformed, kind_draw = entropy.extra_draws(record, which)
    if duplicate < scenario.duplicate_rate * SCALE:
        out.append(original)
    if malformed < scenario.malformed_rate * SCALE:
        bad = MALFORMED_KINDS[kind_draw % len(MALFORMED_KINDS)]
        kind, key, body, due, _ = original
        out.append(Emitted(kind, key, malformed_body(body, bad), due, None))
    return out


def add_booking(out: list[Emitted], scenario: Scenario, cat: Catalog, plan: OrderPlan) -> None:
    """Append the plan's booking as sent (with its duplicate / malformed extra, if any)."""
    oid = plan.order_id
    original = Emitted("booking", oid, booking_body(cat, plan), plan.booking_ms, f"{oid}-b")
    out.append(original)
    out.extend(_extras(scenario, original, plan.record, 0))


def add_payment(out: list[Emitted], scenario: Scenario, plan: OrderPlan, attempt: Attempt) -> None:
    """Append one payment attempt of the plan as sent (with extras, if any)."""
    oid = plan.order_id
    pid = f"{oid}-p{attempt.attempt}"
    original = Emitted("payment", oid, payment_body(plan, attempt), attempt.time_ms, pid)
    out.append(original)
    out.extend(_extras(scenario, original, plan.record, attempt.attempt))


def stream_plans(scenario: Scenario, cat: Catalog, plans: Iterable[PlanRow]) -> Iterator[Emitted]:
    """Emit plans given by booking time as one stream ordered by event time.

    Bookings go before payments of the same millisecond, payments of one millisecond go by
    payment id, extras follow their original. Plans are read lazily, :data:`_CHUNK` at a time;
    :func:`stream_batches` takes them already cut (e.g. one list per slot).
    """
    iterator = iter(plans)
    return stream_batches(scenario, cat, iter(lambda: list(islice(iterator, _CHUNK)), []))


def stream_batches(
    scenario: Scenario, cat: Catalog, batches: Iterable[Sequence[PlanRow]]
) -> Iterator[Emitted]:
    """:func:`stream_plans` of plans handed over in lists (booking-time order throughout).

    The same events as :func:`add_booking` / :func:`add_payment`, written inline for speed.
    Each event is sorted under a text key: a booking (and its extras) under its event time
    text, a payment under its time text followed by its payment id, and its extras under that
    plus ``"\\x01"`` and ``"\\x02"``. Time texts have a fixed width, so a booking sorts before
    the payments of its millisecond, payments of one millisecond by id, extras right after
    their original; the sort is stable, so bookings of one millisecond keep their order.
    A payment waits in a bucket of :data:`_BUCKET_SHIFT` bits of its time until a batch's last
    booking reaches the bucket; each batch then sorts its bookings with the payments of the
    buckets reached and hands over everything before its last booking's millisecond (later
    payments wait).
    """
    return chain.from_iterable(_stream_batches(scenario, cat, batches))


_EXTRA_TAGS: Final = ("\x01", "\x02")
_BUCKET_SHIFT: Final = 13
"""Payments wait in buckets of 2**13 ms (8.2 s) of their time."""
_Keyed = tuple[str, Emitted]


def _stream_batches(
    scenario: Scenario, cat: Catalog, batches: Iterable[Sequence[PlanRow]]
) -> Iterator[list[Emitted]]:
    dup_cut = entropy.cut(scenario.duplicate_rate)
    bad_cut = entropy.cut(scenario.malformed_rate)
    extra_draws = entropy.extra_draws
    later: dict[int, list[_Keyed]] = {}
    """Payments not yet handed over, by bucket of their time."""
    waiting = later.get
    carry: list[_Keyed] = []
    low = -1
    shift = _BUCKET_SHIFT
    sort_key = itemgetter(0)
    # what the loop reads per event, as locals: this loop is most of generation's time, and a
    # local is measurably cheaper than a global or attribute here
    new = _new
    emitted = Emitted
    minute_ms = wire.MINUTE_MS
    customers = cat.memo.customers
    seat_tails = cat.memo.seat_tails
    minutes = wire.minutes
    tails = wire.minute_tails()
    shows = wire.shows
    amounts = wire.amounts
    row_seat_texts = wire.row_seat_texts
    payment_tails = wire.payment_tails
    attempt_texts = wire.ATTEMPT_TEXTS
    pid_ends = wire.PAYMENT_ID_ENDS
    for plans in batches:
        if not plans:
            continue
        items = carry
        add = items.append
        for plan in plans:
            (_, oid, booking_ms, city, customer, _, venue, show, show_ms, category, n, row,
             first_seat, price, fee, gst, channel, _, attempts, delivery, record,
             ) = plan  # fmt: skip
            # the booking: wire.booking_body, inlined
            minute, rest = divmod(booking_ms, minute_ms)
            show_minute = show_ms // minute_ms
            show_hex, show_time = shows.get(show_minute) or wire.show_minute_texts(show_minute)
            event_id, show_json = venue.show_texts[show]
            sep, tail = seat_tails.get((n, price, category, channel)) or wire.seat_tail(
                cat, n, price, fee, gst, category, channel
            )
            seats = row_seat_texts.get(row) or wire.row_seats(row)
            time_text = (minutes.get(minute) or wire.minute_text(minute)) + tails[rest]
            body = (
                f'{{"kind":"booking","schema_version":1,"event_id":"{oid}-b","order_id":"{oid}",'
                f'"booking_time":"{time_text}",'
                f"{customers[city].get(customer) or wire.customer_json(cat, city, customer)}"
                f'"event_details":{{"event_id":"{event_id}{show_hex}",{show_json}'
                f'"show_time":"{show_time}","seats":[{sep.join(seats[first_seat : first_seat + n])}'
                f"{tail}"
            ).encode()
            event = new(emitted, ("booking", oid, body, booking_ms, oid + "-b"))
            add((time_text, event))
            booking_duplicate, booking_malformed, first_duplicate, first_malformed = delivery
            if booking_duplicate < dup_cut or booking_malformed < bad_cut:
                for extra in _extras(scenario, event, record, 0):
                    add((time_text, extra))
            if not attempts:
                continue
            total = n * (price + fee + gst)
            amount = amounts.get(total) or wire.amount_text(total)
            # the payments: wire.payment_body, inlined
            for number, due, method, status, reason in attempts:
                pid = oid + pid_ends[number]
                minute, rest = divmod(due, minute_ms)
                minute_text = minutes.get(minute) or wire.minute_text(minute)
                second_text = tails[rest]
                pay_tail = payment_tails.get((method, status, reason)) or wire.payment_tail(
                    method, status, reason
                )
                body = (
                    f'{{"kind":"payment","schema_version":1,"event_id":"{pid}",'
                    f'"payment_id":"{pid}","order_id":"{oid}{attempt_texts[number]}'
                    f'{minute_text}{second_text}",'
                    f'"amount":{amount},{pay_tail}'
                ).encode()
                event = new(emitted, ("payment", oid, body, due, pid))
                bucket = waiting(due >> shift)
                if bucket is None:
                    bucket = later[due >> shift] = []
                key = f"{minute_text}{second_text}{pid}"
                bucket.append((key, event))
                if number == 1:
                    duplicate, malformed = first_duplicate, first_malformed
                else:
                    duplicate, malformed, _ = extra_draws(record, number)
                if duplicate < dup_cut or malformed < bad_cut:
                    extras = _extras(scenario, event, record, number)
                    for tag, extra in zip(_EXTRA_TAGS, extras, strict=False):
                        bucket.append((key + tag, extra))
        # everything before the last booking's millisecond can go: no later booking precedes it
        top = plans[-1][BOOKING_MS_FIELD] >> shift  # the last booking's bucket
        first = plans[0][BOOKING_MS_FIELD] >> shift
        for k in range(low if low >= 0 else first, top + 1):
            reached = later.pop(k, None)
            if reached is not None:
                items += reached
        low = top
        items.sort(key=sort_key)
        cut = bisect_left(items, time_text + "\x00", key=sort_key)
        yield [item[1] for item in items[:cut]]
        carry = items[cut:]
    for bucket in later.values():
        carry += bucket
    carry.sort(key=sort_key)
    yield [item[1] for item in carry]
