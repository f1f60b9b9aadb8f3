"""Counter-based randomness: 48 independent 32-bit draws per order, from ``(seed, namespace, slot, index)``.

Orders are hashed in blocks of :data:`BLOCK` consecutive indexes: block ``index // BLOCK`` of a
slot is one SHAKE-128 stream of its key and a *purpose* byte (an order, or a slot's size), and
order ``index`` reads its :data:`WORDS` words at offset ``index % BLOCK`` of that stream. A slot
is drawn with one hash call per block (:func:`order_draws`), yet any single order costs at most
one block's digest (:func:`draws`), so random access stays cheap. Draws ``BOOKING ..
BOOKING+15`` shape the booking, ``PAYMENTS ..`` the payment attempts and ``DELIVERY ..``
duplicates and malformed extras. No state is carried from one order to the next, and the bytes
never depend on the process, the platform's ``hash()`` randomisation (``PYTHONHASHSEED``) or
the order in which things are generated.
"""

from __future__ import annotations

import hashlib
import struct
from bisect import bisect_right
from collections.abc import Sequence
from functools import lru_cache
from typing import Final

BOOKING: Final = 0
PAYMENTS: Final = 16
DELIVERY: Final = 32
"""Offsets of each concern's 16 draws within :func:`draws`."""
ORDER: Final = 1
SLOT_SIZE: Final = 2
TEXT: Final = 3
"""Purpose bytes."""

SCALE: Final = 1 << 32
"""Draws are uniform integers in ``[0, SCALE)``."""

WORDS: Final = 48
"""Draws per order."""
BLOCK: Final = 16
"""Orders per hash call."""
_RECORD: Final = WORDS * 4
_KEY: Final = struct.Struct("<QQQB")
_WORDS: Final = struct.Struct(f"<{WORDS}I")
_TEXT_WORDS: Final = struct.Struct("<16I")
_shake = hashlib.shake_128
_MASK64: Final = (1 << 64) - 1


@lru_cache(maxsize=1024)
def _prefix(namespace: str) -> bytes:
    return namespace.encode("ascii") + b"\x00"


def draws(
    seed: int, namespace: str, slot: int, index: int, purpose: int = ORDER
) -> tuple[int, ...]:
    """48 uniform 32-bit integers, a pure function of the arguments."""
    block, at = divmod(index, BLOCK)
    stream = _shake(_prefix(namespace) + _KEY.pack(seed, slot, block, purpose))
    return _WORDS.unpack_from(stream.digest((at + 1) * _RECORD), at * _RECORD)


def order_draws(
    seed: int, namespace: str, slot: int, indexes: Sequence[int]
) -> list[tuple[int, ...]]:
    """``[draws(seed, namespace, slot, i) for i in indexes]``, hashing each block once."""
    head = _prefix(namespace)
    pack = _KEY.pack
    if isinstance(indexes, range) and indexes.step == 1:
        out: list[tuple[int, ...]] = []
        start, stop = indexes.start, indexes.stop
        records = _WORDS.iter_unpack
        for block in range(start // BLOCK, (stop - 1) // BLOCK + 1):
            first = block * BLOCK
            lo = max(start, first) - first
            hi = min(stop, first + BLOCK) - first
            data = _shake(head + pack(seed, slot, block, ORDER)).digest(hi * _RECORD)
            out.extend(records(memoryview(data)[lo * _RECORD :] if lo else data))
        return out
    reach: dict[int, int] = {}
    for index in indexes:
        block, at = divmod(index, BLOCK)
        if reach.get(block, -1) < at:
            reach[block] = at
    blocks = {
        block: _shake(head + pack(seed, slot, block, ORDER)).digest((at + 1) * _RECORD)
        for block, at in reach.items()
    }
    unpack = _WORDS.unpack_from
    return [unpack(blocks[i // BLOCK], i % BLOCK * _RECORD) for i in indexes]


def text_draws(text: str) -> tuple[int, ...]:
    """16 uniform 32-bit integers from a text key (venues, shows, cities)."""
    digest = hashlib.blake2b(text.encode("utf-8") + bytes((TEXT,)), digest_size=64).digest()
    return _TEXT_WORDS.unpack(digest)


def mix64(value: int) -> int:
    """A cheap 64-bit integer mix (splitmix64 finaliser) for keys that need no crypto hash."""
    value &= _MASK64
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _MASK64
    return value ^ (value >> 31)


def thresholds(weights: Sequence[float]) -> tuple[int, ...]:
    """Cumulative cut points over ``[0, SCALE)`` for :func:`pick`; zero weights are never picked."""
    total = float(sum(weights))
    cuts: list[int] = []
    running = 0.0
    for weight in weights:
        running += weight
        cuts.append(min(SCALE, round(running / total * SCALE)))
    cuts[-1] = SCALE
    return tuple(cuts)


def pick(cuts: tuple[int, ...], draw: int) -> int:
    """Index chosen by ``draw`` (uniform in ``[0, SCALE)``) with the weights behind ``cuts``."""
    return bisect_right(cuts, draw)


def below(draw: int, probability: float) -> bool:
    """True with the given probability."""
    return draw < probability * SCALE


def span(draw: int, low: int, high: int) -> int:
    """Uniform integer in ``[low, high)`` (``low`` when the range is empty)."""
    if high <= low:
        return low
    return low + ((draw * (high - low)) >> 32)
