"""A batch of arrivals through the query's first steps, column by column.

``CleanBookings`` / ``CleanPayments`` (decode, ``TRY_CAST``, ``WHERE``) for many events at once:
bodies of one kind are joined into one JSON array and decoded by one call of the fast path's
decoder (:data:`~bms_local.stream_job.clean.WELL_FORMED_LISTS`), and their times are parsed
together with numpy. A sub-batch that does not decode (one odd body is enough) is halved until
the odd bodies are alone; those, and any event whose time is not in the wire format, take the
per-event path: the same fast decoder alone, else the exact ``TRY_CAST`` path of :mod:`.clean`.
The result is the same as taking every event alone (a test compares them on every shape).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import suppress
from typing import Any, Final

import msgspec
import numpy as np
from numpy.typing import NDArray

from bms_core.projection import wire_time_ms
from bms_local.stream_job import state
from bms_local.stream_job.clean import (
    NOT_JSON,
    WELL_FORMED,
    WELL_FORMED_LISTS,
    clean_booking,
    clean_payment,
    decode,
)

SUB_BATCH: Final = 512
"""Bodies decoded per call; a failing sub-batch is halved down to :data:`ALONE`. Small enough
that a sub-batch's joined bodies and decoded objects are still in a core's L2 cache when their
fields are read and freed."""
ALONE: Final = 8

_TEMPLATE: Final = b"0000-00-00T00:00:00.000Z"
_LOW: Final = np.frombuffer(_TEMPLATE, dtype=np.uint8)
"""Each character's lowest allowed byte: ``0`` for a digit, the mark itself elsewhere."""
_SPAN: Final = np.frombuffer(
    bytes([9, 9, 9, 9, 0, 1, 9, 0, 3, 9, 0, 2, 9, 0, 5, 9, 0, 5, 9, 0, 9, 9, 9, 0]), dtype=np.uint8
)
"""How far above :data:`_LOW` each character may be (a month's tens digit is 0 or 1, ...)."""
_DIGITS: Final = np.flatnonzero(np.equal(_LOW, ord("0")))
_ROWS: Final = 64
"""Times checked per row of the character check: its rows are long enough that numpy runs
through them without copying the short per-character constants into buffers."""
_LOW_ROW: Final = np.tile(_LOW, _ROWS)
_SPAN_ROW: Final = np.tile(_SPAN, _ROWS)
_WORDS: Final = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}
"""Unsigned integer types by size in bytes."""
_FIRST_YEAR: Final = 1970


def _calendar() -> tuple[NDArray[np.int32], ...]:
    """Tables for the years 1970-9999: ``(days before each January 1st, 32 for a leap year
    else 0, month length, days before each month minus one)``; the last two are indexed by
    ``32 * leap + month`` and give length 0 for a month that is not 1-12."""
    years = np.arange(_FIRST_YEAR, 10_000)
    leap = (years % 4 == 0) & ((years % 100 != 0) | (years % 400 == 0))
    year_start = np.concatenate(([0], np.cumsum(365 + leap)[:-1])).astype(np.int32)
    length = np.zeros(64, dtype=np.int32)
    before = np.zeros(64, dtype=np.int32)
    for extra in (0, 1):
        months = [31, 28 + extra, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        length[32 * extra + 1 : 32 * extra + 13] = months
        before[32 * extra + 1 : 32 * extra + 13] = np.cumsum([0, *months[:-1]]) - 1
    return year_start, (leap * 32).astype(np.int32), length, before


_YEAR_START, _LEAP_32, _MONTH_LENGTH, _MONTH_BEFORE = _calendar()


def wire_times_ms(times: list[str]) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """``(epoch ms, valid)`` of 24-character ``YYYY-MM-DDTHH:MM:SS.mmmZ`` texts, all at once.

    ``valid`` is False where :func:`bms_core.projection.wire_time_ms` might disagree (anything
    not strictly in the wire format, or before 1970); those go through it one by one.
    """
    return joined_wire_times_ms("".join(times), len(times))


def joined_wire_times_ms(joined: str, n: int) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """:func:`wire_times_ms` of ``n`` texts given joined together.

    Each character is checked against its allowed range at once; the date goes through
    calendar tables (computed once for the whole run when all times share their year and
    month, as a batch's times nearly always do), the time of day through digit arithmetic.
    """
    try:
        raw = joined.encode("ascii")
    except UnicodeEncodeError:
        return np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool)
    if not n or len(raw) != 24 * n:
        return np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool)
    text = np.frombuffer(raw, dtype=np.uint8)
    digits = np.empty_like(text)  # wraps below the low byte: above the span as well
    bad = np.empty(len(text), dtype=bool)
    whole = 24 * (n - n % _ROWS)
    for part, low, span in ((slice(whole), _LOW_ROW, _SPAN_ROW), (slice(whole, None), _LOW, _SPAN)):
        shape = (-1, len(low))
        np.subtract(text[part].reshape(shape), low, out=digits[part].reshape(shape))
        np.greater(digits[part].reshape(shape), span, out=bad[part].reshape(shape))
    if bad.view(np.uint64).any():
        flags = bad.view(np.uint64).reshape(n, 3)  # a time's 24 flags are three words
        valid = (flags[:, 0] | flags[:, 1] | flags[:, 2]) == 0
    else:
        valid = np.ones(n, dtype=bool)
    digits = digits.reshape(n, 24)
    d = digits[:, _DIGITS].astype(np.int32).T  # Y Y Y Y M M D D h h m m s s f f f
    day = d[6] * 10 + d[7]
    hour = d[8] * 10 + d[9]
    ms = (hour * 60 + d[10] * 10 + d[11]) * 60 + d[12] * 10 + d[13]
    ms = ms * 1000 + d[14] * 100 + d[15] * 10 + d[16]
    valid &= (hour <= 23) & (day >= 1)
    year_months = np.frombuffer(raw, dtype="<u8")[::3]  # "YYYY-MM-" of each time
    if (year_months == year_months[0]).all():
        y0, y1, y2, y3, _, m0, m1 = digits[0, :7].tolist()
        year = y0 * 1000 + y1 * 100 + y2 * 10 + y3 - _FIRST_YEAR
        month = m0 * 10 + m1
        if 0 <= year < len(_YEAR_START) and 1 <= month <= 12:
            month += int(_LEAP_32[year])
            valid &= day <= _MONTH_LENGTH[month]
            day += int(_YEAR_START[year]) + int(_MONTH_BEFORE[month])
        else:  # the bytes are wrong (flagged already) or the date is out of range
            valid[:] = False
    else:
        year = d[0] * 1000 + d[1] * 100 + d[2] * 10 + d[3] - _FIRST_YEAR
        month = _LEAP_32.take(year, mode="clip") + d[4] * 10 + d[5]
        valid &= (year >= 0) & (day <= _MONTH_LENGTH.take(month, mode="clip"))
        day += _YEAR_START.take(year, mode="clip") + _MONTH_BEFORE.take(month, mode="clip")
    return day.astype(np.int64) * 86_400_000 + ms, valid


def _ascii(blob: bytes) -> bool:
    """``blob.isascii()``, a vector of bytes at a time."""
    return int(np.frombuffer(blob, dtype=np.uint8).max()) < 0x80


class Columns:
    """Usable events of a batch (any order; ``seq`` is each one's place in the batch).

    Events decoded together arrive as whole arrays (:meth:`add_many`), odd ones one at a time
    (:meth:`add_one`); :meth:`numbers` joins both.
    """

    __slots__ = ("_hash", "_ms", "_one", "_seq", "_words", "body", "event_id", "kinds", "order_id")

    def __init__(self) -> None:
        self._seq: list[NDArray[np.int64]] = []
        self._ms: list[NDArray[np.int64]] = []
        self._hash: list[NDArray[np.int64]] = []
        self._words: list[NDArray[np.uint64]] = []
        self.kinds: list[tuple[bool, int]] = []
        """``(is_booking, count)`` per added run, in order."""
        self._one: list[tuple[int, int, int, NDArray[np.uint64]]] = []
        """``(seq, event_ms, order hash, order words)`` of events added one at a time since the
        last run."""
        self.order_id: list[str] = []
        self.event_id: list[object] = []
        self.body: list[object] = []
        """The body as it came (``bytes`` a fast decoder accepted, decoded again on first
        use), or the JSON object the exact path decoded it into."""

    def __len__(self) -> int:
        return len(self.order_id)

    def add_many(
        self,
        is_booking: bool,
        seqs: NDArray[np.int64],
        ms: NDArray[np.int64],
        hashes: NDArray[np.int64],
        words: NDArray[np.uint64],
        order_ids: list[str],
        event_ids: list[object],
        bodies: list[object],
    ) -> None:
        self._flush()
        self._seq.append(seqs)
        self._ms.append(ms)
        self._hash.append(hashes)
        self._words.append(words)
        self.kinds.append((is_booking, len(seqs)))
        if self.order_id:
            self.order_id += order_ids
            self.event_id += event_ids
            self.body += bodies
        else:  # the first run's lists are taken as they are (not copied)
            self.order_id, self.event_id, self.body = order_ids, event_ids, bodies

    def add_one(self, is_booking: bool, seq: int, event_ms: int, values: tuple[Any, ...]) -> None:
        order_id, event_id, body = values
        words = state.order_words([order_id])
        self._one.append((seq, event_ms, state.order_hashes(words)[0], words[:, 0]))
        self.kinds.append((is_booking, 1))
        self.order_id.append(order_id)
        self.event_id.append(event_id)
        self.body.append(body)

    def numbers(self) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.bool_]]:
        """``(seq, event_ms, is_booking)`` as arrays, aligned with the object columns."""
        self._flush()
        if not self._seq:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty, np.empty(0, dtype=bool)
        flags = np.repeat(
            np.array([k for k, _ in self.kinds], dtype=bool),
            np.array([n for _, n in self.kinds], dtype=np.int64),
        )
        return np.concatenate(self._seq), np.concatenate(self._ms), flags

    def order_hashes(self) -> NDArray[np.int64]:
        """:func:`~bms_local.stream_job.state.order_hashes` of the order ids."""
        self._flush()
        return np.concatenate(self._hash) if self._hash else np.empty(0, dtype=np.int64)

    def order_words(self) -> NDArray[np.uint64]:
        """:func:`~bms_local.stream_job.state.order_words` of the order ids (a column each)."""
        self._flush()
        if not self._words:
            return np.empty((len(state.ORDER_WORDS), 0), dtype=np.uint64)
        return np.concatenate(self._words, axis=1)

    def _flush(self) -> None:
        if self._one:
            seqs, times, hashes, words = zip(*self._one, strict=True)
            self._seq.append(np.array(seqs, dtype=np.int64))
            self._ms.append(np.array(times, dtype=np.int64))
            self._hash.append(np.array(hashes, dtype=np.int64))
            self._words.append(np.stack(words, axis=1))
            self._one = []


Rejected = tuple[int, str, str, object]
"""``(seq, kind, cause, body)`` of an event the query drops."""


class _Kind:
    """One input's events of a batch on their way into :class:`Columns`.

    An event is known by its index among this input's events (``rows[i]`` is its place in the
    batch, ``bodies[i]`` its body), so sub-batches are slices and no index list is built.
    """

    def __init__(
        self,
        kind: str,
        is_booking: bool,
        rows: NDArray[np.int64],
        bodies: list[Any],
        out: Columns,
        rejected: list[Rejected],
    ) -> None:
        self.kind = kind
        self.is_booking = is_booking
        self.rows = rows
        self.bodies = bodies
        self.out = out
        self.rejected = rejected
        self.one: Callable[[bytes], Any] = WELL_FORMED[is_booking]
        self.many: Callable[[bytes], list[Any]] = WELL_FORMED_LISTS[is_booking]
        self.spans: list[tuple[int, int]] = []
        """``[start, stop)`` of each sub-batch decoded whole, in order."""
        self.times: list[str] = []
        """Each decoded sub-batch's times joined together (the time objects are freed at once)."""
        self.order_ids: list[str] = []
        self.event_ids: list[object] = []
        """Fields of the events decoded in sub-batches, read while they are fresh in memory;
        their times are checked in :meth:`take`."""
        self.alone: list[tuple[int, int, tuple[Any, ...]]] = []
        """Events that took the one-by-one path, added after the batch-decoded ones."""

    def take(self) -> None:
        """Every event of this input in the batch."""
        count = len(self.bodies)
        for start in range(0, count, SUB_BATCH):
            self._batch(start, min(start + SUB_BATCH, count))
        self._checked()
        for seq, event_ms, values in self.alone:
            self.out.add_one(self.is_booking, seq, event_ms, values)

    def _checked(self) -> None:
        """Times and order ids of the batch-decoded events; those not in the wire format, or
        with an empty order id, go one by one."""
        order_ids, event_ids = self.order_ids, self.event_ids
        count = len(order_ids)
        if not count:
            return
        ms, valid = joined_wire_times_ms("".join(self.times), count)
        words = state.order_words(order_ids)  # all of this input's ids at once
        keys = state.order_hashes(words)
        valid &= words[0] != 0  # id_size 0: an empty order id, which the exact path rejects
        if count == len(self.bodies):  # (nearly always) every event, in order: nothing to copy
            indexes = None
            rows, bodies = self.rows, self.bodies
        else:
            indexes = np.concatenate([np.arange(start, stop) for start, stop in self.spans])
            rows = self.rows[indexes]
            bodies = [self.bodies[i] for i in indexes.tolist()]
        if not valid.all():
            keep = valid.tolist()
            for i in np.flatnonzero(~valid).tolist():
                self._alone(i if indexes is None else int(indexes[i]))
            order_ids, event_ids, bodies = (
                [v for v, ok in zip(values, keep, strict=True) if ok]
                for values in (order_ids, event_ids, bodies)
            )
            ms, rows, keys, words = ms[valid], rows[valid], keys[valid], words[:, valid]
        if order_ids:
            self.out.add_many(self.is_booking, rows, ms, keys, words, order_ids, event_ids, bodies)

    def _batch(self, start: int, stop: int) -> None:
        """Events ``start`` to ``stop`` decoded together, else halved until alone."""
        if stop - start <= ALONE:
            for i in range(start, stop):
                self._alone(i)
            return
        events = None
        parts = self.bodies[start:stop]
        try:  # one copy: the brackets ride on the first and last bodies
            parts[0] = b"[" + parts[0]
            parts[-1] = parts[-1] + b"]"
            blob = b",".join(parts)
        except TypeError:  # a str or dict body among them
            blob = b""
        if blob and _ascii(blob):
            try:
                events = self.many(blob)
            except msgspec.DecodeError:
                events = None
        if events is None or len(events) != stop - start:
            half = (start + stop) // 2
            self._batch(start, half)
            self._batch(half, stop)
            return
        self.spans.append((start, stop))
        # comprehensions read a Struct's fields faster than map(attrgetter)
        self.times.append("".join([e.time for e in events]))
        self.order_ids += [e.order_id for e in events]
        self.event_ids += [e.event_id for e in events]

    def _alone(self, i: int) -> None:
        """One event: the fast decoder alone, else the exact ``TRY_CAST`` path."""
        body = self.bodies[i]
        seq = int(self.rows[i])
        record: dict[str, Any] | None = None
        event_ms = None
        if type(body) is bytes and body.isascii():
            try:
                event = self.one(body)
            except msgspec.DecodeError:
                pass
            else:
                order_id, event_id = event.order_id, event.event_id
                event_ms = wire_time_ms(event.time) if order_id else None
        if event_ms is None:
            record = decode(body)
            if record is None:
                self.rejected.append((seq, self.kind, f"{self.kind}.{NOT_JSON}", body))
                return
            clean = clean_booking(record) if self.is_booking else clean_payment(record)
            if isinstance(clean, str):
                self.rejected.append((seq, self.kind, clean, body))
                return
            _, order_id, event_id, event_ms = clean
        self.alone.append((seq, event_ms, (order_id, event_id, body if record is None else record)))


def _is_booking(kind_of: Sequence[str], booking: str, payment: str) -> NDArray[np.bool_]:
    """Which arrivals came on the bookings input; ``ValueError`` names a kind that is neither.

    When both names are ASCII and a newline makes each a whole machine word ("booking\\n"),
    the kinds' text, each followed by a newline, is compared a word per arrival: neither name
    holds a newline, so a word that equals one is exactly that kind."""
    size = len(booking) + 1
    names = f"{booking}\n{payment}\n"
    text = b""
    same_size = len(payment) + 1 == size and size in _WORDS
    if same_size and names.isascii() and names.count("\n") == 2:
        with suppress(TypeError, UnicodeEncodeError):  # a kind that is not text, or not ASCII
            text = ("\n".join(kind_of) + "\n").encode("ascii")
    if text and len(text) == size * len(kind_of):
        words = np.frombuffer(text, dtype=_WORDS[size])
        is_booking, is_payment = np.frombuffer(names.encode("ascii"), dtype=_WORDS[size])
        found = words == is_booking
        if (found | (words == is_payment)).all():
            return found
    if kind_of.count(booking) + kind_of.count(payment) != len(kind_of):
        bad = next(kind for kind in kind_of if kind != booking and kind != payment)
        raise ValueError(f"Arrival.kind must be {booking!r} or {payment!r}, got {bad!r}")
    return np.fromiter(kind_of, dtype=object, count=len(kind_of)) == booking  # type: ignore[no-any-return]


def intake(
    kind_of: Sequence[str], bodies: Sequence[object], booking: str, payment: str
) -> tuple[Columns, list[Rejected], int]:
    """Usable events of a batch given as its arrivals' kinds and bodies, the rejected ones in
    arrival order, and how many bookings came in. ``ValueError`` names an unknown kind before
    anything is read.
    """
    is_booking = _is_booking(kind_of, booking, payment)
    bookings = np.flatnonzero(is_booking)
    payments = np.flatnonzero(~is_booking)
    out = Columns()
    rejected: list[Rejected] = []
    held = np.fromiter(bodies, dtype=object, count=len(bodies))
    for name, rows, side in ((booking, bookings, True), (payment, payments, False)):
        if len(rows):
            own = held.tolist() if len(rows) == len(held) else held[rows].tolist()
            _Kind(name, side, rows, own, out, rejected).take()
    rejected.sort(key=lambda r: r[0])
    return out, rejected, len(bookings)
