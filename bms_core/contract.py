"""Event contract v1: the bookings and payments every consumer may rely on.

Field names of the original public BookMyShow demo are kept (``order_id``, ``booking_time``,
``customer.customer_id/name/email``, ``event_details.event_id/event_name/event_location``,
``seats[].seat_number/price``; ``payment_id``, ``payment_time``, ``amount``,
``payment_method``, ``payment_status``) so its ASA query still runs; richer fields are added.

Money is INR with exactly two decimals, carried as :class:`decimal.Decimal` in Python and as a
JSON number on the wire (``450.00``). Event times are UTC ISO-8601 strings with millisecond
precision and a ``Z`` (``2026-11-29T18:30:05.123Z``); :mod:`bms_core.timefmt` converts.

The JSON Schema files in ``schemas/`` are generated from these classes
(``python -m bms_core schemas --write``) and a test fails when they drift.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Final, Literal

import msgspec
from msgspec import Meta, Struct

SCHEMA_VERSION: Final = 1
CURRENCY: Final = "INR"

EVENT_TYPES: Final = ("Movie", "Concert", "Play", "Sports", "Comedy")
SEAT_CATEGORIES: Final = ("Recliner", "Platinum", "Gold", "Silver")
PAYMENT_METHODS: Final = ("UPI", "Credit Card", "Debit Card", "Net Banking", "Wallet")
CHANNELS: Final = ("Android", "iOS", "Web", "Partner")
PAYMENT_STATUSES: Final = ("Success", "Failed")
FAILURE_REASONS: Final = (
    "Insufficient funds",
    "Bank server unavailable",
    "Payment declined",
    "UPI PIN incorrect",
    "Timed out",
    "OTP not entered",
)

EVENT_TIME_PATTERN: Final = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"

EventTime = Annotated[
    str,
    Meta(
        pattern=EVENT_TIME_PATTERN,
        description="UTC, ISO-8601, millisecond precision, 'Z' suffix",
        extra_json_schema={"format": "date-time"},
    ),
]
Money = Annotated[
    Decimal,
    Meta(
        description="INR, exact to the paisa, two decimals on the wire, never negative",
        extra_json_schema={"minimum": 0},
    ),
]
Id = Annotated[str, Meta(min_length=1, max_length=64)]
Text = Annotated[str, Meta(min_length=1, max_length=200)]
EventType = Literal["Movie", "Concert", "Play", "Sports", "Comedy"]
SeatCategory = Literal["Recliner", "Platinum", "Gold", "Silver"]
PaymentMethod = Literal["UPI", "Credit Card", "Debit Card", "Net Banking", "Wallet"]
Channel = Literal["Android", "iOS", "Web", "Partner"]
PaymentStatus = Literal["Success", "Failed"]


def _check_money(field: str, value: Decimal) -> None:
    """Raise naming ``field`` unless ``value`` is a non-negative amount with exactly 2 decimals."""
    if not value.is_finite() or value < 0 or value.as_tuple().exponent != -2:
        raise ValueError(
            f"{field} must be a non-negative INR amount with two decimals, got {value}"
        )


class Customer(Struct, forbid_unknown_fields=False):
    """Who booked. ``email`` is always on a reserved example domain."""

    customer_id: Id
    name: Text
    email: Text
    phone: Annotated[str, Meta(pattern=r"^\+91[6-9]\d{9}$")]
    city: Text


class Seat(Struct):
    """One seat of an order; ``price`` is the ticket price before fees."""

    seat_number: Annotated[str, Meta(pattern=r"^[A-Z]{1,2}\d{1,3}$")]
    category: SeatCategory
    price: Money

    def __post_init__(self) -> None:
        _check_money("price", self.price)


class EventDetails(Struct):
    """The show booked. ``event_location`` is the city, as in the original demo."""

    event_id: Id
    event_name: Text
    event_type: EventType
    event_location: Text
    venue_id: Id
    venue_name: Text
    show_time: EventTime
    seats: Annotated[list[Seat], Meta(min_length=1, max_length=10)]


class Booking(Struct, tag_field="kind", tag="booking"):
    """An order placed. ``total_amount`` = seat prices + per-ticket fee + 18% GST on that fee.

    ``event_id`` is this message's stable id (a redelivery carries the same one);
    ``event_details.event_id`` is the show's id.
    """

    schema_version: Literal[1]
    event_id: Id
    order_id: Id
    booking_time: EventTime
    customer: Customer
    event_details: EventDetails
    currency: Literal["INR"]
    ticket_subtotal: Money
    convenience_fee_per_ticket: Money
    convenience_fee: Money
    gst_on_fee: Money
    total_amount: Money
    channel: Channel

    def __post_init__(self) -> None:
        _check_money("ticket_subtotal", self.ticket_subtotal)
        _check_money("convenience_fee_per_ticket", self.convenience_fee_per_ticket)
        _check_money("convenience_fee", self.convenience_fee)
        _check_money("gst_on_fee", self.gst_on_fee)
        _check_money("total_amount", self.total_amount)


class Payment(Struct, tag_field="kind", tag="payment"):
    """One payment attempt for an order; ``amount`` equals the booking's ``total_amount``."""

    schema_version: Literal[1]
    event_id: Id
    payment_id: Id
    order_id: Id
    attempt: Annotated[int, Meta(ge=1, le=9)]
    payment_time: EventTime
    amount: Money
    currency: Literal["INR"]
    payment_method: PaymentMethod
    payment_status: PaymentStatus
    failure_reason: str | None = None

    def __post_init__(self) -> None:
        _check_money("amount", self.amount)


Event = Booking | Payment

_encoder = msgspec.json.Encoder(decimal_format="number")
_booking_decoder = msgspec.json.Decoder(Booking)
_payment_decoder = msgspec.json.Decoder(Payment)
_event_decoder = msgspec.json.Decoder(Event)


def encode(event: Event) -> bytes:
    """One event as compact JSON bytes, money as JSON numbers with two decimals."""
    return _encoder.encode(event)


def decode_booking(data: bytes | str) -> Booking:
    """Parse and validate a booking; raises :class:`msgspec.ValidationError` naming the field."""
    return _booking_decoder.decode(data)


def decode_payment(data: bytes | str) -> Payment:
    """Parse and validate a payment; raises :class:`msgspec.ValidationError` naming the field."""
    return _payment_decoder.decode(data)


def decode_event(data: bytes | str) -> Event:
    """Parse either kind of event, told apart by its ``kind`` field."""
    event: Event = _event_decoder.decode(data)
    return event


def _money_as_number(node: object) -> None:
    """msgspec describes Decimal as a string; on our wire money is a JSON number."""
    if isinstance(node, dict):
        if node.get("format") == "decimal":
            node.pop("format")
            node["type"] = "number"
        for child in node.values():
            _money_as_number(child)
    elif isinstance(node, list):
        for child in node:
            _money_as_number(child)


def json_schemas() -> dict[str, dict[str, object]]:
    """The published JSON Schemas, keyed by file name under ``schemas/``."""
    out: dict[str, dict[str, object]] = {}
    for name, cls in (("booking", Booking), ("payment", Payment)):
        schema = msgspec.json.schema(cls)
        _money_as_number(schema)
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = f"https://bms-stream.example/schemas/{name}.v{SCHEMA_VERSION}.json"
        schema["title"] = f"bms-stream {name} event v{SCHEMA_VERSION}"
        out[f"{name}.v{SCHEMA_VERSION}.schema.json"] = schema
    return out
