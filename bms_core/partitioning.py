"""Partition-key routing exactly as Event Hubs does it: Jenkins lookup3, then ``abs(h % n)``.

The service hashes a partition key with Bob Jenkins' lookup3 (``hashlittle2``), folds the two
32-bit results to a signed 16-bit value and takes it modulo the partition count; the
``azure-eventhub`` SDK mirrors this for its buffered producer
(``_buffered_producer/_partition_resolver.py``). Keyed sending here (``publish --keyed``, the
local stand-in of ASA's joined output) and the local emulator all route with
:func:`partition_for`, so a key lands on the same partition index locally as on Azure. Keys are
hashed character by character (``ord``), as the SDK does; our keys (order ids) are ASCII.
"""

from __future__ import annotations

from functools import lru_cache

_M = 0xFFFFFFFF


def _rot(x: int, k: int) -> int:
    return ((x << k) | (x >> (32 - k))) & _M


def _mix(a: int, b: int, c: int) -> tuple[int, int, int]:
    a = ((a - c) & _M) ^ _rot(c, 4)
    c = (c + b) & _M
    b = ((b - a) & _M) ^ _rot(a, 6)
    a = (a + c) & _M
    c = ((c - b) & _M) ^ _rot(b, 8)
    b = (b + a) & _M
    a = ((a - c) & _M) ^ _rot(c, 16)
    c = (c + b) & _M
    b = ((b - a) & _M) ^ _rot(a, 19)
    a = (a + c) & _M
    c = ((c - b) & _M) ^ _rot(b, 4)
    b = (b + a) & _M
    return a, b, c


def _final(a: int, b: int, c: int) -> tuple[int, int, int]:
    c = ((c ^ b) - _rot(b, 14)) & _M
    a = ((a ^ c) - _rot(c, 11)) & _M
    b = ((b ^ a) - _rot(a, 25)) & _M
    c = ((c ^ b) - _rot(b, 16)) & _M
    a = ((a ^ c) - _rot(c, 4)) & _M
    b = ((b ^ a) - _rot(a, 14)) & _M
    c = ((c ^ b) - _rot(b, 24)) & _M
    return a, b, c


def _word(codes: list[int], start: int, count: int) -> int:
    """Little-endian word of up to four codes starting at ``start``."""
    value = 0
    for i in range(min(count, 4)):
        value += codes[start + i] << (8 * i)
    return value


def lookup3(key: str) -> tuple[int, int]:
    """``hashlittle2(key, 0, 0)`` over the key's character codes: returns ``(c, b)``."""
    codes = [ord(ch) for ch in key]
    length = len(codes)
    a = b = c = (0xDEADBEEF + length) & _M
    p = 0
    rest = length
    while rest > 12:
        a = (a + _word(codes, p, 4)) & _M
        b = (b + _word(codes, p + 4, 4)) & _M
        c = (c + _word(codes, p + 8, 4)) & _M
        a, b, c = _mix(a, b, c)
        p += 12
        rest -= 12
    if rest == 0:
        return c, b
    a = (a + _word(codes, p, rest)) & _M
    if rest > 4:
        b = (b + _word(codes, p + 4, rest - 4)) & _M
    if rest > 8:
        c = (c + _word(codes, p + 8, rest - 8)) & _M
    a, b, c = _final(a, b, c)
    return c, b


def hash_code(key: str) -> int:
    """The signed 16-bit hash Event Hubs routes by; 0 for an empty key."""
    if not key:
        return 0
    c, b = lookup3(key)
    value = (c ^ b) & 0xFFFF
    return value - 0x10000 if value >= 0x8000 else value


@lru_cache(maxsize=65536)
def partition_for(key: str, partition_count: int) -> int:
    """Index of the partition ``key`` lands on among ``partition_count`` partitions."""
    if partition_count < 1:
        raise ValueError(f"partition_count must be at least 1, got {partition_count}")
    return abs(hash_code(key) % partition_count)
