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
from bms_core.orderplan import OrderPlan, people
from bms_core.payments import Attempt
from bms_core.pools import EMAIL_DOMAINS
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
_seats: dict[tuple[str, int, str, int], str] = {}
_DOMAINS: Final = EMAIL_DOMAINS
_M64: Final = (1 << 64) - 1


def _customer_json(cat: Catalog, city: int, number: int) -> str:
    """``"customer":{...},`` -- :func:`~bms_core.orderplan.customer_fields`, inlined.

    Pool texts and slugs need no escaping; the city is escaped once in the catalog.
    """
    city_key = cat.city_keys[city]
    text = _customers.get((city_key, number))
    if text is None:
        firsts, lasts, first_emails, last_emails, phones = people()
        x = (city_key ^ number) & _M64
        x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
        x ^= x >> 31
        f = x % len(firsts)
        la = (x >> 12) % len(lasts)
        suffix = str((x >> 24) % 1000) if (x >> 40) % 3 else ""
        text = (
            f'"customer":{{"customer_id":"cu-{cat.city_slugs[city]}-{number:05d}",'
            f'"name":"{firsts[f]} {lasts[la]}","email":"{first_emails[f]}.{last_emails[la]}'
            f'{suffix}@{_DOMAINS[(x >> 44) % 3]}","phone":"{phones[(x >> 48) % len(phones)]}",'
            f'"city":{cat.city_json[city]}}},'
        )
        if len(_customers) >= _CACHE_LIMIT:
            _customers.clear()
        _customers[(city_key, number)] = text
    return text


def _seats_json(row: str, first: int, count: int, category: str, price: int) -> str:
    seats = _seats
    out = []
    for number in range(first, first + count):
        key = (row, number, category, price)
        text = seats.get(key)
        if text is None:
            text = (
                f'{{"seat_number":"{row}{number}","category":"{category}","price":{money(price)}}}'
            )
            if len(seats) >= _CACHE_LIMIT:
                seats.clear()
            seats[key] = text
        out.append(text)
    return ",".join(out)


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
