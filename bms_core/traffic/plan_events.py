"""A plan's contract events: the validated :mod:`bms_core.contract` Structs of an
:class:`~bms_core.traffic.orderplan.OrderPlan`, and the customer it names.

The model API and the validator read orders this way; the event stream writes the same JSON
bytes straight from the plan (:mod:`bms_core.traffic.wire`, :mod:`bms_core.traffic.emission`; a test
compares them).
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

from bms_core.contract import (
    CURRENCY,
    SCHEMA_VERSION,
    Booking,
    Customer,
    EventDetails,
    Payment,
    Seat,
)
from bms_core.money import to_decimal
from bms_core.timefmt import format_ms
from bms_core.traffic import entropy
from bms_core.traffic.catalog import Catalog
from bms_core.traffic.orderplan import OrderPlan
from bms_core.traffic.pools import EMAIL_DOMAINS, pools


def show_event_id(plan: OrderPlan) -> str:
    """The show's id: venue, show number and start minute (base 16)."""
    return f"{plan.venue.show_prefix}{plan.show:02d}-{plan.show_ms // 60_000:x}"


# --- customers -------------------------------------------------------------------------------


class People(NamedTuple):
    """Pool texts customers are made of (first/last names, their email forms, phones)."""

    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    first_emails: tuple[str, ...]
    last_emails: tuple[str, ...]
    phones: tuple[str, ...]


@lru_cache(maxsize=1)
def people() -> People:
    """Built once from the Faker pools."""
    p = pools()

    def clean(name: str) -> str:
        return "".join(c for c in name.lower() if c.isalnum())

    return People(
        p.first_names,
        p.last_names,
        tuple(clean(n) for n in p.first_names),
        tuple(clean(n) for n in p.last_names),
        p.phones,
    )


def customer_fields(city_key: int, slug: str, number: int) -> tuple[str, str, str, str]:
    """``(customer_id, name, email, phone)``: the same person every time they book.

    :func:`bms_core.traffic.wire.booking_body` inlines the same arithmetic; a test compares them.
    """
    firsts, lasts, first_emails, last_emails, phones = people()
    x = entropy.mix64(city_key ^ number)
    f = x % len(firsts)
    la = (x >> 12) % len(lasts)
    suffix = str((x >> 24) % 1000) if (x >> 40) % 3 else ""
    return (
        f"cu-{slug}-{number:05d}",
        f"{firsts[f]} {lasts[la]}",
        f"{first_emails[f]}.{last_emails[la]}{suffix}@{EMAIL_DOMAINS[(x >> 44) % 3]}",
        phones[(x >> 48) % len(phones)],
    )


def customer_of(cat: Catalog, plan: OrderPlan) -> tuple[str, str, str, str]:
    return customer_fields(cat.city_keys[plan.city], cat.city_slugs[plan.city], plan.customer)


# --- Structs ---------------------------------------------------------------------------------


@lru_cache(maxsize=65536)
def _seat(number: str, category: str, price: int) -> Seat:
    return Seat(seat_number=number, category=category, price=to_decimal(price))  # type: ignore[arg-type]


def booking_of(cat: Catalog, plan: OrderPlan) -> Booking:
    """The validated contract Booking of a plan."""
    customer_id, name, email, phone = customer_of(cat, plan)
    city = cat.cities[plan.city]
    category = cat.categories[plan.category]
    n = plan.seats
    seats = [_seat(f"{plan.row}{plan.first_seat + j}", category, plan.price) for j in range(n)]
    return Booking(
        schema_version=SCHEMA_VERSION,
        event_id=f"{plan.order_id}-b",
        order_id=plan.order_id,
        booking_time=format_ms(plan.booking_ms),
        customer=Customer(customer_id=customer_id, name=name, email=email, phone=phone, city=city),
        event_details=EventDetails(
            event_id=show_event_id(plan),
            event_name=cat.show_names[plan.city][plan.event_type][plan.show],
            event_type=cat.types[plan.event_type],  # type: ignore[arg-type]
            event_location=city,
            venue_id=plan.venue.venue_id,
            venue_name=plan.venue.venue_name,
            show_time=format_ms(plan.show_ms),
            seats=seats,
        ),
        currency=CURRENCY,
        ticket_subtotal=to_decimal(plan.subtotal),
        convenience_fee_per_ticket=to_decimal(plan.fee),
        convenience_fee=to_decimal(n * plan.fee),
        gst_on_fee=to_decimal(n * plan.gst),
        total_amount=to_decimal(plan.total),
        channel=cat.channels[plan.channel],  # type: ignore[arg-type]
    )


def payments_of(plan: OrderPlan) -> tuple[Payment, ...]:
    """The validated contract Payments of a plan, one per attempt, in time order."""
    amount = to_decimal(plan.total)
    out = []
    for a in plan.attempts:
        payment_id = f"{plan.order_id}-p{a.attempt}"
        out.append(
            Payment(
                schema_version=SCHEMA_VERSION,
                event_id=payment_id,
                payment_id=payment_id,
                order_id=plan.order_id,
                attempt=a.attempt,
                payment_time=format_ms(a.time_ms),
                amount=amount,
                currency=CURRENCY,
                payment_method=a.method,  # type: ignore[arg-type]
                payment_status=a.status,  # type: ignore[arg-type]
                failure_reason=a.reason,
            )
        )
    return tuple(out)
