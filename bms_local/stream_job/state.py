"""The join's state as columns: every held event's key, side, time, arrival order, match flag and
order id words, and its event id and body.

Every column is a numpy array; the event ids and bodies are object arrays, so gathering and
comparing them for possible repeats happens in numpy's C loops. Evicting a row releases its
event id and body at once.

A join key is a hash of the order id mixed with the partition, so "same order on the same
partition" is one integer comparison and a batch joins by sorting and binary search instead of a
dictionary probe per event. Equal keys are confirmed on the partitions and the order ids before
anything is emitted or counted, so a hash collision cannot join two orders: an order id is held
as its words (:func:`order_words`), which are the whole id up to 24 bytes; longer ids whose words
agree are compared as the ids themselves, read again from the bodies.
"""

from __future__ import annotations

from typing import Any, Final, NamedTuple

import numpy as np
from numpy.typing import NDArray

from bms_local.stream_job.clean import held_order_id

_I64 = np.int64
_MIX: Final = np.uint64(0x9E3779B97F4A7C15)
_MIX_1: Final = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2: Final = np.uint64(0x94D049BB133111EB)
_NEWLINE: Final = ord("\n")
_LOW_BYTES: Final = np.array([(1 << 8 * n) - 1 for n in range(9)], dtype=np.uint64)
"""``_LOW_BYTES[n]`` keeps the low ``n`` bytes of a little-endian word."""


ORDER_WORDS: Final = ("id_size", "id_head", "id_middle", "id_tail")
"""An order id's UTF-8 length and its bytes 0-8, 8-16 and its last 8 (little-endian words, the
bytes past its end zero): equal for equal ids, and for ids of up to :data:`WHOLE_ID` bytes
equal only for equal ids."""
WHOLE_ID: Final = 24


def order_words(order_ids: list[str]) -> NDArray[np.uint64]:
    """:data:`ORDER_WORDS` of each id, as rows of a ``(4, len(order_ids))`` array.

    The ids are read at once from their text joined by newlines (words read past an id's end are
    masked); when an id holds a newline itself, one at a time.
    """
    count = len(order_ids)
    text = "\n".join(order_ids).encode("utf-8", "surrogatepass")
    ends = np.flatnonzero(np.frombuffer(text, dtype=np.uint8) == _NEWLINE)
    if not count or len(ends) != count - 1:  # an id holds a newline itself
        return _words_one_by_one(order_ids)
    starts = np.empty(count, dtype=_I64)
    starts[0] = 0
    starts[1:] = ends + 1
    ends = np.append(ends, len(text))
    text += bytes(16)  # words read past the last id stay inside the buffer
    at = np.ndarray((len(text) - 7,), dtype="<u8", buffer=text, strides=(1,))
    out = np.empty((len(ORDER_WORDS), count), dtype=np.uint64)
    size = ends - starts
    out[0] = size
    whole = _LOW_BYTES[np.minimum(size, 8)]
    np.bitwise_and(at[starts], whole, out=out[1])
    np.bitwise_and(at[starts + 8], _LOW_BYTES[np.clip(size - 8, 0, 8)], out=out[2])
    np.bitwise_and(at[np.maximum(ends - 8, starts)], whole, out=out[3])
    return out


def _words_one_by_one(order_ids: list[str]) -> NDArray[np.uint64]:
    out = np.empty((len(ORDER_WORDS), len(order_ids)), dtype=np.uint64)
    for column, order_id in enumerate(order_ids):
        raw = order_id.encode("utf-8", "surrogatepass")
        out[:, column] = (
            len(raw),
            int.from_bytes(raw[:8], "little"),
            int.from_bytes(raw[8:16], "little"),
            int.from_bytes(raw[-8:], "little"),
        )
    return out


def order_hashes(words: NDArray[np.uint64]) -> NDArray[np.int64]:
    """Hashes of order ids given as their :func:`order_words`; a join key is one mixed with
    :func:`mix_partition`."""
    size, head, middle, tail = words
    h = (size * _MIX) ^ head
    h *= _MIX_1
    h ^= h >> np.uint64(32)
    h ^= middle
    h *= _MIX_2
    h ^= h >> np.uint64(29)
    h ^= tail
    h *= _MIX_1
    h ^= h >> np.uint64(32)
    return h.view(_I64)


def mix_partition(partition_index: NDArray[np.int64]) -> NDArray[np.int64]:
    """What a partition adds to an order hash to make the join key (0 for the first one)."""
    return (partition_index.astype(np.uint64) * _MIX).view(_I64)


def _equal_runs(
    sorted_keys: NDArray[np.int64], keys: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """For each of ``keys``, where its run of equal keys starts in ``sorted_keys`` and how long
    it is (0: none). One binary search per key, over the distinct keys only; the runs' lengths
    come from one pass over ``sorted_keys``."""
    starts = np.flatnonzero(sorted_keys[1:] != sorted_keys[:-1]) + 1
    starts = np.concatenate(([0], starts))
    lengths = np.diff(starts, append=len(sorted_keys))
    distinct = sorted_keys[starts]
    at = np.searchsorted(distinct, keys)
    at[at == len(distinct)] = 0  # past the last key: no match (checked just below)
    return starts[at], np.where(distinct[at] == keys, lengths[at], 0)


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


NUMBERS: Final = ("key", "pidx", "is_booking", "t", "seq", *ORDER_WORDS)
OBJECTS: Final = ("event_id", "body")
GIVEN: Final = (*NUMBERS, *OBJECTS)
"""The columns :meth:`JoinState.add` takes for new events."""
_COLUMNS: Final = (*GIVEN, "matched", "live")
_DTYPES: Final = {
    **{c: np.dtype(_I64) for c in NUMBERS},
    **{c: np.dtype(np.uint64) for c in ORDER_WORDS},
    **{c: np.dtype(object) for c in OBJECTS},
    "is_booking": np.dtype(bool),
    "matched": np.dtype(bool),
    "live": np.dtype(bool),
}
_NONE: Final = np.empty(0, dtype=_I64)
_EVICTED: Final = np.iinfo(_I64).max
"""The time an evicted row is given, so the next evictions pass it over without a look."""
MIN_CAPACITY: Final = 1_024


def object_column(values: list[Any]) -> NDArray[np.object_]:
    """``values`` as a numpy object array (each element kept as it is, lists included)."""
    return np.fromiter(values, dtype=object, count=len(values))


class JoinState:
    """Held events of both inputs on every partition, one numpy array per column.

    The arrays have spare room: a batch's events are written after the rows already held, so
    held rows (and the objects they refer to) are not copied for every batch. An evicted row is
    marked dead and its event id and body are released at once; dead rows are dropped when the
    arrays are compacted, which happens only when they outnumber the live ones or the room runs
    out, so each row is copied a bounded number of times over its life.
    """

    def __init__(self, window_ms: int) -> None:
        self.window_ms = window_ms
        self._arrays: dict[str, NDArray[Any]] = {c: np.empty(0, _DTYPES[c]) for c in _COLUMNS}
        """``pidx``: partition index (the job numbers partitions as it first sees them);
        ``seq``: arrival order over the job's life; ``body``: the wire body, or the JSON object
        the exact path decoded it into; ``live``: not evicted yet. Rows ``[0, _size)`` are in
        use."""
        self._size = 0
        self._dead = 0
        self._index: tuple[NDArray[np.int64], NDArray[np.int64]] | None = None
        """Held keys sorted, and their rows (``None`` until a small batch needs it; dropped
        when rows move). Small batches find their orders' rows through it."""
        self.last: dict[str, NDArray[Any]] = {}
        """The rows the last :meth:`add` joined: held candidates, then the new events (until the
        next :meth:`evict`)."""

    def __len__(self) -> int:
        """Live rows: events held that a later event could still match or repeat."""
        return self._size - self._dead

    def _held(self, column: str) -> NDArray[Any]:
        return self._arrays[column][: self._size]

    def add(self, new: dict[str, NDArray[Any]]) -> Matches:
        """Admit new events (a value per column of :data:`GIVEN`, in any order: ``seq`` orders
        them); the pairs they complete with held events
        and with each other, and how many repeat the event id of an earlier held event of the
        same order, input and partition."""
        count = len(new["key"])
        in_place = len(self) <= 4 * count
        if in_place:  # a large batch: join against every held row, in place
            self._make_room(count)
            self._index = None  # not kept up while batches are large
            old = self._size
            self._append(new)
            rows = {c: self._held(c) for c in (*GIVEN, "live")}
            live = rows["live"] if self._dead else None
        else:  # a small batch: only live held rows of the same orders
            cand = self._rows_of(new["key"])
            rows = {c: np.concatenate((self._held(c)[cand], new[c])) for c in GIVEN}
            old, live = len(cand), None
        self.last = rows
        is_booking = rows["is_booking"]
        bookings = np.flatnonzero(is_booking if live is None else is_booking & live)
        payments = np.flatnonzero(~is_booking if live is None else ~is_booking & live)
        key = rows["key"]
        bookings = bookings[np.argsort(key[bookings])]
        payments = payments[np.argsort(key[payments])]
        b, p = self._pairs(rows, old, bookings, payments)
        joined = np.maximum(rows["t"][b], rows["t"][p])
        dup_b = self._duplicates(rows, old, bookings)
        dup_p = self._duplicates(rows, old, payments)
        if in_place:  # the rows are the held arrays
            matched = self._held("matched")
            matched[b] = True
            matched[p] = True
        else:
            matched = np.zeros(len(key), dtype=bool)
            matched[b] = True
            matched[p] = True
            self._arrays["matched"][cand[matched[:old]]] = True
            self._make_room(count)
            self._append(new, matched[old:])
        return Matches(b, p, joined, dup_b, dup_p)

    def _rows_of(self, keys: NDArray[np.int64]) -> NDArray[np.int64]:
        """Live held rows whose key is one of ``keys``, ascending (a binary search per key in
        the sorted index, so a small batch costs little however many rows are held)."""
        if self._index is None:
            order = np.argsort(self._held("key"))
            self._index = self._held("key")[order], order
        held_keys, held_rows = self._index
        wanted = np.sort(keys)
        if len(wanted) > 1:
            wanted = wanted[np.concatenate(([True], wanted[1:] != wanted[:-1]))]
        first = np.searchsorted(held_keys, wanted, side="left")
        count = np.searchsorted(held_keys, wanted, side="right") - first
        total = int(count.sum())
        if not total:
            return _NONE
        offset = np.arange(total) - np.repeat(np.cumsum(count) - count, count)
        rows = np.sort(held_rows[np.repeat(first, count) + offset])
        return rows[self._held("live")[rows]]

    def _append(
        self, new: dict[str, NDArray[Any]], matched: NDArray[np.bool_] | None = None
    ) -> None:
        """Write new rows after the held ones (room made by :meth:`_make_room`)."""
        start = self._size
        end = start + len(new["key"])
        arrays = self._arrays
        for column in GIVEN:
            arrays[column][start:end] = new[column]
        arrays["matched"][start:end] = False if matched is None else matched
        arrays["live"][start:end] = True
        self._size = end
        if self._index is not None:  # the new rows go into the index, in key order
            held_keys, held_rows = self._index
            order = np.argsort(new["key"])
            keys = new["key"][order]
            at = np.searchsorted(held_keys, keys, side="right")
            self._index = np.insert(held_keys, at, keys), np.insert(held_rows, at, order + start)

    def _make_room(self, count: int) -> None:
        """Room for ``count`` more rows: dead rows dropped, and the arrays grown when the live
        ones fill more than half of them."""
        capacity = len(self._arrays["key"])
        if self._size + count <= capacity:
            return
        needed = len(self) + count
        self._compact(None if 2 * needed <= capacity else max(MIN_CAPACITY, 2 * needed))

    def _compact(self, capacity: int | None = None) -> None:
        """Live rows moved to the front: of the same arrays, or of fresh ones of ``capacity``
        rows."""
        size, live = self._size, len(self)
        keep = self._held("live").copy() if self._dead else None
        for column, values in self._arrays.items():
            kept = values[:size] if keep is None else values[:size][keep]
            if capacity is None:
                values[:live] = kept
                if values.dtype == object:
                    values[live:size] = None
            else:
                fresh = np.empty(capacity, values.dtype)  # objects: None
                fresh[:live] = kept
                self._arrays[column] = fresh
        self._size = live
        self._dead = 0
        self._index = None

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
        first, count = _equal_runs(key[bookings], key[payments])
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
        same = self._same_orders(rows, b, p)
        if not same.all():
            b, p = b[same], p[same]
        seq_b, seq_p = seq[b], seq[p]
        later = np.maximum(seq_b, seq_p)
        earlier = np.minimum(seq_b, seq_p)
        if len(later) and int(later.max()) < 1 << 31:  # one integer key: later, then earlier
            order = np.argsort((later << 31) | earlier)  # a pair's two seqs are its own: no ties
        else:
            order = np.lexsort((earlier, later))
        return b[order], p[order]

    @staticmethod
    def _same_orders(
        rows: dict[str, NDArray[Any]], a: NDArray[np.int64], b: NDArray[np.int64]
    ) -> NDArray[np.bool_]:
        """Whether rows ``a[i]`` and ``b[i]`` hold events of one order on one partition."""
        same = rows["pidx"][a] == rows["pidx"][b]
        for column in ORDER_WORDS:
            words = rows[column]
            same &= words[a] == words[b]
        long = np.flatnonzero(same & (rows["id_size"][a] > WHOLE_ID))
        if len(long):  # words agree but do not hold the whole ids: read them from the bodies
            bodies, booking = rows["body"], rows["is_booking"]
            same[long] = [
                held_order_id(bodies[x], bool(booking[x]))
                == held_order_id(bodies[y], bool(booking[y]))
                for x, y in zip(a[long].tolist(), b[long].tolist(), strict=True)
            ]
        return same

    def evict(self, limits: NDArray[np.int64]) -> tuple[int, int]:
        """Drop held events whose time is below their group's limit (``limits`` indexed by
        ``partition index * 2 + is_booking``); ``(unmatched bookings, unmatched payments)``
        among them. Their event ids and bodies are released now; their rows go at the next
        compaction. When few rows are older than the highest limit, only those are looked at
        closely."""
        self.last = {}  # the last batch's rows are read by now; they must not keep bodies alive
        if not len(self):
            return 0, 0
        held = self._held
        t = held("t")
        near = t < limits.max()  # an evicted row's time is past every limit
        count = int(np.count_nonzero(near))
        if 4 * count < len(t):  # few rows to look at closely (small batches): only those
            rows = np.flatnonzero(near)
            is_booking = held("is_booking")[rows]
            gone = t[rows] < limits[held("pidx")[rows] * 2 + is_booking]
            rows, is_booking = rows[gone], is_booking[gone]
        else:  # most rows: look at every one, which costs fewer gathers
            rows = np.flatnonzero(t < limits[held("pidx") * 2 + held("is_booking")])
            is_booking = held("is_booking")[rows]
        if not len(rows):
            return 0, 0
        lost = ~held("matched")[rows]
        bookings = int((lost & is_booking).sum())
        payments = int(lost.sum()) - bookings
        held("live")[rows] = False
        t[rows] = _EVICTED
        for column in OBJECTS:
            held(column)[rows] = None
        self._dead += len(rows)
        if self._dead > len(self):
            capacity = len(self._arrays["key"])
            shrink = 8 * len(self) < capacity  # after a burst: give most of the room back
            self._compact(max(MIN_CAPACITY, 4 * len(self)) if shrink else None)
        return bookings, payments

    def unmatched(self) -> tuple[int, int]:
        """``(bookings, payments)`` held that never matched."""
        lost = ~self._held("matched") & self._held("live")
        bookings = int((lost & self._held("is_booking")).sum())
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
            if old:  # two held events were compared by an earlier batch
                fresh = (a >= old) | (b >= old)
                a, b = a[fresh], b[fresh]
            equal = event_ids[a] == event_ids[b]
            if equal.any():
                found += zip(a[equal].tolist(), b[equal].tolist(), strict=True)
            distance += 1
        if not found:
            return 0
        seq, t = rows["seq"], rows["t"]
        pairs = np.array(found, dtype=_I64).reshape(len(found), 2)
        same_order = self._same_orders(rows, pairs[:, 0], pairs[:, 1]).tolist()
        repeats = set()
        for (x, y), same in zip(found, same_order, strict=True):
            earlier, later = (x, y) if seq[x] < seq[y] else (y, x)
            if later >= old and same and abs(int(t[earlier]) - int(t[later])) <= self.window_ms:
                repeats.add(later)
        return len(repeats)
