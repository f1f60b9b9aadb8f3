"""Counter-based randomness: 48 independent 32-bit draws per order, from its key.

Orders are hashed in blocks of :data:`BLOCK` consecutive indexes: block ``index // BLOCK`` of a
slot is one SHAKE-128 stream of its key and a *purpose* byte (an order, or a slot's size), and
order ``index`` owns the :data:`RECORD` bytes at offset ``index % BLOCK`` of that stream. A slot
is drawn with one hash call per block (:func:`order_records`), yet any single order costs at
most one block's digest (:func:`record`), so random access stays cheap. No state is carried
from one order to the next, and the bytes never depend on the process, the platform's
``hash()`` randomisation (``PYTHONHASHSEED``) or the order in which things are generated.

A record is 48 little-endian 32-bit words. The first :data:`HOT` are what every order uses
(:func:`hot_words`; the planner unpacks only :data:`PLANNED` of them and reads categorical
draws by their top byte, :data:`TOP_BYTES`); the rest only retries and delivery extras need
(:func:`later_words`, :func:`all_words`):

====  ================================  ====  ==========================================
word  decides                           word  decides
====  ================================  ====  ==========================================
0     booking time within the slot      12    outcome
1     city                              13    first payment method
2     customer (regular bit, number)    14    first attempt late?
3     event type                        15    first attempt delay
4     venue (2 bits) and show           16,17 booking: duplicate?, malformed?
5     show day                          18,19 attempt 1: duplicate?, malformed?
6     show start minute                 20    failures before success / abandoning
7     channel                           21,22 gap before attempts 2, 3
8     seats                             23,24 attempts 2, 3 keep the method?
9     seat category                     25,26 attempts 2, 3 method otherwise
10    row                               27-29 failure reasons of attempts 1-3
11    first seat number                 30-33 attempts 2, 3: duplicate?, then malformed?
-     -                                 34-37 malformed kind (booking, attempts 1-3)
====  ================================  ====  ==========================================
"""

from __future__ import annotations

import hashlib
import math
import struct
from bisect import bisect_right
from collections.abc import Sequence
from functools import lru_cache
from typing import Final

HOT: Final = 20
"""Words 0 .. HOT-1 are unpacked for every order."""
FAILURES: Final = 20
GAP: Final = 20
SAME_METHOD: Final = 22
RETRY_METHOD: Final = 24
"""Attempt ``k + 1`` (k = 1, 2) uses words ``GAP + k``, ``SAME_METHOD + k``, ``RETRY_METHOD + k``."""
REASON: Final = 27
"""Attempt ``k + 1`` (k = 0 .. 2) fails with the reason of word ``REASON + k``."""
DUPLICATE: Final = (16, 18, 30, 32)
MALFORMED: Final = (17, 19, 31, 33)
"""Indexed by ``which``: 0 for the booking, the attempt number for a payment."""
MALFORMED_KIND: Final = 34
"""Kind of the malformed extra of ``which`` is word ``MALFORMED_KIND + which``."""
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
_HOT: Final = struct.Struct(f"<{HOT}I")
_TEXT_WORDS: Final = struct.Struct("<16I")
_shake = hashlib.shake_128
_MASK64: Final = (1 << 64) - 1

hot_words = _HOT.unpack_from
"""``hot_words(record)``: the first :data:`HOT` words of an order's record."""
HOT_BYTES: Final = HOT * 4
PLANNED: Final = (0, 2, 4, 6, 10, 11, 14, 15, 16, 17, 18, 19)
"""The hot words the planner unpacks for every order (:data:`planned_words`), in this order.
It reads the other hot words' top bytes (:data:`TOP_BYTES`) and, rarely, one whole
(:func:`word`)."""


def _skipping(words: tuple[int, ...]) -> struct.Struct:
    parts = []
    at = 0
    for w in words:
        if w > at:
            parts.append(f"{4 * (w - at)}x")
        parts.append("I")
        at = w + 1
    return struct.Struct("<" + "".join(parts))


planned_words = _skipping(PLANNED).unpack_from
"""``planned_words(record)``: the words :data:`PLANNED` of an order's record, in that order."""
_WORD: Final = struct.Struct("<I")


def word(record: bytes, index: int) -> int:
    """Word ``index`` of an order's record."""
    return int(_WORD.unpack_from(record, 4 * index)[0])


later_words = struct.Struct(f"<{MALFORMED_KIND - HOT}I").unpack_from
"""``later_words(record, HOT_BYTES)[i]`` is word ``HOT + i``, up to ``MALFORMED_KIND - 1``
(retries and delivery extras), without unpacking all :data:`WORDS`."""
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


def pick(cuts: tuple[int, ...], draw: int) -> int:
    """Index chosen by ``draw`` (uniform in ``[0, SCALE)``) with the weights behind ``cuts``."""
    return bisect_right(cuts, draw)


PICK_SHIFT: Final = 24
"""A pick table has one entry per ``draw >> PICK_SHIFT`` (256 buckets of the draw range): the
draw's top byte, which the planner reads straight from the record (:data:`TOP_BYTES`)."""
TOP_BYTES: Final = tuple(4 * word + 3 for word in range(WORDS))
"""``record[TOP_BYTES[w]] == words[w] >> PICK_SHIFT`` (words are little-endian): an int
below 256 without unpacking or shifting."""


def pick_table(cuts: tuple[int, ...]) -> tuple[int, ...]:
    """``table[draw >> PICK_SHIFT]``: :func:`pick` of every draw in that bucket, or -1 when a
    cut falls inside the bucket (then call :func:`pick`).

    One tuple index instead of a bisect call on the hot path; the result is the same.
    """
    width = 1 << PICK_SHIFT
    table = []
    i = 0
    for low in range(0, SCALE, width):
        while i < len(cuts) and cuts[i] <= low:
            i += 1
        table.append(i if i == len(cuts) or cuts[i] >= low + width else -1)
    return tuple(table)


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
