"""The query's first steps: decode, ``TRY_CAST`` and the ``WHERE`` that drops unusable events.

Mirrors ``CleanBookings`` / ``CleanPayments`` in ``asa/bms_join.asaql``: an event whose body is
not a JSON object is an input deserialization error in ASA (dropped, counted); an event whose
required field does not ``TRY_CAST`` fails the ``WHERE`` (dropped, counted by field). Each reject
cause names the field, e.g. ``booking.booking_time``.
"""

from __future__ import annotations

from typing import Any, Final, NamedTuple

import msgspec

from bms_core.projection import cast_bigint, cast_datetime_ms, cast_paise, cast_str

NOT_JSON: Final = "not_json_object"

_decode = msgspec.json.decode


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


def clean_booking(record: dict[str, Any]) -> Clean | str:
    """A usable booking, or the field that made the query drop it."""
    order_id = _order_id(record)
    if order_id is None:
        return "booking.order_id"
    event_ms = cast_datetime_ms(record.get("booking_time"))
    if event_ms is None:
        return "booking.booking_time"
    details = record.get("event_details")
    seats = details.get("seats") if isinstance(details, dict) else None
    if not isinstance(seats, list) or not seats:
        return "booking.event_details.seats"
    if cast_paise(record.get("total_amount")) is None:
        return "booking.total_amount"
    if cast_paise(record.get("ticket_subtotal")) is None:
        return "booking.ticket_subtotal"
    return Clean(record, order_id, record.get("event_id"), event_ms)


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
    if cast_paise(record.get("amount")) is None:
        return "payment.amount"
    return Clean(record, order_id, record.get("event_id"), event_ms)
