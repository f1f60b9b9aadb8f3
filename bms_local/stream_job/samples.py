"""Hand-built, contract-valid events for tests, the ASA test cases and the benchmark fallback.

Everything is derived from the arguments (no randomness), so files written from these events are
reproducible byte for byte. Money follows the project rule: total = subtotal + n * (fee + GST).
"""

from __future__ import annotations

from collections.abc import Sequence

from bms_core.contract import Booking, Customer, EventDetails, Payment, Seat
from bms_core.money import gst_paise, to_decimal
from bms_core.timefmt import format_ms

DEFAULT_FEE_PAISE = 3000
"""Convenience fee per ticket (INR 30.00); GST on it is INR 5.40."""


def sample_booking(
    order_id: str,
    booking_ms: int,
    *,
    seat_prices: Sequence[int] = (45000,),
    event_type: str = "Movie",
    city: str = "Pune",
    fee_paise: int = DEFAULT_FEE_PAISE,
    show_offset_ms: int = 86_400_000,
) -> Booking:
    """A booking of ``len(seat_prices)`` seats (prices in paise), rows A1, A2, ..."""
    n = len(seat_prices)
    subtotal = sum(seat_prices)
    gst = gst_paise(fee_paise)
    seats = [
        Seat(seat_number=f"A{i + 1}", category="Gold", price=to_decimal(price))
        for i, price in enumerate(seat_prices)
    ]
    return Booking(
        schema_version=1,
        event_id=f"{order_id}-b",
        order_id=order_id,
        booking_time=format_ms(booking_ms),
        customer=Customer(
            customer_id=f"c-{order_id}",
            name="Asha Rao",
            email=f"{order_id}@example.com",
            phone="+919812345678",
            city=city,
        ),
        event_details=EventDetails(
            event_id="ev-42",
            event_name="The Long Night",
            event_type=event_type,  # type: ignore[arg-type]
            event_location=city,
            venue_id="v-7",
            venue_name="Grand Screen",
            show_time=format_ms(booking_ms + show_offset_ms),
            seats=seats,
        ),
        currency="INR",
        ticket_subtotal=to_decimal(subtotal),
        convenience_fee_per_ticket=to_decimal(fee_paise),
        convenience_fee=to_decimal(n * fee_paise),
        gst_on_fee=to_decimal(n * gst),
        total_amount=to_decimal(subtotal + n * (fee_paise + gst)),
        channel="Web",
    )


def sample_payment(
    booking: Booking,
    payment_ms: int,
    *,
    attempt: int = 1,
    status: str = "Success",
    method: str = "UPI",
) -> Payment:
    """Attempt ``attempt`` to pay ``booking`` in full at ``payment_ms``."""
    payment_id = f"{booking.order_id}-p{attempt}"
    return Payment(
        schema_version=1,
        event_id=payment_id,
        payment_id=payment_id,
        order_id=booking.order_id,
        attempt=attempt,
        payment_time=format_ms(payment_ms),
        amount=booking.total_amount,
        currency="INR",
        payment_method=method,  # type: ignore[arg-type]
        payment_status=status,  # type: ignore[arg-type]
        failure_reason=None if status == "Success" else "Payment declined",
    )
