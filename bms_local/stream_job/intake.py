"""``CleanBookings`` / ``CleanPayments`` for one arrival, and ``TIMESTAMP BY``: the event's
order id, event id and event time, or the reason the query drops it.

Most bodies are in the producers' own shape, so they take a fast route: a msgspec decoder that
reads only the fields the join needs, each of the type producers send, and the time only if it
is in the wire format (``YYYY-MM-DDTHH:MM:SS.mmmZ``). Everything those checks accept, the exact
path (:mod:`.clean`) accepts too, with the same order id, event id and time; anything they do
not accept goes the exact way, which decides. Tests feed every shape both ways.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

import msgspec

from bms_core.projection import wire_time_ms
from bms_local.stream_job.clean import Clean, clean


class _Details(msgspec.Struct, gc=False):
    seats: Annotated[list[msgspec.Raw], msgspec.Meta(min_length=1)]
    """A non-empty array, as the ``WHERE`` requires; the seats themselves are not read here."""


class _Booking(msgspec.Struct, gc=False, kw_only=True):
    """The fields the join needs from a booking, each of the type producers send."""

    event_id: Any = None
    order_id: str
    time: str = msgspec.field(name="booking_time")
    event_details: _Details
    ticket_subtotal: float
    total_amount: float


class _Payment(msgspec.Struct, gc=False, kw_only=True):
    """The fields the join needs from a payment attempt, each of the type producers send."""

    event_id: Any = None
    order_id: str
    attempt: int
    time: str = msgspec.field(name="payment_time")
    amount: float


_DECODE: Final = (msgspec.json.Decoder(_Payment).decode, msgspec.json.Decoder(_Booking).decode)
"""Indexed by ``is_booking``."""


def usable(body: bytes | str | dict[str, Any], is_booking: bool) -> Clean | str:
    """The event the clean step keeps, or the reject cause (``booking.booking_time``, ...).

    Only ASCII ``bytes`` take the fast route: a decoder that skips fields does not check them,
    and invalid UTF-8 in a skipped field must still make the body "not JSON".
    """
    if type(body) is bytes and body.isascii():
        try:
            event = _DECODE[is_booking](body)
        except msgspec.DecodeError:  # a field of another type, or missing: the exact path says
            pass
        else:
            event_ms = wire_time_ms(event.time)
            if event_ms is not None and event.order_id:
                return Clean(event.order_id, event.event_id, event_ms, body)
    return clean(body, is_booking)
