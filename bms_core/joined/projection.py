"""Joined rows exactly as the Stream Analytics query emits them, from JSON-decoded events.

The reference stream job emits these rows and the validator recomputes them from regenerated
events, so both must agree with ``asa/bms_join.asaql`` column by column. Inputs are the events
as ASA sees them (``json.loads`` dicts: money as JSON numbers, times as strings); outputs are
JSON-ready values in the order of :data:`bms_core.joined.columns.SEAT_COLUMNS` /
:data:`bms_core.joined.columns.ORDER_COLUMNS`:

* times in ASA's JSON output format, ISO-8601 UTC with seven fractional digits
  (``2026-11-29T18:30:05.1230000Z``), see :func:`format_asa_time`;
* money as numbers (``float`` holding the nearest double to the two-decimal amount, which is
  what ASA's ``float`` arithmetic followed by ``ROUND(x, 2)`` serializes);
* integers as ``int``; strings as ``str``; a value ``TRY_CAST`` could not convert as ``None``.

The ``cast_*`` functions reproduce ``TRY_CAST`` (NULL instead of an error) so the reference job
rejects exactly the events whose required fields the query filters out.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Final

from bms_core.joined.columns import (
    EVENT_CATEGORIES,
    IST_OFFSET_MINUTES,
    OTHER_CATEGORY,
    OTHER_PAYMENT_TYPE,
    PAYMENT_TYPES,
)
from bms_core.names import JOIN_WINDOW_SECONDS
from bms_core.timefmt import MS_PER_HOUR, format_ms

JOIN_WINDOW_MS: Final = JOIN_WINDOW_SECONDS * 1000
_IST_OFFSET_MS: Final = IST_OFFSET_MINUTES * 60_000
_MS_PER_DAY: Final = 24 * MS_PER_HOUR
_EPOCH_WEEKDAY: Final = 5
"""1970-01-01 was a Thursday: weekday 5 when 1 = Sunday ... 7 = Saturday."""


def in_window(booking_ms: int, payment_ms: int) -> bool:
    """The join condition: ``0 <= payment - booking <= JOIN_WINDOW_SECONDS``
    (elapsed, inclusive)."""
    return 0 <= payment_ms - booking_ms <= JOIN_WINDOW_MS


# --- TRY_CAST ---------------------------------------------------------------------------------


def format_asa_time(epoch_ms: int) -> str:
    """ASA's JSON rendering of a datetime: ``...T18:30:05.1230000Z`` (seven fraction digits)."""
    return format_ms(epoch_ms)[:-1] + "0000Z"


def sql_time(value: str) -> str | None:
    """A wire or ASA-format time (``...T18:30:05.123Z`` / ``...T18:30:05.1230000Z``) as SQL's
    ``YYYY-MM-DD HH:MM:SS.mmm``, by slicing; ``None`` for any other shape or a year before 1000.
    """
    if len(value) == 28 and value.endswith("0000Z"):
        wire = value[:23] + "Z"
    elif len(value) == 24:
        wire = value
    else:
        return None
    if value[0] == "0" or wire_time_ms(wire) is None:
        return None
    return value[:10] + " " + value[11:23]


def parse_asa_time(text: str) -> int:
    """Epoch ms of an ASA output time (or any ISO-8601 time); ``ValueError`` if not a time."""
    value = cast_datetime_ms(text)
    if value is None:
        raise ValueError(f"not an ISO-8601 time: {text!r}")
    return value


def cast_datetime_ms(value: object) -> int | None:
    """``TRY_CAST(value AS datetime)`` as epoch ms: ISO-8601 strings, naive taken as UTC.

    Sub-millisecond digits are truncated (our events carry milliseconds; ASA keeps 100 ns ticks).
    """
    if not isinstance(value, str):
        return None
    fast = wire_time_ms(value)
    if fast is not None:
        return fast
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    if "." in text:
        head, _, frac_tail = text.partition(".")
        digits = len(frac_tail) - len(frac_tail.lstrip("0123456789"))
        if digits > 6:  # Python takes at most microseconds
            text = head + "." + frac_tail[:6] + frac_tail[digits:]
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    try:
        delta = dt - datetime(1970, 1, 1, tzinfo=timezone.utc)
    except OverflowError:
        return None
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


WIRE_SECONDS: dict[str, int] = {}
"""Memo of wire-time prefixes ``YYYY-MM-DDTHH:MM:SS.`` -> epoch ms (or :data:`_NOT_A_SECOND`),
filled by :func:`wire_time_ms`; the reference job reads it inline on its hot path."""
_SECOND_CACHE: Final = 4_096
"""Distinct seconds remembered (event times move forward, so recent ones are what repeat)."""
_NOT_A_SECOND: Final = -1
"""Cached for a prefix that is not a time (a real start of a second is a multiple of 1000)."""
WIRE_MILLIS: Final = {f"{milli:03d}": milli for milli in range(1000)}
"""``"000"`` ... ``"999"`` -> int: parses and validates the milliseconds in one lookup."""


def _second_start_ms(prefix: str) -> int:
    """Epoch ms of ``YYYY-MM-DDTHH:MM:SS.`` (UTC), memoized: the wire format's hot path."""
    value = _NOT_A_SECOND
    if prefix[4] == "-" and prefix[7] == "-" and prefix[10] == "T" and prefix[13] == ":":
        try:
            dt = datetime.fromisoformat(prefix[:19])
        except ValueError:
            pass
        else:
            if dt.tzinfo is None and prefix[16] == ":" and prefix[19] == ".":
                value = int(dt.replace(tzinfo=timezone.utc).timestamp()) * 1000
    if len(WIRE_SECONDS) >= _SECOND_CACHE:
        WIRE_SECONDS.clear()
    WIRE_SECONDS[prefix] = value
    return value


def wire_time_ms(text: str) -> int | None:
    """Fast parse of our own ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (24 characters); ``None`` for
    anything else, including strings ``TRY_CAST`` would still convert."""
    if len(text) != 24 or text[23] != "Z":
        return None
    prefix = text[:20]
    base = WIRE_SECONDS.get(prefix)
    if base is None:
        base = _second_start_ms(prefix)
    milli = WIRE_MILLIS.get(text[20:23])
    if milli is None or base == _NOT_A_SECOND:
        return None
    return base + milli


def cast_bigint(value: object) -> int | None:
    """``TRY_CAST(value AS bigint)``: integers and integral numbers/strings, else ``None``."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def cast_paise(value: object) -> int | None:
    """``TRY_CAST(value AS float)`` of an INR amount, held as exact paise
    (``None`` if not a number)."""
    if isinstance(value, float):  # the wire's JSON numbers: nearest paisa, no Decimal detour
        return round(value * 100) if value == value and abs(value) < 1e13 else None
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, Decimal, str)):
        try:
            amount = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
        except InvalidOperation:
            return None
        if not amount.is_finite():
            return None
        return int((amount * 100).to_integral_value(rounding=ROUND_HALF_UP))
    return None


def cast_str(value: object) -> str | None:
    """``TRY_CAST(value AS nvarchar(max))`` for the scalars our events carry."""
    if type(value) is str:
        return value
    if value is None or isinstance(value, (dict, list)):
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def money(paise: int | None) -> float | None:
    """Paise as the JSON number ASA writes (nearest double to the two-decimal amount)."""
    return None if paise is None else paise / 100


def _share_paise(price: int, extra: int, count: int) -> int:
    """``ROUND(price + extra / count, 2)`` in paise; exact whenever ``count`` divides ``extra``."""
    if extra % count == 0:
        return price + extra // count
    exact = (Decimal(price * count + extra) / Decimal(count)).quantize(
        Decimal(1), rounding=ROUND_HALF_UP
    )
    return int(exact)


# --- calendar columns -------------------------------------------------------------------------


def hour_of(epoch_ms: int) -> int:
    """``DATEPART(hour, t)``."""
    return (epoch_ms % _MS_PER_DAY) // MS_PER_HOUR


def weekday_of(epoch_ms: int) -> int:
    """``DATEPART(weekday, t)``: 1 = Sunday ... 7 = Saturday."""
    return (epoch_ms // _MS_PER_DAY + _EPOCH_WEEKDAY - 1) % 7 + 1


def event_category(event_type: object) -> str:
    """The query's CASE over ``event_type``; unknown or missing -> ``Other``."""
    return (
        EVENT_CATEGORIES.get(event_type, OTHER_CATEGORY)
        if isinstance(event_type, str)
        else OTHER_CATEGORY
    )


def payment_type(payment_method: object) -> str:
    """The query's CASE over ``payment_method``; unknown or missing -> ``Other``."""
    if isinstance(payment_method, str):
        return PAYMENT_TYPES.get(payment_method, OTHER_PAYMENT_TYPE)
    return OTHER_PAYMENT_TYPE


# --- rows -------------------------------------------------------------------------------------


def _get(record: object, key: str) -> Any:
    return record.get(key) if type(record) is dict or isinstance(record, dict) else None


def _time(value: object) -> str | None:
    ms = cast_datetime_ms(value)
    return None if ms is None else format_asa_time(ms)


def _seats(booking: dict[str, Any]) -> list[Any]:
    seats = _get(booking.get("event_details"), "seats")
    return seats if isinstance(seats, list) else []


def _head(booking: dict[str, Any], payment: dict[str, Any]) -> dict[str, Any]:
    return {
        "order_id": cast_str(booking.get("order_id")),
        "booking_event_id": cast_str(booking.get("event_id")),
        "payment_event_id": cast_str(payment.get("event_id")),
        "payment_id": cast_str(payment.get("payment_id")),
        "attempt": cast_bigint(payment.get("attempt")),
        "customer_id": cast_str(_get(booking.get("customer"), "customer_id")),
    }


def _show(booking: dict[str, Any]) -> dict[str, Any]:
    details = booking.get("event_details")
    return {
        "event_id": cast_str(_get(details, "event_id")),
        "event_name": cast_str(_get(details, "event_name")),
        "event_type": cast_str(_get(details, "event_type")),
        "event_category": event_category(_get(details, "event_type")),
        "event_location": cast_str(_get(details, "event_location")),
        "venue_name": cast_str(_get(details, "venue_name")),
        "show_time": _time(_get(details, "show_time")),
        "channel": cast_str(booking.get("channel")),
    }


def _payment(booking: dict[str, Any], payment: dict[str, Any], joined_at_ms: int) -> dict[str, Any]:
    booking_ms = cast_datetime_ms(booking.get("booking_time"))
    payment_ms = cast_datetime_ms(payment.get("payment_time"))
    delay = None
    if booking_ms is not None and payment_ms is not None:
        delay = payment_ms - booking_ms
    ist_ms = None if booking_ms is None else booking_ms + _IST_OFFSET_MS
    return {
        "currency": cast_str(payment.get("currency")),
        "payment_method": cast_str(payment.get("payment_method")),
        "payment_type": payment_type(payment.get("payment_method")),
        "payment_status": cast_str(payment.get("payment_status")),
        "failure_reason": cast_str(payment.get("failure_reason")),
        "booking_time": None if booking_ms is None else format_asa_time(booking_ms),
        "payment_time": None if payment_ms is None else format_asa_time(payment_ms),
        "payment_delay_ms": delay,
        "booking_hour_utc": None if booking_ms is None else hour_of(booking_ms),
        "booking_weekday_utc": None if booking_ms is None else weekday_of(booking_ms),
        "booking_hour_ist": None if ist_ms is None else hour_of(ist_ms),
        "booking_weekday_ist": None if ist_ms is None else weekday_of(ist_ms),
        "joined_at": format_asa_time(joined_at_ms),
    }


def seat_rows(
    booking: dict[str, Any], payment: dict[str, Any], joined_at_ms: int
) -> list[dict[str, Any]]:
    """One row per seat (``SEAT_COLUMNS`` keys, in order) for a joined (booking, payment) pair.

    ``seat_amount`` = seat price + (total_amount - ticket_subtotal) / seat_count, rounded to the
    paisa; with our fee rule the division is exact, so one order's shares sum to its amount.
    ``joined_at_ms`` is the join output's ``System.Timestamp()``: the later of the two event
    times as the job saw them (after any out-of-order adjustment).
    """
    head = _head(booking, payment)
    return _seat_rows(booking, head, _show(booking), _payment(booking, payment, joined_at_ms))


def order_row(
    booking: dict[str, Any], payment: dict[str, Any], joined_at_ms: int
) -> dict[str, Any]:
    """The order-grain row (``ORDER_COLUMNS`` keys, in order): order money appears once."""
    head = _head(booking, payment)
    return _order_row(
        booking, payment, head, _show(booking), _payment(booking, payment, joined_at_ms)
    )


def pair_rows(
    booking: dict[str, Any], payment: dict[str, Any], joined_at_ms: int
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """``(seat_rows(...), order_row(...))`` with the columns they share computed once."""
    head = _head(booking, payment)
    show = _show(booking)
    tail = _payment(booking, payment, joined_at_ms)
    return (
        _seat_rows(booking, head, show, tail),
        _order_row(booking, payment, head, show, tail),
    )


def _seat_rows(
    booking: dict[str, Any], head: dict[str, Any], show: dict[str, Any], tail: dict[str, Any]
) -> list[dict[str, Any]]:
    customer = booking.get("customer")
    common = {
        **head,
        "customer_name": cast_str(_get(customer, "name")),
        "customer_email": cast_str(_get(customer, "email")),
        "customer_city": cast_str(_get(customer, "city")),
        **show,
    }
    seats = _seats(booking)
    count = len(seats)
    total = cast_paise(booking.get("total_amount"))
    subtotal = cast_paise(booking.get("ticket_subtotal"))
    rows: list[dict[str, Any]] = []
    for index, seat in enumerate(seats):
        price = cast_paise(_get(seat, "price"))
        share = None
        if price is not None and total is not None and subtotal is not None:
            share = _share_paise(price, total - subtotal, count)
        rows.append(
            {
                **common,
                "seat_index": index,
                "seat_count": count,
                "seat_number": cast_str(_get(seat, "seat_number")),
                "seat_category": cast_str(_get(seat, "category")),
                "seat_price": money(price),
                "seat_amount": money(share),
                **tail,
            }
        )
    return rows


def _order_row(
    booking: dict[str, Any],
    payment: dict[str, Any],
    head: dict[str, Any],
    show: dict[str, Any],
    tail: dict[str, Any],
) -> dict[str, Any]:
    return {
        **head,
        "customer_city": cast_str(_get(booking.get("customer"), "city")),
        **show,
        "seat_count": len(_seats(booking)),
        "ticket_subtotal": money(cast_paise(booking.get("ticket_subtotal"))),
        "convenience_fee": money(cast_paise(booking.get("convenience_fee"))),
        "gst_on_fee": money(cast_paise(booking.get("gst_on_fee"))),
        "order_total": money(cast_paise(booking.get("total_amount"))),
        "payment_amount": money(cast_paise(payment.get("amount"))),
        **tail,
    }
