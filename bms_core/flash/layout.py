"""How a large burst is cut into chunks and when each chunk and payment window is due.

A burst of ``orders`` orders is cut into chunks of ``chunk_orders`` consecutive order indexes.
With ``over_seconds`` 0 every chunk is anchored at the burst's anchor second; otherwise chunk
``k`` is anchored at the start of its slice of ``over_seconds`` (``k * over_seconds / chunks``
after the anchor, rounded down to the second), so the orders are spread evenly over the
interval, one chunk at a time. A chunk's orders have keys ``(burst_id, seed, chunk anchor
second, index)``: its bookings lie up to 1 s before its anchor, and with ``over_seconds`` 0 they
are exactly the orders of an inline burst of the same size.

Payments are sent per window of :data:`PAYMENT_WINDOW_MS` (the timers' slot length): the
attempts with a time in ``[w * PAYMENT_WINDOW_MS, (w + 1) * PAYMENT_WINDOW_MS)`` are sent once
the window has closed, so no payment is sent before its time nor more than a window after it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

PAYMENT_WINDOW_MS: Final = 10_000


def seconds_until(at_ms: int, now_ms: int) -> int:
    """Whole seconds from ``now_ms`` until ``at_ms`` (rounded up, never negative): the
    visibility delay that keeps a queue message hidden until ``at_ms``."""
    return max(0, -((now_ms - at_ms) // 1000))


@dataclass(frozen=True)
class BurstSpec:
    """Everything a work item of a fanned-out burst needs to regenerate its part of it."""

    burst_id: str
    seed: int
    orders: int
    chunk_orders: int
    anchor_ms: int
    over_seconds: int
    overrides: Mapping[str, object] = field(default_factory=dict)

    @property
    def chunks(self) -> int:
        return -(-self.orders // self.chunk_orders)

    def indexes(self, chunk: int) -> range:
        """The order indexes of ``chunk``."""
        self._check(chunk)
        first = chunk * self.chunk_orders
        return range(first, min(self.orders, first + self.chunk_orders))

    def chunk_anchor_ms(self, chunk: int) -> int:
        """The second chunk ``chunk`` is booked at (and its queue message becomes visible)."""
        self._check(chunk)
        offset_ms = chunk * self.over_seconds * 1000 // self.chunks
        return self.anchor_ms + offset_ms - offset_ms % 1000

    @property
    def last_booking_ms(self) -> int:
        return self.chunk_anchor_ms(self.chunks - 1)

    def _check(self, chunk: int) -> None:
        if not 0 <= chunk < self.chunks:
            raise ValueError(f"chunk must be in 0 .. {self.chunks - 1}, got {chunk}")

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.burst_id,
            "seed": self.seed,
            "orders": self.orders,
            "chunk_orders": self.chunk_orders,
            "anchor_ms": self.anchor_ms,
            "over_seconds": self.over_seconds,
            "scenario": dict(self.overrides),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BurstSpec:
        """The spec a work item carries; ``ValueError`` when a field is missing or wrong."""
        try:
            spec = cls(
                burst_id=_text(data["id"]),
                seed=_whole(data["seed"]),
                orders=_whole(data["orders"]),
                chunk_orders=_whole(data["chunk_orders"]),
                anchor_ms=_whole(data["anchor_ms"]),
                over_seconds=_whole(data["over_seconds"]),
                overrides=_mapping(data["scenario"]),
            )
        except KeyError as exc:
            raise ValueError(f"burst spec lacks {exc.args[0]!r}") from None
        if spec.orders < 1 or spec.chunk_orders < 1 or spec.over_seconds < 0:
            raise ValueError(f"burst spec out of range: {data!r}")
        return spec


def _whole(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected a whole number, got {value!r}")
    return value


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected text, got {value!r}")
    return value


def _mapping(value: object) -> Mapping[str, object]:
    if not isinstance(value, dict):
        raise ValueError(f"expected an object, got {value!r}")
    return value
