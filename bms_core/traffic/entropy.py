"""Counter-based randomness: 48 independent 32-bit draws per order, from its key.

Orders are hashed in blocks of :data:`BLOCK` consecutive indexes: block ``index // BLOCK`` of a
slot is one SHAKE-128 stream of its key and a *purpose* byte (an order, or a slot's size), and
order ``index`` owns the :data:`RECORD` bytes at offset ``index % BLOCK`` of that stream. A slot
is drawn with one hash call per block (:func:`order_records`), yet any single order costs at
most one block's digest (:func:`record`), so random access stays cheap. No state is carried
from one order to the next, and the bytes never depend on the process, the platform's
``hash()`` randomisation (``PYTHONHASHSEED``) or the order in which things are generated.

A record is 48 little-endian 32-bit words, each a draw named for what it decides. The classes
:class:`BookingDraws`, :class:`PaymentDraws`, :class:`DeliveryDraws` and :class:`RetryDraws`
*are* the layout: their fields, in that order, are words 0, 1, 2, ...; the last ten words are
spare. Each part is read on its own (:func:`booking_draws`, ...), so an order unpacks only the
draws its path needs.
"""

from __future__ import annotations

import hashlib
import math
import struct
from bisect import bisect_right
from collections.abc import Sequence
from functools import lru_cache
from typing import Final, NamedTuple

ORDER: Final = 1
SLOT_SIZE: Final = 2
TEXT: Final = 3
"""Purpose bytes."""

SCALE: Final = 1 << 32
"""Draws are uniform integers in ``[0, SCALE)``."""

WORDS: Final = 48
"""Draws per order."""
RECORD: Final = WORDS * 4
"""Bytes per order."""
BLOCK: Final = 16
"""Orders per hash call."""
_KEY: Final = struct.Struct("<QQQB")
_WORDS: Final = struct.Struct(f"<{WORDS}I")
_TEXT_WORDS: Final = struct.Struct("<16I")
_shake = hashlib.shake_128
_MASK64: Final = (1 << 64) - 1


class BookingDraws(NamedTuple):
    """Words 0-11 of an order's record: what its booking is."""

    booking_time: int
    """Where in its slot (or burst second) the booking lies."""
    city: int
    customer: int
    """Lowest bit: one of the city's regulars or any of its customers; the rest: which one."""
    event_type: int
    venue_and_show: int
    """Lowest two bits: the venue (its index is its tier); the rest: the show at that venue."""
    show_day: int
    """How many days after the booking's IST date the show is."""
    show_start: int
    """Which of the event type's start times."""
    channel: int
    seats: int
    seat_category: int
    row: int
    first_seat: int


class PaymentDraws(NamedTuple):
    """Words 12-15: how the order is paid first."""

    outcome: int
    method: int
    """The first attempt's payment method."""
    late: int
    """Below the catalog's ``late_cut``: the first attempt comes after the join window."""
    delay: int
    """The first attempt's delay after the booking."""


class DeliveryDraws(NamedTuple):
    """Words 16-19: whether the booking and the first attempt are sent twice, or followed by
    a malformed copy."""

    booking_duplicate: int
    booking_malformed: int
    first_payment_duplicate: int
    first_payment_malformed: int


class RetryDraws(NamedTuple):
    """Words 20-37: what only retries and rarer delivery extras use."""

    failures: int
    """How many attempts fail before success (or before the customer gives up)."""
    gap_before_2: int
    gap_before_3: int
    keep_method_2: int
    """Below the payment model's cut, attempt 2 keeps the method; otherwise it takes
    ``method_2``'s."""
    keep_method_3: int
    method_2: int
    method_3: int
    reason_1: int
    """Which of the method's failure reasons attempt 1 fails with (if it fails)."""
    reason_2: int
    reason_3: int
    duplicate_2: int
    malformed_2: int
    duplicate_3: int
    malformed_3: int
    malformed_kind_booking: int
    malformed_kind_1: int
    malformed_kind_2: int
    malformed_kind_3: int


_LAYOUT: Final = (BookingDraws, PaymentDraws, DeliveryDraws, RetryDraws)
"""The record's words in order: each class's fields follow the previous class's."""
assert sum(len(part._fields) for part in _LAYOUT) <= WORDS


def _reader(part: type[tuple[int, ...]]) -> struct.Struct:
    """A struct that unpacks ``part``'s words straight from a record (skipping the earlier
    parts' bytes), so reading a part is one C call."""
    before = 0
    for each in _LAYOUT:
        if each is part:
            return struct.Struct(f"<{4 * before}x{len(part._fields)}I")
        before += len(each._fields)
    raise ValueError(part)


booking_draws = _reader(BookingDraws).unpack_from
"""``booking_draws(record)``: the fields of :class:`BookingDraws` as a plain tuple, in order."""
payment_draws = _reader(PaymentDraws).unpack_from
"""``payment_draws(record)``: the fields of :class:`PaymentDraws` as a plain tuple, in order."""
delivery_draws = _reader(DeliveryDraws).unpack_from
"""``delivery_draws(record)``: the fields of :class:`DeliveryDraws` as a plain tuple."""
_retry = _reader(RetryDraws).unpack_from
_new = tuple.__new__


def retry_draws(record: bytes) -> RetryDraws:
    """The order's :class:`RetryDraws` (only failing orders and rarer extras need them)."""
    return _new(RetryDraws, _retry(record))


def extra_draws(record: bytes, which: int) -> tuple[int, int, int]:
    """``(duplicate?, malformed?, malformed kind)`` draws of one event of an order: its booking
    (``which`` 0) or payment attempt ``which`` (1 .. 3)."""
    first, later = _new(DeliveryDraws, delivery_draws(record)), retry_draws(record)
    if which == 0:
        return first.booking_duplicate, first.booking_malformed, later.malformed_kind_booking
    if which == 1:
        return first.first_payment_duplicate, first.first_payment_malformed, later.malformed_kind_1
    if which == 2:
        return later.duplicate_2, later.malformed_2, later.malformed_kind_2
    return later.duplicate_3, later.malformed_3, later.malformed_kind_3


all_words = _WORDS.unpack
"""``all_words(record)``: all :data:`WORDS` words of an order's record."""


@lru_cache(maxsize=1024)
def _prefix(namespace: str) -> bytes:
    return namespace.encode("ascii") + b"\x00"


def record(seed: int, namespace: str, slot: int, index: int, purpose: int = ORDER) -> bytes:
    """The :data:`RECORD` bytes of one key, a pure function of the arguments."""
    block, at = divmod(index, BLOCK)
    stream = _shake(_prefix(namespace) + _KEY.pack(seed, slot, block, purpose))
    return stream.digest((at + 1) * RECORD)[at * RECORD :]


def draws(
    seed: int, namespace: str, slot: int, index: int, purpose: int = ORDER
) -> tuple[int, ...]:
    """48 uniform 32-bit integers, a pure function of the arguments."""
    return _WORDS.unpack(record(seed, namespace, slot, index, purpose))


def order_records(seed: int, namespace: str, slot: int, indexes: Sequence[int]) -> list[bytes]:
    """``[record(seed, namespace, slot, i) for i in indexes]``, hashing each block once."""
    head = _prefix(namespace)
    pack = _KEY.pack
    if isinstance(indexes, range) and indexes.step == 1:
        out: list[bytes] = []
        start, stop = indexes.start, indexes.stop
        for block in range(start // BLOCK, (stop - 1) // BLOCK + 1):
            first = block * BLOCK
            lo = max(start, first) - first
            hi = min(stop, first + BLOCK) - first
            data = _shake(head + pack(seed, slot, block, ORDER)).digest(hi * RECORD)
            out += [data[at : at + RECORD] for at in range(lo * RECORD, hi * RECORD, RECORD)]
        return out
    reach: dict[int, int] = {}
    for index in indexes:
        block, at = divmod(index, BLOCK)
        if reach.get(block, -1) < at:
            reach[block] = at
    blocks = {
        block: _shake(head + pack(seed, slot, block, ORDER)).digest((at + 1) * RECORD)
        for block, at in reach.items()
    }
    out = []
    for index in indexes:
        at = index % BLOCK * RECORD
        out.append(blocks[index // BLOCK][at : at + RECORD])
    return out


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


pick: Final = bisect_right
"""``pick(cuts, draw)``: the index that ``draw`` (uniform in ``[0, SCALE)``) chooses under the
weights behind ``cuts`` (:func:`thresholds`), i.e. how many cuts lie at or below the draw."""


def cut(probability: float) -> int:
    """The integer ``c`` with ``draw < c`` exactly when ``draw < probability * SCALE``: a draw
    below it happens with the given probability.

    Comparing two ints is cheaper than an int with a float on the hot path.
    """
    return math.ceil(probability * SCALE)


def span(draw: int, low: int, high: int) -> int:
    """Uniform integer in ``[low, high)`` (``low`` when the range is empty)."""
    if high <= low:
        return low
    return low + ((draw * (high - low)) >> 32)
