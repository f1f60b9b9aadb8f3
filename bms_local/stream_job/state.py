"""The join's state: every held event, found by its order id, and let go in admission order.

The query's ``JOIN ... ON b.order_id = p.order_id AND DATEDIFF(second, b, p) BETWEEN 0 AND
900`` is answered by a dictionary from order id to the bookings and payments held for it: a new
event meets every held event of the other input with its order id, whatever partition either
came from, and each one in the window is a pair.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from bms_local.stream_job.records import JoinedPair


class Held:
    """One admitted event, as long as a later one could still match it or repeat it."""

    __slots__ = ("body", "event_id", "is_booking", "matched", "order_id", "partition", "time_ms")

    def __init__(
        self,
        order_id: str,
        event_id: object,
        time_ms: int,
        body: bytes | dict[str, Any],
        is_booking: bool,
        partition: int,
    ) -> None:
        self.order_id = order_id
        self.event_id = event_id
        self.time_ms = time_ms
        """The time the join sees: the event time after the ordering policy."""
        self.body = body
        self.is_booking = is_booking
        self.partition = partition
        self.matched = False


class JoinState:
    """Held events of both inputs, by order id; ``window_ms`` is the join's upper bound."""

    def __init__(self, window_ms: int) -> None:
        self.window_ms = window_ms
        self._orders: dict[str, tuple[list[Held], list[Held]]] = {}
        """Order id -> (payments, bookings) held for it, each in admission order."""
        self._admitted: deque[Held] = deque()
        """Every held event in admission order: eviction takes from the front."""

    def __len__(self) -> int:
        return len(self._admitted)

    def add(self, event: Held, out: list[JoinedPair]) -> bool:
        """Admit ``event``: append to ``out`` every pair it completes (in the order the held
        events were admitted); ``True`` if it repeats a held event of its input (same order
        id and event id, at most a window apart), which ASA joins again all the same."""
        sides = self._orders.get(event.order_id)
        if sides is None:
            sides = self._orders[event.order_id] = ([], [])
        own, others = sides[event.is_booking], sides[not event.is_booking]
        t, window = event.time_ms, self.window_ms
        repeated = False
        for held in own:
            if held.event_id == event.event_id and -window <= held.time_ms - t <= window:
                repeated = True
                break
        for other in others:
            booking, payment = (event, other) if event.is_booking else (other, event)
            if 0 <= payment.time_ms - booking.time_ms <= window:  # DATEDIFF ... BETWEEN 0 AND 900
                joined_at = max(booking.time_ms, payment.time_ms)  # System.Timestamp()
                out.append(
                    JoinedPair(
                        booking.body, payment.body, joined_at, booking.partition, payment.partition
                    )
                )
                other.matched = event.matched = True
        own.append(event)
        self._admitted.append(event)
        return repeated

    def evict(self, before_ms: int) -> tuple[int, int]:
        """Let go of held events whose time is below ``before_ms``, taken in admission order
        (one admitted early with a later time may keep a few after it a little longer);
        ``(bookings, payments)`` among them that never matched."""
        admitted, orders = self._admitted, self._orders
        lost = [0, 0]
        while admitted and admitted[0].time_ms < before_ms:
            held = admitted.popleft()
            sides = orders[held.order_id]
            sides[held.is_booking].remove(held)
            if not sides[0] and not sides[1]:
                del orders[held.order_id]
            if not held.matched:
                lost[held.is_booking] += 1
        return lost[1], lost[0]

    def clear(self) -> tuple[int, int]:
        """Let go of everything; ``(bookings, payments)`` that never matched."""
        bookings = sum(1 for h in self._admitted if h.is_booking and not h.matched)
        payments = sum(1 for h in self._admitted if not h.is_booking and not h.matched)
        self._orders.clear()
        self._admitted.clear()
        return bookings, payments
