"""The work items of the burst queue: one JSON text per Storage queue message.

Three kinds share the queue (``names.BURST_QUEUE``), so one queue-triggered function and one
set of host queue settings drive a whole burst:

* ``chunk``: send the bookings of one chunk, the payments already due, and schedule the rest;
* ``fanout``: enqueue the items for chunks ``first .. end - 1`` (a tree, :data:`FANOUT_WIDTH`
  wide, so neither the HTTP call nor any invocation enqueues more than that many at once);
* ``payments``: send one chunk's payment attempts of one window (:data:`PAYMENT_WINDOW_MS`);
  the orders paying in it are named by a bitmap over the chunk's positions, so the handler plans
  only those orders.

Items are plain data: the same item always produces the same events with the same ids.
"""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from bms_core.flash.layout import BurstSpec

VERSION: Final = 1
FANOUT_WIDTH: Final = 16
"""Most items one invocation (or the HTTP call) enqueues for a fan-out step."""


class BadWorkItem(ValueError):
    """A queue message that is not a work item this version understands."""


@dataclass(frozen=True)
class ChunkItem:
    spec: BurstSpec
    chunk: int


@dataclass(frozen=True)
class FanOutItem:
    spec: BurstSpec
    first: int
    end: int


@dataclass(frozen=True)
class PaymentsItem:
    spec: BurstSpec
    chunk: int
    window: int
    """The window's start is ``window * PAYMENT_WINDOW_MS``."""
    positions: tuple[int, ...]
    """Positions (in the chunk's indexes) of the orders paying in the window, ascending."""


WorkItem = ChunkItem | FanOutItem | PaymentsItem


def encode(item: WorkItem) -> str:
    """The message text (compact JSON; the queue client Base64-encodes it)."""
    body: dict[str, Any] = {"v": VERSION, "burst": item.spec.to_json()}
    if isinstance(item, ChunkItem):
        body.update(kind="chunk", chunk=item.chunk)
    elif isinstance(item, FanOutItem):
        body.update(kind="fanout", first=item.first, end=item.end)
    else:
        body.update(
            kind="payments",
            chunk=item.chunk,
            window=item.window,
            orders=_bitmap(item.positions),
        )
    return json.dumps(body, separators=(",", ":"), sort_keys=True)


def decode(text: str | bytes) -> WorkItem:
    """The item a message holds; :class:`BadWorkItem` saying what is wrong otherwise."""
    try:
        body = json.loads(text)
        if not isinstance(body, dict) or body.get("v") != VERSION:
            raise ValueError(f"not a version {VERSION} work item")
        spec = BurstSpec.from_json(body["burst"])
        kind = body.get("kind")
        if kind == "chunk":
            chunk = ChunkItem(spec, _int(body["chunk"]))
            spec.indexes(chunk.chunk)
            item: WorkItem = chunk
        elif kind == "fanout":
            item = FanOutItem(spec, _int(body["first"]), _int(body["end"]))
            if not 0 <= item.first < item.end <= spec.chunks:
                raise ValueError(f"chunk range {item.first} .. {item.end} outside the burst")
        elif kind == "payments":
            positions = _positions(body["orders"])
            item = PaymentsItem(spec, _int(body["chunk"]), _int(body["window"]), positions)
            if positions and positions[-1] >= len(spec.indexes(item.chunk)):
                raise ValueError("payment positions outside the chunk")
        else:
            raise ValueError(f"unknown kind {kind!r}")
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise BadWorkItem(f"not a burst work item: {exc}") from None
    return item


def fan_out(spec: BurstSpec, first: int, end: int) -> list[WorkItem]:
    """The items that cover chunks ``first .. end - 1``: the chunks themselves when at most
    :data:`FANOUT_WIDTH`, else up to that many ``fanout`` items over equal sub-ranges."""
    count = end - first
    if count <= FANOUT_WIDTH:
        return [ChunkItem(spec, k) for k in range(first, end)]
    bounds = [first + count * i // FANOUT_WIDTH for i in range(FANOUT_WIDTH + 1)]
    return [FanOutItem(spec, a, b) for a, b in itertools.pairwise(bounds) if a < b]


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"expected a whole number >= 0, got {value!r}")
    return value


def _bitmap(positions: Iterable[int]) -> str:
    mask = 0
    for p in positions:
        mask |= 1 << p
    raw = mask.to_bytes((mask.bit_length() + 7) // 8, "little")
    return base64.b64encode(raw).decode("ascii")


def _positions(text: object) -> tuple[int, ...]:
    if not isinstance(text, str):
        raise ValueError("orders must be a Base64 bitmap")
    mask = int.from_bytes(base64.b64decode(text, validate=True), "little")
    bits = bin(mask)[:1:-1]  # least significant bit first
    return tuple(i for i, bit in enumerate(bits) if bit == "1")
