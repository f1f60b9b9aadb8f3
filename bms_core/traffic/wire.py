"""JSON bodies written straight from an :class:`~bms_core.traffic.orderplan.OrderPlan`.

The bytes are identical to ``contract.encode(booking_of(...))`` / ``encode(payment)`` (same key
order, compact separators, money as numbers with two decimals, msgspec's string escaping via
precomputed fragments); a test compares them on many orders. Skipping Struct validation and
``Decimal`` on the sending path is what makes generation fast; the Structs remain the contract.

Texts that repeat are built once and kept: event times are a per-minute prefix plus one of the
60,000 ``"SS.mmmZ"`` endings of a minute, customers are kept per catalog, and seats are numbered
prefixes of their row joined by a separator that carries the category and price.
"""

from __future__ import annotations

from typing import Final

from bms_core.timefmt import format_ms
from bms_core.traffic.catalog import SEATS_PER_ROW, Catalog
from bms_core.traffic.orderplan import OrderPlan
from bms_core.traffic.payments import Attempt
from bms_core.traffic.plan_events import people
from bms_core.traffic.pools import EMAIL_DOMAINS

MINUTE_MS: Final = 60_000
_MINUTE_LIMIT: Final = 100_000
_CUSTOMER_LIMIT: Final = 20_000
"""Customers kept per city (a city has at most ``CUSTOMERS_PER_CITY``)."""
_M64: Final = (1 << 64) - 1
_EMAIL_ENDS: Final = tuple(f'@{domain}","phone":"' for domain in EMAIL_DOMAINS)
ATTEMPT_TEXTS: Final = tuple(f'","attempt":{k},"payment_time":"' for k in range(10))
"""``[attempt number]`` -> the payment JSON between ``order_id``'s value and the time."""
PAYMENT_ID_ENDS: Final = tuple(f"-p{k}" for k in range(10))
"""``[attempt number]`` -> what follows the order id in the payment id."""

_SECONDS: Final = tuple(f"{s:02d}." for s in range(60))

# Texts kept for the process (the stream's loop in bms_core.traffic.emission reads them directly;
# on a miss it calls the function that fills them).
minutes: dict[int, str] = {}
"""Epoch minute -> ``"YYYY-MM-DDTHH:MM:"`` (:func:`minute_text`)."""
tails: list[str] = []
"""Millisecond of a minute -> ``"SS.mmmZ"`` (:func:`minute_tails`)."""
row_seat_texts: dict[str, tuple[str, ...]] = {}
"""Row -> :func:`row_seats`."""
payment_tails: dict[tuple[str, str, str | None], str] = {}
"""(method, status, reason) -> :func:`payment_tail`."""
amounts: dict[int, str] = {}
"""Paise -> :func:`amount_text`."""
shows: dict[int, tuple[str, str]] = {}
"""Show start minute -> :func:`show_minute_texts`."""
_people: list[tuple[str, ...]] = []
_pool_sizes: list[int] = []
_numbers: dict[int, str] = {}


def money(paise: int) -> str:
    """``45010`` -> ``450.10`` as msgspec writes ``Decimal('450.10')``."""
    return f"{paise // 100}.{paise % 100:02d}"


def minute_text(minute: int) -> str:
    """``"YYYY-MM-DDTHH:MM:"`` of an epoch minute, memoised (recent minutes repeat)."""
    text = minutes.get(minute)
    if text is None:
        if len(minutes) >= _MINUTE_LIMIT:
            minutes.clear()
        text = minutes[minute] = format_ms(minute * MINUTE_MS)[:17]
    return text


def amount_text(paise: int) -> str:
    """:func:`money`, memoised (order totals take few distinct values)."""
    text = amounts.get(paise)
    if text is None:
        if len(amounts) >= _MINUTE_LIMIT:
            amounts.clear()
        text = amounts[paise] = money(paise)
    return text


def show_minute_texts(minute: int) -> tuple[str, str]:
    """(minute in base 16 for the show's id, ``show_time`` text) of a show's start minute."""
    texts = shows.get(minute)
    if texts is None:
        if len(shows) >= _MINUTE_LIMIT:
            shows.clear()
        texts = shows[minute] = (f"{minute:x}", format_ms(minute * MINUTE_MS))
    return texts


def minute_tails() -> list[str]:
    """``"SS.mmmZ"`` for each millisecond of a minute (built on first use)."""
    if not tails:
        millis = [f"{m:03d}Z" for m in range(1000)]
        tails.extend([second + milli for second in _SECONDS for milli in millis])
    return tails


def time_text(epoch_ms: int) -> str:
    """Same text as :func:`bms_core.timefmt.format_ms`."""
    minute, rest = divmod(epoch_ms, MINUTE_MS)
    return minute_text(minute) + (tails or minute_tails())[rest]


def customer_json(cat: Catalog, city: int, number: int) -> str:
    """``"customer":{...},`` -- :func:`~bms_core.traffic.plan_events.customer_fields`, inlined and
    kept in ``cat.memo.customers[city]`` (callers look there first).

    Pool texts and slugs need no escaping; the city is escaped once in the catalog. A
    customer number is below 2**30, so ``x ^ (x >> 30)`` of ``x = key ^ number`` is
    ``key ^ (key >> 30) ^ number``: the catalog keeps ``key ^ (key >> 30)`` per city.
    """
    first_names, lasts, first_emails, last_emails, phones, suffixes = _people or _people_texts()
    first_count, last_count, phone_count = _pool_sizes
    memo = cat.memo
    head, end, premix = memo.customer_ends[city]
    x = ((premix ^ number) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    x ^= x >> 31
    f = x % first_count
    la = (x >> 12) % last_count
    text = (
        f'{head}{_numbers.get(number) or _number_text(number)}","name":"{first_names[f]}'
        f'{lasts[la]}","email":"{first_emails[f]}{last_emails[la]}'
        f"{suffixes[(x >> 24) % 1000] if (x >> 40) % 3 else ''}{_EMAIL_ENDS[(x >> 44) % 3]}"
        f"{phones[(x >> 48) % phone_count]}{end}"
    )
    kept = memo.customers[city]
    if len(kept) >= _CUSTOMER_LIMIT:
        kept.clear()
    kept[number] = text
    return text


def _people_texts() -> list[tuple[str, ...]]:
    """(first names + " ", last names, email first parts + ".", email last parts, phones,
    email number suffixes) and their pool sizes, built once."""
    firsts, lasts, first_emails, last_emails, phones = people()
    _pool_sizes.extend((len(firsts), len(lasts), len(phones)))
    _people.extend(
        (
            tuple(name + " " for name in firsts),
            lasts,
            tuple(part + "." for part in first_emails),
            last_emails,
            phones,
            tuple(str(k) for k in range(1000)),
        )
    )
    return _people


def _number_text(number: int) -> str:
    """A customer number as written in ids (``"00042"``), memoised (cities share numbers)."""
    text = _numbers[number] = str(number).zfill(5)
    return text


def row_seats(row: str) -> tuple[str, ...]:
    """``{"seat_number":"<row><k>`` at index k, for k = 1 .. SEATS_PER_ROW."""
    texts = row_seat_texts.get(row)
    if texts is None:
        texts = row_seat_texts[row] = tuple(
            f'{{"seat_number":"{row}{k}' for k in range(SEATS_PER_ROW + 1)
        )
    return texts


def seat_tail(
    cat: Catalog, n: int, price: int, fee: int, gst: int, category: int, channel: int
) -> tuple[str, str]:
    """(text between two seats, text from the last seat's end to the end of the booking),
    kept in ``cat.memo.seat_tails[(n, price, category, channel)]`` (fee and GST follow the
    price)."""
    text = amount_text
    seat_end = f'","category":"{cat.categories[category]}","price":{text(price)}}}'
    tail = (
        f'{seat_end}]}},"currency":"INR","ticket_subtotal":{text(n * price)},'
        f'"convenience_fee_per_ticket":{text(fee)},"convenience_fee":{text(n * fee)},'
        f'"gst_on_fee":{text(n * gst)},"total_amount":{text(n * (price + fee + gst))},'
        f'"channel":"{cat.channels[channel]}"}}'
    )
    texts = cat.memo.seat_tails[(n, price, category, channel)] = (seat_end + ",", tail)
    return texts


def booking_body(cat: Catalog, plan: OrderPlan) -> bytes:
    """The booking's JSON bytes (:func:`bms_core.traffic.emission.stream_batches` writes the same
    text inline)."""
    (_, oid, booking_ms, city, customer, _, venue, show, show_ms, category, n, row,
     first_seat, price, fee, gst, channel, _, _, _, _) = plan  # fmt: skip
    memo = cat.memo
    customer_text = memo.customers[city].get(customer) or customer_json(cat, city, customer)
    sep, tail = memo.seat_tails.get((n, price, category, channel)) or seat_tail(
        cat, n, price, fee, gst, category, channel
    )
    minute, rest = divmod(booking_ms, MINUTE_MS)
    show_minute = show_ms // MINUTE_MS
    show_hex, show_time = shows.get(show_minute) or show_minute_texts(show_minute)
    event_id, show_json = venue.show_texts[show]
    seats = sep.join((row_seat_texts.get(row) or row_seats(row))[first_seat : first_seat + n])
    return (
        f'{{"kind":"booking","schema_version":1,"event_id":"{oid}-b","order_id":"{oid}",'
        f'"booking_time":"{minutes.get(minute) or minute_text(minute)}'
        f'{(tails or minute_tails())[rest]}",{customer_text}'
        f'"event_details":{{"event_id":"{event_id}{show_hex}",{show_json}'
        f'"show_time":"{show_time}","seats":[{seats}{tail}'
    ).encode()


def payment_tail(method: str, status: str, reason: str | None) -> str:
    """The payment JSON from ``currency`` to its end, kept in :data:`payment_tails`."""
    reason_json = "null" if reason is None else f'"{reason}"'
    text = payment_tails[(method, status, reason)] = (
        f'"currency":"INR","payment_method":"{method}",'
        f'"payment_status":"{status}","failure_reason":{reason_json}}}'
    )
    return text


def payment_body(plan: OrderPlan, attempt: Attempt) -> bytes:
    """One payment attempt's JSON bytes (:func:`bms_core.traffic.emission.stream_batches` writes the
    same text inline)."""
    oid = plan.order_id
    number, time_ms, method, status, reason = attempt
    pid = f"{oid}-p{number}"
    amount = money(plan.seats * (plan.price + plan.fee + plan.gst))
    tail = payment_tails.get((method, status, reason)) or payment_tail(method, status, reason)
    return (
        f'{{"kind":"payment","schema_version":1,"event_id":"{pid}","payment_id":"{pid}",'
        f'"order_id":"{oid}","attempt":{number},"payment_time":"{time_text(time_ms)}",'
        f'"amount":{amount},{tail}'
    ).encode()
