"""Counter-based randomness: 16 independent 32-bit draws from ``(seed, namespace, slot, index)``.

Each order's randomness is a BLAKE2b digest of its key and a *purpose* byte (booking, payments,
delivery, slot size). No state is carried from one order to the next, so any order can be
generated on its own (random access), and the bytes never depend on the process, the platform's
``hash()`` randomisation (``PYTHONHASHSEED``) or the order in which things are generated.
"""

from __future__ import annotations

import hashlib
import struct
from bisect import bisect_right
from collections.abc import Sequence
from functools import lru_cache
from typing import Final

BOOKING: Final = 1
PAYMENTS: Final = 2
DELIVERY: Final = 3
SLOT_SIZE: Final = 4
CUSTOMER: Final = 5

SCALE: Final = 1 << 32
"""Draws are uniform integers in ``[0, SCALE)``."""

_KEY: Final = struct.Struct("<QQQB")
_WORDS: Final = struct.Struct("<16I")
_blake2b = hashlib.blake2b


@lru_cache(maxsize=1024)
def _prefix(namespace: str) -> bytes:
    return namespace.encode("ascii") + b"\x00"


def draws(seed: int, namespace: str, slot: int, index: int, purpose: int) -> tuple[int, ...]:
    """16 uniform 32-bit integers, a pure function of the arguments."""
    digest = _blake2b(
        _prefix(namespace) + _KEY.pack(seed, slot, index, purpose), digest_size=64
    ).digest()
    return _WORDS.unpack(digest)


def text_draws(text: str, purpose: int) -> tuple[int, ...]:
    """16 uniform 32-bit integers from a text key (e.g. a customer's city and number)."""
    digest = _blake2b(text.encode("utf-8") + bytes((purpose,)), digest_size=64).digest()
    return _WORDS.unpack(digest)


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
