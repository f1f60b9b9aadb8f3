"""The joined-row contract: what the stream job emits, column by column.

This module is the one source of truth that ``asa/*.asaql`` (its SELECT lists and mappings),
``sql/synapse_create_table.sql`` (table columns, order and types), the reference stream job in
``bms_local`` and the validator all agree with; tests fail when any of them drifts.

Two grains come out of one join of a booking with one payment attempt:

* **seat rows** (``SEAT_COLUMNS``): one per seat, the Synapse table ``bms.fact_seat_payment``
  and the ``joined`` hub. ``seat_amount`` is the seat's share of the order amount
  (its price + the per-ticket fee + GST on it); shares of one order sum exactly to the amount
  paid, so summing ``seat_amount`` never double counts.
* **order rows** (``ORDER_COLUMNS``): one per joined (booking, payment) pair, the table
  ``bms.fact_order_payment``; it carries order-level money once.
"""

from __future__ import annotations

from typing import Final, NamedTuple


class Column(NamedTuple):
    name: str
    sql_type: str
    """Synapse type: ``NVARCHAR(n)`` (never MAX), ``INT``, ``DECIMAL(12,2)``, ``DATETIME2(3)``."""
    nullable: bool = False


_ID = "NVARCHAR(64)"
_MONEY = "DECIMAL(12,2)"
_TIME = "DATETIME2(3)"

_HEAD: Final = (
    Column("order_id", _ID),
    Column("booking_event_id", _ID),
    Column("payment_event_id", _ID),
    Column("payment_id", _ID),
    Column("attempt", "INT"),
    Column("customer_id", _ID),
)
_SHOW: Final = (
    Column("event_id", _ID),
    Column("event_name", "NVARCHAR(200)"),
    Column("event_type", "NVARCHAR(20)"),
    Column("event_category", "NVARCHAR(20)"),
    Column("event_location", "NVARCHAR(100)"),
    Column("venue_name", "NVARCHAR(200)"),
    Column("show_time", _TIME),
    Column("channel", "NVARCHAR(20)"),
)
_PAYMENT: Final = (
    Column("currency", "NVARCHAR(3)"),
    Column("payment_method", "NVARCHAR(20)"),
    Column("payment_type", "NVARCHAR(20)"),
    Column("payment_status", "NVARCHAR(10)"),
    Column("failure_reason", "NVARCHAR(100)", nullable=True),
    Column("booking_time", _TIME),
    Column("payment_time", _TIME),
    Column("payment_delay_ms", "INT"),
    Column("booking_hour_utc", "INT"),
    Column("booking_weekday_utc", "INT"),
    Column("booking_hour_ist", "INT"),
    Column("booking_weekday_ist", "INT"),
    Column("joined_at", _TIME),
)

SEAT_COLUMNS: Final[tuple[Column, ...]] = (
    *_HEAD,
    Column("customer_name", "NVARCHAR(200)"),
    Column("customer_email", "NVARCHAR(200)"),
    Column("customer_city", "NVARCHAR(100)"),
    *_SHOW,
    Column("seat_index", "INT"),
    Column("seat_count", "INT"),
    Column("seat_number", "NVARCHAR(8)"),
    Column("seat_category", "NVARCHAR(20)"),
    Column("seat_price", _MONEY),
    Column("seat_amount", _MONEY),
    *_PAYMENT,
)
"""Seat grain: the ``joined`` hub's rows and ``bms.fact_seat_payment``, in this order."""

ORDER_COLUMNS: Final[tuple[Column, ...]] = (
    *_HEAD,
    Column("customer_city", "NVARCHAR(100)"),
    *_SHOW,
    Column("seat_count", "INT"),
    Column("ticket_subtotal", _MONEY),
    Column("convenience_fee", _MONEY),
    Column("gst_on_fee", _MONEY),
    Column("order_total", _MONEY),
    Column("payment_amount", _MONEY),
    *_PAYMENT,
)
"""Order grain: ``bms.fact_order_payment``, in this order. Money appears once per pair."""

SEAT_TABLE: Final = "bms.fact_seat_payment"
ORDER_TABLE: Final = "bms.fact_order_payment"
"""Where ASA writes (at least once: these hold duplicates and carry no key)."""
SEAT_CLEAN_TABLE: Final = "bms.fact_seat_payment_clean"
ORDER_CLEAN_TABLE: Final = "bms.fact_order_payment_clean"
"""Curated copies, one row per key, loaded by ``sql/synapse_load_clean.sql``."""
SEAT_KEY: Final = ("payment_event_id", "seat_index")
ORDER_KEY: Final = ("payment_event_id",)
"""The logical keys: ``PRIMARY KEY NONCLUSTERED ... NOT ENFORCED`` of the curated tables."""

EVENT_CATEGORIES: Final[dict[str, str]] = {
    "Movie": "Cinema",
    "Concert": "Music",
    "Play": "Theatre",
    "Sports": "Sports",
    "Comedy": "Comedy",
}
"""event_type -> event_category; anything else maps to ``OTHER_CATEGORY``."""
OTHER_CATEGORY: Final = "Other"

PAYMENT_TYPES: Final[dict[str, str]] = {
    "UPI": "UPI",
    "Credit Card": "Card",
    "Debit Card": "Card",
    "Net Banking": "NetBanking",
    "Wallet": "Wallet",
}
"""payment_method -> payment_type; anything else maps to ``OTHER_PAYMENT_TYPE``."""
OTHER_PAYMENT_TYPE: Final = "Other"

WEEKDAY_NOTE: Final = "1 = Sunday ... 7 = Saturday, as ASA's DATEPART(weekday, t)"
"""How ``booking_weekday_*`` columns count (verify against ASA docs before changing)."""

IST_OFFSET_MINUTES: Final = 330
"""India Standard Time is UTC+05:30 all year (no daylight saving)."""


def seat_column_names() -> tuple[str, ...]:
    return tuple(c.name for c in SEAT_COLUMNS)


def order_column_names() -> tuple[str, ...]:
    return tuple(c.name for c in ORDER_COLUMNS)
