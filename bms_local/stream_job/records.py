"""What the reference job takes and gives: :class:`Arrival` in, :class:`JoinedPair` out, and
:class:`Reject` for what the query drops."""

from __future__ import annotations

from typing import Any, NamedTuple, cast

import msgspec

from bms_core.projection import order_row, pair_rows, seat_rows


def _decode_held(body: bytes | str | dict[str, Any]) -> dict[str, Any]:
    """A held event as ASA deserializes it. Held bodies are either the JSON object the exact
    path decoded, or ``bytes`` the fast path accepted (so a well-formed JSON object)."""
    if type(body) is dict:
        return body
    return cast(dict[str, Any], msgspec.json.decode(cast(bytes, body)))


class Arrival(NamedTuple):
    """One event as an input delivers it."""

    kind: str
    """``"booking"`` or ``"payment"``: which input it came in on."""
    body: bytes | str | dict[str, Any]
    arrival_ms: int | None = None
    """Enqueued time (epoch ms); ``None`` means it arrived exactly at its own event time."""
    partition: int | None = None
    """Input partition; ``None`` means partition 0 (a one-partition input, like a local file)."""


class JoinedPair(msgspec.Struct, gc=False):
    """A (booking, payment attempt) match; bodies are decoded and rows projected only when asked."""

    booking_body: bytes | str | dict[str, Any]
    """The booking as held: its wire body, or the JSON object it was decoded into."""
    payment_body: bytes | str | dict[str, Any]
    joined_at_ms: int
    """``System.Timestamp()`` of the join: the later of the two events' (adjusted) times."""
    booking_partition: int
    payment_partition: int

    @property
    def booking(self) -> dict[str, Any]:
        """The booking event as ASA deserializes it (decoded on first use)."""
        self.booking_body = record = _decode_held(self.booking_body)
        return record

    @property
    def payment(self) -> dict[str, Any]:
        """The payment event as ASA deserializes it."""
        self.payment_body = record = _decode_held(self.payment_body)
        return record

    def __repr__(self) -> str:
        return (
            f"JoinedPair(booking={self.booking!r}, payment={self.payment!r}, "
            f"joined_at_ms={self.joined_at_ms}, partitions=({self.booking_partition}, "
            f"{self.payment_partition}))"
        )

    def seat_rows(self) -> list[dict[str, Any]]:
        """Rows for the joined hub and ``bms.fact_seat_payment``."""
        return seat_rows(self.booking, self.payment, self.joined_at_ms)

    def order_row(self) -> dict[str, Any]:
        """The row for ``bms.fact_order_payment``."""
        return order_row(self.booking, self.payment, self.joined_at_ms)

    def rows(self) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """``(seat_rows(), order_row())``, the columns they share computed once."""
        return pair_rows(self.booking, self.payment, self.joined_at_ms)


class Reject(NamedTuple):
    kind: str
    cause: str
    body: str
    """The first 200 characters of the event, for a person to look at."""
