"""JSON bodies written straight from an :class:`~bms_core.orderplan.OrderPlan`.

The bytes are identical to ``contract.encode(booking_of(...))`` / ``encode(payment)`` (same key
order, compact separators, money as numbers with two decimals, msgspec's string escaping via
precomputed fragments); a test compares them on many orders. Skipping Struct validation and
``Decimal`` on the sending path is what makes generation fast; the Structs remain the contract.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

from bms_core.catalog import Catalog
from bms_core.orderplan import OrderPlan, customer_fields
from bms_core.payments import Attempt
from bms_core.timefmt import format_ms


def money(paise: int) -> str:
    """``45010`` -> ``450.10`` as msgspec writes ``Decimal('450.10')``."""
    return f"{paise // 100}.{paise % 100:02d}"


@lru_cache(maxsize=8192)
def _second_text(second: int) -> str:
    return format_ms(second * 1000)[:-4]


def time_text(epoch_ms: int) -> str:
    """Same text as :func:`bms_core.timefmt.format_ms`, cached per second."""
    second, milli = divmod(epoch_ms, 1000)
    return f"{_second_text(second)}{milli:03d}Z"


@lru_cache(maxsize=16384)
def _show_text(show_ms: int) -> str:
    return format_ms(show_ms)


_CACHE_LIMIT: Final = 200_000
_customers: dict[tuple[int, int], str] = {}
_seats: dict[tuple[str, int, int, str, int], str] = {}


def _customer_json(cat: Catalog, city: int, number: int) -> str:
    """``"customer":{...},`` (pool texts and slugs need no escaping; the city is escaped)."""
    key = (cat.city_keys[city], number)
    text = _customers.get(key)
    if text is None:
        customer_id, name, email, phone = customer_fields(key[0], cat.city_slugs[city], number)
        text = (
            f'"customer":{{"customer_id":"{customer_id}","name":"{name}","email":"{email}",'
            f'"phone":"{phone}","city":{cat.city_json[city]}}},'
        )
        if len(_customers) >= _CACHE_LIMIT:
            _customers.clear()
        _customers[key] = text
    return text


def _seats_json(row: str, first: int, count: int, category: str, price: int) -> str:
    key = (row, first, count, category, price)
    text = _seats.get(key)
    if text is None:
        tail = f'","category":"{category}","price":{money(price)}}}'
        text = ",".join(f'{{"seat_number":"{row}{first + j}{tail}' for j in range(count))
        if len(_seats) >= _CACHE_LIMIT:
            _seats.clear()
        _seats[key] = text
    return text


@lru_cache(maxsize=16384)
def _money_tail(n: int, price: int, fee: int, gst: int) -> str:
    total = n * (price + fee + gst)
    return (
        f'"currency":"INR","ticket_subtotal":{money(n * price)},'
        f'"convenience_fee_per_ticket":{money(fee)},"convenience_fee":{money(n * fee)},'
        f'"gst_on_fee":{money(n * gst)},"total_amount":{money(total)},"channel":"'
    )


@lru_cache(maxsize=16384)
def _amount(paise: int) -> str:
    return money(paise)


def booking_body(cat: Catalog, plan: OrderPlan) -> bytes:
    """The booking's JSON bytes."""
    (_, oid, booking_ms, city, customer, event_type, venue, show, show_ms, category, n, row,
     first_seat, price, fee, gst, channel, _, _, _) = plan  # fmt: skip
    customer_json = _customer_json(cat, city, customer)
    seats = _seats_json(row, first_seat, n, cat.categories[category], price)
    return (
        f'{{"kind":"booking","schema_version":1,"event_id":"{oid}-b","order_id":"{oid}",'
        f'"booking_time":"{time_text(booking_ms)}",{customer_json}'
        f'"event_details":{{"event_id":"{venue.show_prefix}{show:02d}-{show_ms // 60_000:x}",'
        f"{cat.show_json[city][event_type][show]}{venue.json_tail}"
        f'"show_time":"{_show_text(show_ms)}","seats":[{seats}]}},'
        f'{_money_tail(n, price, fee, gst)}{cat.channels[channel]}"}}'
    ).encode()


def payment_body(plan: OrderPlan, attempt: Attempt) -> bytes:
    """One payment attempt's JSON bytes."""
    oid = plan.order_id
    number, time_ms, method, status, reason = attempt
    pid = f"{oid}-p{number}"
    reason_json = "null" if reason is None else f'"{reason}"'
    return (
        f'{{"kind":"payment","schema_version":1,"event_id":"{pid}","payment_id":"{pid}",'
        f'"order_id":"{oid}","attempt":{number},'
        f'"payment_time":"{time_text(time_ms)}","amount":{_amount(plan.total)},'
        f'"currency":"INR","payment_method":"{method}",'
        f'"payment_status":"{status}","failure_reason":{reason_json}}}'
    ).encode()
