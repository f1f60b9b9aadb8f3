"""Events as sent: JSON bodies, exact duplicates and deliberately malformed extras.

Whether an event is delivered twice, or followed by a malformed variant, is decided by the
order's own ``DELIVERY`` draws, so it too is reproducible. Duplicates are exact byte copies
(same ``event_id``); malformed extras carry ``event_id=None`` and come in four kinds:
``bad_json`` (truncated), ``bad_timestamp`` (event time not in the contract's format),
``missing_field`` (no ``order_id``) and ``wrong_type`` (money as text). They appear only here,
never in the model functions of :mod:`bms_core.generator`.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Final, NamedTuple

from bms_core import entropy
from bms_core.contract import encode

if TYPE_CHECKING:
    from bms_core.generator import Order
    from bms_core.scenario import Scenario

MALFORMED_KINDS: Final = ("bad_json", "bad_timestamp", "missing_field", "wrong_type")
_TIME_FIELD: Final = re.compile(
    rb'"(booking_time|payment_time)":"(\d{4})-(\d{2})-(\d{2})T([^"]*)Z"'
)
_ORDER_ID_FIELD: Final = re.compile(rb'"order_id":"[^"]*",')
_AMOUNT_FIELD: Final = re.compile(rb'"(total_amount|amount)":([0-9.]+)')


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


def _deliver(
    out: list[Emitted],
    scenario: Scenario,
    d: tuple[int, ...],
    slot: int,
    kind: str,
    order_id: str,
    body: bytes,
    due_ms: int,
    event_id: str,
) -> None:
    original = Emitted(kind, order_id, body, due_ms, event_id)
    out.append(original)
    if entropy.below(d[slot], scenario.duplicate_rate):
        out.append(original)
    if scenario.malformed_rate and entropy.below(d[5 + slot], scenario.malformed_rate):
        bad = MALFORMED_KINDS[d[10 + slot] % len(MALFORMED_KINDS)]
        out.append(Emitted(kind, order_id, malformed_body(body, bad), due_ms, None))


def delivery_draws(order: Order) -> tuple[int, ...]:
    key = order.key
    return entropy.draws(key.seed, key.namespace, key.slot, key.index, entropy.DELIVERY)


def emit_order_events(
    scenario: Scenario,
    order: Order,
    *,
    booking: bool,
    attempts: Iterable[int],
    times: tuple[int, ...] | None = None,
) -> list[Emitted]:
    """The booking (if ``booking``) and the given attempts (1-based) of one order, as sent.

    ``times`` optionally gives the event times in ms (booking first, then every attempt), to
    skip parsing them back from the event.
    """
    from bms_core.timefmt import parse_ms

    out: list[Emitted] = []
    d = delivery_draws(order)
    order_id = order.booking.order_id
    if booking:
        b = order.booking
        due = times[0] if times else parse_ms(b.booking_time)
        _deliver(out, scenario, d, 0, "booking", order_id, encode(b), due, b.event_id)
    for attempt in attempts:
        p = order.payments[attempt - 1]
        due = times[attempt] if times else parse_ms(p.payment_time)
        _deliver(out, scenario, d, attempt, "payment", order_id, encode(p), due, p.event_id)
    return out


def stream_orders(
    scenario: Scenario, orders: Iterable[tuple[int, Order, tuple[int, ...]]]
) -> Iterator[Emitted]:
    """Emit orders given by booking time as one stream ordered by event time.

    ``orders`` yields ``(booking ms, order, attempt ms...)``. Payments wait in a heap until no
    earlier booking can come; bookings go before payments of the same millisecond.
    """
    pending: list[tuple[int, str, Order, int]] = []
    for booking_ms, order, attempt_ms in orders:
        while pending and pending[0][0] < booking_ms:
            due, _, waiting, attempt = heapq.heappop(pending)
            yield from _one_payment(scenario, waiting, attempt, due)
        times = (booking_ms, *attempt_ms)
        yield from emit_order_events(scenario, order, booking=True, attempts=(), times=times)
        for n, due in enumerate(attempt_ms, start=1):
            heapq.heappush(pending, (due, order.payments[n - 1].payment_id, order, n))
    while pending:
        due, _, waiting, attempt = heapq.heappop(pending)
        yield from _one_payment(scenario, waiting, attempt, due)


def _one_payment(scenario: Scenario, order: Order, attempt: int, due: int) -> list[Emitted]:
    times = (0,) * attempt + (due,)
    return emit_order_events(scenario, order, booking=False, attempts=(attempt,), times=times)
