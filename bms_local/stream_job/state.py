"""The join's state as columns: every held event's key, side, time, arrival order and match flag,
and its order id, event id and body.

Every column is a numpy array; the order ids, event ids and bodies are object arrays, so gathering
and comparing them for pairs and possible repeats happens in numpy's C loops (one comparison per
pair), and evicting a row releases its body with the row.

A join key is the hash of the order id mixed with the partition, so "same order on the same
partition" is one integer comparison and a batch joins by sorting and binary search instead of a
dictionary probe per event. Equal keys are confirmed on the order ids and partitions themselves
before anything is emitted or counted, so a hash collision cannot join two orders.
"""

from __future__ import annotations

from typing import Any, Final, NamedTuple

import numpy as np
from numpy.typing import NDArray

_I64 = np.int64
_MIX: Final = np.uint64(0x9E3779B97F4A7C15)


def order_hashes(order_ids: list[str]) -> NDArray[np.int64]:
    """Hashes of order ids; a join key is one mixed with :func:`mix_partition`."""
    return np.fromiter(map(hash, order_ids), dtype=_I64, count=len(order_ids))


def mix_partition(partition_index: NDArray[np.int64]) -> NDArray[np.int64]:
    """What a partition adds to an order hash to make the join key (0 for the first one)."""
    return (partition_index.astype(np.uint64) * _MIX).view(_I64)


class Matches(NamedTuple):
    """What a batch completed: pairs in the order they become known, and duplicates by side.

    Pair ``i`` is rows ``booking[i]`` and ``payment[i]`` of :attr:`JoinState.last` (the rows
    considered by the batch), joined at ``joined_at_ms[i]``.
    """

    booking: NDArray[np.int64]
    payment: NDArray[np.int64]
    joined_at_ms: NDArray[np.int64]
    duplicate_bookings: int
    duplicate_payments: int


NUMBERS: Final = ("key", "pidx", "is_booking", "t", "seq")
OBJECTS: Final = ("order_id", "event_id", "body")
GIVEN: Final = (*NUMBERS, *OBJECTS)
"""The columns :meth:`JoinState.add` takes for new events."""
_COLUMNS: Final = (*GIVEN, "matched")
_NONE: Final = np.empty(0, dtype=_I64)


def object_column(values: list[Any]) -> NDArray[np.object_]:
    """``values`` as a numpy object array (each element kept as it is, lists included)."""
    return np.fromiter(values, dtype=object, count=len(values))


class JoinState:
    """Held events of both inputs on every partition, one numpy array per column."""

    def __init__(self, window_ms: int) -> None:
        self.window_ms = window_ms
        self.columns: dict[str, NDArray[Any]] = {c: np.empty(0, dtype=_I64) for c in NUMBERS}
        self.columns.update({c: np.empty(0, dtype=object) for c in OBJECTS})
        self.columns["is_booking"] = np.empty(0, dtype=bool)
        self.columns["matched"] = np.empty(0, dtype=bool)
        """``pidx``: partition index (the job numbers partitions as it first sees them);
        ``seq``: arrival order over the job's life; ``body``: the wire body, or the JSON object
        the exact path decoded it into."""
        self.last: dict[str, NDArray[Any]] = {}
        """The rows the last :meth:`add` joined: held candidates, then the new events (until the
        next :meth:`evict`)."""

    def __len__(self) -> int:
        return len(self.columns["key"])

    def add(self, new: dict[str, NDArray[Any]]) -> Matches:
        """Admit new events (a value per column of :data:`GIVEN`, in any order: ``seq`` orders
        them); the pairs they complete with held events
        and with each other, and how many repeat the event id of an earlier held event of the
        same order, input and partition."""
        held = self.columns
        size = len(held["key"])
        everything = size <= 4 * len(new["key"])
        if everything:  # a large batch: join against all held rows, which then become the state
            cand = np.arange(size)
            rows = {c: np.concatenate((held[c], new[c])) for c in GIVEN}
        else:  # a small batch: only held rows of the same orders
            cand = np.flatnonzero(np.isin(held["key"], new["key"]))
            rows = {c: np.concatenate((held[c][cand], new[c])) for c in GIVEN}
        old = len(cand)
        self.last = rows
        matched = np.zeros(len(rows["key"]), dtype=bool)
        key = rows["key"]
        bookings = np.flatnonzero(rows["is_booking"])
        bookings = bookings[np.argsort(key[bookings])]
        payments = np.flatnonzero(~rows["is_booking"])
        payments = payments[np.argsort(key[payments])]
        b, p = self._pairs(rows, old, bookings, payments)
        matched[b] = True
        matched[p] = True
        joined = np.maximum(rows["t"][b], rows["t"][p])
        dup_b = self._duplicates(rows, old, bookings)
        dup_p = self._duplicates(rows, old, payments)
        if everything:
            held["matched"] = np.concatenate((held["matched"] | matched[:old], matched[old:]))
            held.update(rows)
        else:
            if old:
                held["matched"][cand[matched[:old]]] = True
            new["matched"] = matched[old:]
            for column in _COLUMNS:
                held[column] = np.concatenate((held[column], new[column]))
        return Matches(b, p, joined, dup_b, dup_p)

    def objects(self, name: str, rows: NDArray[np.int64]) -> list[Any]:
        """The stored ``name`` of each of :attr:`last`'s ``rows``."""
        return self.last[name][rows].tolist()  # type: ignore[no-any-return]

    def _pairs(
        self,
        rows: dict[str, NDArray[Any]],
        old: int,
        bookings: NDArray[np.int64],
        payments: NDArray[np.int64],
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Row indexes ``(booking, payment)`` of every pair in the window with at least one new
        event (rows from ``old`` on), in the order the matches become known. ``bookings`` and
        ``payments`` are the rows of each side sorted by key (sorted queries search faster)."""
        key, t, seq = rows["key"], rows["t"], rows["seq"]
        if not len(bookings) or not len(payments):
            return _NONE, _NONE
        sorted_keys = key[bookings]
        payment_keys = key[payments]
        first = np.searchsorted(sorted_keys, payment_keys, side="left")
        count = np.searchsorted(sorted_keys, payment_keys, side="right") - first
        total = int(count.sum())
        if not total:
            return _NONE, _NONE
        p = np.repeat(payments, count)
        offset = np.arange(total) - np.repeat(np.cumsum(count) - count, count)
        b = bookings[np.repeat(first, count) + offset]
        delay = t[p] - t[b]
        keep = ((b >= old) | (p >= old)) & (delay >= 0) & (delay <= self.window_ms)
        b, p = b[keep], p[keep]
        # equal keys: confirm the partition and the order id (a hash collision joins nothing)
        order_ids = rows["order_id"]
        same = rows["pidx"][b] == rows["pidx"][p]
        same &= order_ids[b] == order_ids[p]
        if not same.all():
            b, p = b[same], p[same]
        later = np.maximum(seq[b], seq[p])
        earlier = np.minimum(seq[b], seq[p])
        if len(later) and int(later.max()) < 1 << 31:  # one integer key: later, then earlier
            order = np.argsort((later << 31) | earlier)  # a pair's two seqs are its own: no ties
        else:
            order = np.lexsort((earlier, later))
        return b[order], p[order]

    def evict(self, limits: NDArray[np.int64]) -> tuple[int, int]:
        """Drop held events whose time is below their group's limit (``limits`` indexed by
        ``partition index * 2 + is_booking``); ``(unmatched bookings, unmatched payments)``
        among them."""
        self.last = {}  # the last batch's rows are read by now; they must not keep bodies alive
        held = self.columns
        if not len(held["key"]):
            return 0, 0
        gone = held["t"] < limits[held["pidx"] * 2 + held["is_booking"]]
        if not gone.any():
            return 0, 0
        lost = gone & ~held["matched"]
        bookings = int((lost & held["is_booking"]).sum())
        payments = int(lost.sum()) - bookings
        keep = ~gone
        for column in _COLUMNS:
            held[column] = held[column][keep]
        return bookings, payments

    def unmatched(self) -> tuple[int, int]:
        """``(bookings, payments)`` held that never matched."""
        lost = ~self.columns["matched"]
        bookings = int((lost & self.columns["is_booking"]).sum())
        return bookings, int(lost.sum()) - bookings

    def _duplicates(self, rows: dict[str, NDArray[Any]], old: int, side: NDArray[np.int64]) -> int:
        """New events (rows from ``old`` on) of one side (its rows sorted by key) whose event id
        equals an earlier event's of the same order and partition, at most ``window_ms`` apart in
        event time. Rows sharing a key sit together; every two of them are compared at C speed,
        first neighbours, then rows two apart, and so on while any key has that many rows."""
        key = rows["key"][side]
        event_ids = rows["event_id"]
        found: list[tuple[int, int]] = []
        distance = 1
        while distance < len(side):
            at = np.flatnonzero(key[distance:] == key[:-distance])
            if not len(at):
                break
            a, b = side[at], side[at + distance]
            equal = event_ids[a] == event_ids[b]
            if equal.any():
                found += zip(a[equal].tolist(), b[equal].tolist(), strict=True)
            distance += 1
        if not found:
            return 0
        seq, pidx, t = rows["seq"], rows["pidx"], rows["t"]
        order_ids = rows["order_id"]
        repeats = set()
        for x, y in found:
            earlier, later = (x, y) if seq[x] < seq[y] else (y, x)
            if (
                later >= old
                and pidx[earlier] == pidx[later]
                and order_ids[earlier] == order_ids[later]
                and abs(int(t[earlier]) - int(t[later])) <= self.window_ms
            ):
                repeats.add(later)
        return len(repeats)
