"""The query's first steps, exactly: decode, ``TRY_CAST`` and the ``WHERE`` that drops unusable
events.

Mirrors ``CleanBookings`` / ``CleanPayments`` in ``asa/bms_join.asaql``: an event whose body is
not a JSON object is an input deserialization error in ASA (dropped, counted); an event whose
required field does not ``TRY_CAST`` fails the ``WHERE`` (dropped, counted by field). Each reject
cause names the field, e.g. ``booking.booking_time``. :mod:`.intake` takes a faster route for
bodies in the producers' own shape and comes here for everything else.
"""

from __future__ import annotations

from typing import Any, Final, NamedTuple

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


class Clean(NamedTuple):
    """A usable event: its order id, event id, event time (epoch ms) and what the job holds of
    it (the body the fast path accepted, or the JSON object decoded here)."""

    order_id: str
    event_id: object
    event_ms: int
    held: bytes | dict[str, Any]


def decode(body: bytes | str | dict[str, Any]) -> dict[str, Any] | None:
    """The event as ASA deserializes it (a JSON object), or ``None``."""
    if isinstance(body, dict):
        return body
    try:
        value = msgspec.json.decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def _order_id(record: dict[str, Any]) -> str | None:
    """``LEN(TRY_CAST(order_id AS nvarchar(max))) > 0``."""
    return cast_str(record.get("order_id")) or None


def _money_ok(value: object) -> bool:
    """``TRY_CAST(value AS float) IS NOT NULL``."""
    return type(value) is float or cast_paise(value) is not None


def clean_booking(record: dict[str, Any]) -> Clean | str:
    """A usable booking, or the field that made the query drop it."""
    order_id = _order_id(record)
    if order_id is None:
        return "booking.order_id"
    event_ms = cast_datetime_ms(record.get("booking_time"))
    if event_ms is None:
        return "booking.booking_time"
    details = record.get("event_details")
    seats = details.get("seats") if type(details) is dict else None
    if type(seats) is not list or not seats:  # GetArrayLength(TRY_CAST(... AS array)) > 0
        return "booking.event_details.seats"
    if not _money_ok(record.get("total_amount")):
        return "booking.total_amount"
    if not _money_ok(record.get("ticket_subtotal")):
        return "booking.ticket_subtotal"
    return Clean(order_id, record.get("event_id"), event_ms, record)


def clean_payment(record: dict[str, Any]) -> Clean | str:
    """A usable payment attempt, or the field that made the query drop it."""
    order_id = _order_id(record)
    if order_id is None:
        return "payment.order_id"
    event_ms = cast_datetime_ms(record.get("payment_time"))
    if event_ms is None:
        return "payment.payment_time"
    if cast_bigint(record.get("attempt")) is None:
        return "payment.attempt"
    if not _money_ok(record.get("amount")):
        return "payment.amount"
    return Clean(order_id, record.get("event_id"), event_ms, record)


def clean(body: bytes | str | dict[str, Any], is_booking: bool) -> Clean | str:
    """The exact path for one body: a usable event, or the reject cause."""
    record = decode(body)
    if record is None:
        return ("booking." if is_booking else "payment.") + NOT_JSON
    return clean_booking(record) if is_booking else clean_payment(record)
