"""The query's first steps: decode, ``TRY_CAST`` and the ``WHERE`` that drops unusable events.

Mirrors ``CleanBookings`` / ``CleanPayments`` in ``asa/bms_join.asaql``: an event whose body is
not a JSON object is an input deserialization error in ASA (dropped, counted); an event whose
required field does not ``TRY_CAST`` fails the ``WHERE`` (dropped, counted by field). Each reject
cause names the field, e.g. ``booking.booking_time``.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, NamedTuple, cast

import msgspec

from bms_core.projection import cast_bigint, cast_datetime_ms, cast_paise, cast_str

NOT_JSON: Final = "not_json_object"
REQUIRED_BOOKING_FIELDS: Final = (
    "order_id",
    "booking_time",
    "event_details.seats",
    "total_amount",
    "ticket_subtotal",
)
"""Fields the ``CleanBookings`` step's WHERE requires, in the order they are checked."""
REQUIRED_PAYMENT_FIELDS: Final = ("order_id", "payment_time", "attempt", "amount")
"""Fields the ``CleanPayments`` step's WHERE requires, in the order they are checked."""

_decode = msgspec.json.decode


_WireTime = Annotated[str, msgspec.Meta(min_length=24, max_length=24)]
"""``YYYY-MM-DDTHH:MM:SS.mmmZ`` is 24 characters; the content is checked after decoding."""


class _FirstSeat(msgspec.Struct, gc=False, array_like=True):
    """Any non-empty array, as the ``WHERE`` requires: a JSON array read as a one-field
    ``array_like`` Struct must have a first element, and msgspec skips the elements after it
    (checking they are JSON, making no object of them; its schema evolution rules). Cheaper than
    a list, which makes an object of every seat."""

    first: msgspec.Raw


class _Details(msgspec.Struct, gc=False):
    seats: _FirstSeat


class _WellFormedBooking(msgspec.Struct, gc=False, kw_only=True):
    """The fields the join needs from a booking, each of the type our producers send (declared
    in the order producers write them, which makes finding each key a little cheaper)."""

    event_id: Any = None
    order_id: str
    time: _WireTime = msgspec.field(name="booking_time")
    event_details: _Details
    ticket_subtotal: float
    total_amount: float


class _WellFormedPayment(msgspec.Struct, gc=False, kw_only=True):
    """The fields the join needs from a payment attempt, each of the type our producers send."""

    event_id: Any = None
    order_id: str
    attempt: int
    time: _WireTime = msgspec.field(name="payment_time")
    amount: float


WELL_FORMED: Final = (
    msgspec.json.Decoder(_WellFormedPayment).decode,
    msgspec.json.Decoder(_WellFormedBooking).decode,
)
"""The fast path's decoders, indexed by ``is_booking``.

A body takes the fast path only if it is ASCII ``bytes`` (so it cannot hold invalid UTF-8,
which a skipping decoder would not notice), decodes with these (for bookings a non-empty
array of seats, a 24-character time), its ``order_id`` is not empty (checked after decoding:
a length constraint costs the decoder more than a check of all the ids at once) and its time
is in the wire format (:func:`bms_core.projection.wire_time_ms`). Everything the exact path
checks then holds with the same order id, event id and time, so the exact path
(:func:`decode`, :func:`clean_booking` / :func:`clean_payment`) is needed only for the rest.
"""
WELL_FORMED_LISTS: Final = (
    msgspec.json.Decoder(list[_WellFormedPayment]).decode,
    msgspec.json.Decoder(list[_WellFormedBooking]).decode,
)
"""The same decoders over a JSON array of bodies: one call decodes a whole batch."""


class Clean(NamedTuple):
    """A usable event: its decoded body, order id, event id and event time (epoch ms)."""

    record: dict[str, Any]
    order_id: str
    event_id: object
    event_ms: int


def decode(body: bytes | str | dict[str, Any]) -> dict[str, Any] | None:
    """The event as ASA deserializes it (a JSON object), or ``None``."""
    if isinstance(body, dict):
        return body
    try:
        value = _decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def _order_id(record: dict[str, Any]) -> str | None:
    """``LEN(TRY_CAST(order_id AS nvarchar(max))) > 0``."""
    value = cast_str(record.get("order_id"))
    return value or None


def _money_ok(value: object) -> bool:
    return type(value) is float or cast_paise(value) is not None


def clean_booking(record: dict[str, Any]) -> Clean | str:
    """A usable booking, or the field that made the query drop it."""
    order_id = record.get("order_id")
    if type(order_id) is not str or not order_id:
        order_id = _order_id(record)
        if order_id is None:
            return "booking.order_id"
    event_ms = cast_datetime_ms(record.get("booking_time"))
    if event_ms is None:
        return "booking.booking_time"
    details = record.get("event_details")
    seats = details.get("seats") if type(details) is dict else None
    if type(seats) is not list or not seats:
        return "booking.event_details.seats"
    if not _money_ok(record.get("total_amount")):
        return "booking.total_amount"
    if not _money_ok(record.get("ticket_subtotal")):
        return "booking.ticket_subtotal"
    return Clean(record, order_id, record.get("event_id"), event_ms)


def clean_payment(record: dict[str, Any]) -> Clean | str:
    """A usable payment attempt, or the field that made the query drop it."""
    order_id = record.get("order_id")
    if type(order_id) is not str or not order_id:
        order_id = _order_id(record)
        if order_id is None:
            return "payment.order_id"
    event_ms = cast_datetime_ms(record.get("payment_time"))
    if event_ms is None:
        return "payment.payment_time"
    attempt = record.get("attempt")
    if type(attempt) is not int and cast_bigint(attempt) is None:
        return "payment.attempt"
    if not _money_ok(record.get("amount")):
        return "payment.amount"
    return Clean(record, order_id, record.get("event_id"), event_ms)


def held_order_id(body: bytes | dict[str, Any], is_booking: bool) -> str:
    """The order id the job took from an event it holds: a body the fast path accepted (``bytes``)
    or the JSON object the exact path decoded and kept."""
    if type(body) is bytes:
        return WELL_FORMED[is_booking](body).order_id  # type: ignore[no-any-return]
    clean = (clean_booking if is_booking else clean_payment)(cast(dict[str, Any], body))
    if isinstance(clean, str):  # the job holds only events that passed the clean step
        raise RuntimeError(f"a held event fails the clean step at {clean}")
    return clean.order_id
