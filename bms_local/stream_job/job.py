"""The reference stream job: ``asa/bms_join.asaql`` in Python, a batch of events at a time.

Each batch goes through the query's clean steps column by column (:mod:`.intake`: one decode
call per sub-batch of bodies, times parsed together; odd events take the exact ``TRY_CAST``
path), the ordering policy per input partition (:meth:`Timeline.admit_many`, or event by event
for the Drop policy), then a sort-based join against the events held in state (numpy arrays).
Feeding events one at a time gives the same pairs as feeding them all at once.

Semantics it shares with the query (each one checked by a test):

* event time is ``booking_time`` / ``payment_time`` (``TIMESTAMP BY``), after the ordering
  policy of :mod:`bms_local.stream_job.policy` given each event's arrival (enqueued) time;
* partition-aligned: a booking only meets payments of the same input partition
  (``b.PartitionId = p.PartitionId``), as the producers route both by ``order_id``;
* the window is elapsed time, inclusive: ``0 <= payment - booking <= 900 s``
  (:func:`bms_core.projection.in_window`); every matching pair is emitted, duplicates included
  (ASA does not de-duplicate; the warehouse views do);
* a pair's ``System.Timestamp()`` is the later of the two (adjusted) event times.

Pairs come out in the order the matches become known: by the later event's arrival, then the
earlier one's. Counts (:attr:`StreamJob.counts`, :meth:`StreamJob.summary`): events in per input,
rejected by cause, adjusted or dropped by the ordering policy, duplicates (an event id repeated
for the same order, input and partition within the window of event time), joined pairs, and
events evicted or flushed without ever matching. Memory stays bounded: after each batch a
booking is evicted once the payments' watermark on its partition has passed
``booking + window``, a payment once the bookings' watermark has passed it; no event admitted
later could still match them, so eviction never changes the output. Evicted events that never
matched are counted as unmatched.
"""

from __future__ import annotations

import json
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from bms_core.names import PARTITION_COUNT
from bms_core.partitioning import partition_for
from bms_core.projection import JOIN_WINDOW_MS
from bms_local.stream_job.intake import Columns, intake
from bms_local.stream_job.policy import OrderingPolicy, Timeline
from bms_local.stream_job.records import Arrival, JoinedPair, Reject
from bms_local.stream_job.state import ORDER_WORDS, JoinState, mix_partition, object_column

BOOKING: Final = "booking"
PAYMENT: Final = "payment"
RECENT_REJECTS: Final = 100
PARTITION_CACHE: Final = 32_768
PROCESS_BATCH: Final = 32_768
"""Arrivals :meth:`StreamJob.process` takes from its iterable per batch (it replays files,
where throughput matters and latency does not: per event the job runs about 5% fewer
instructions in batches of 32k than of 16k, 12% fewer than of 4k)."""
_KIND: Final = (PAYMENT, BOOKING)
_PARTITION_TABLE: Final = 1 << 16
"""Partition ids below this are indexed through a table (Event Hubs has at most 1024)."""


_NO_LIMIT: Final = np.iinfo(np.int64).min
_NO_ROWS: Final = np.empty(0, dtype=np.int64)


def _arrival_values(
    values: Sequence[Any], rows: NDArray[np.int64]
) -> tuple[NDArray[Any], NDArray[np.int64]]:
    """One field of every arrival as an array (int64 when all are integers that fit), and which
    of ``rows`` leave it unset (``None``, filled in by the caller; then the array holds objects)."""
    try:  # the sum of Python ints is an int; a float, str or None among them shows
        exact_ints = type(sum(values)) is int
    except TypeError:
        exact_ints = False
    if exact_ints:
        try:
            return np.fromiter(values, dtype=np.int64, count=len(values)), _NO_ROWS
        except OverflowError:  # past int64: named below
            pass
    try:
        whole = np.array(values)  # int64 exactly when every value is an int in range
    except ValueError:  # sequences among them
        pass
    else:
        if whole.dtype == np.int64:
            return whole, _NO_ROWS
    whole = np.fromiter(values, dtype=object, count=len(values))  # each value as it came
    return whole, np.flatnonzero(np.equal(whole[rows], None))


def _int64s(field: str, whole: NDArray[Any], rows: NDArray[np.int64]) -> NDArray[np.int64]:
    """``whole`` (an arrival's value each, as numpy made it) at ``rows`` as int64 (enqueued times,
    partition ids); ``ValueError`` naming ``Arrival.<field>`` for a value that is not such an
    integer."""
    if whole.dtype == np.int64:
        return whole[rows]
    out = whole[rows].tolist()  # a bad value, or None where events were rejected
    for value in out:
        if type(value) is not int or not -(2**63) <= value < 2**63:
            raise ValueError(f"Arrival.{field} must be an integer (int64), got {value!r}")
    return np.array(out, dtype=np.int64)


class StreamJob:
    """Feed it arrivals; it yields every joined pair and keeps counts of everything else."""

    def __init__(
        self,
        policy: OrderingPolicy | None = None,
        *,
        partition_count: int = PARTITION_COUNT,
        window_ms: int = JOIN_WINDOW_MS,
    ) -> None:
        self.policy = policy or OrderingPolicy()
        self.partition_count = partition_count
        self.window_ms = window_ms
        self.counts: Counter[str] = Counter()
        self.rejects: deque[Reject] = deque(maxlen=RECENT_REJECTS)
        self._state = JoinState(window_ms)
        self._partition_index: dict[int, int] = {}
        self._partition_ids: list[int] = []
        self._timelines: list[Timeline] = []
        """Indexed by ``partition index * 2 + is_booking``."""
        self._routes: dict[str, int] = {}
        self._seq = 0

    # --- input -----------------------------------------------------------------------------

    def process(self, arrivals: Iterable[Arrival]) -> Iterator[JoinedPair]:
        """Every joined pair, in the order the matches become known (reads the iterable a
        batch at a time)."""
        source = iter(arrivals)
        while batch := list(islice(source, PROCESS_BATCH)):
            yield from self.feed_all(batch)

    def feed(self, arrival: Arrival) -> list[JoinedPair]:
        """Admit one event; the pairs it completes (usually none or one)."""
        return self.feed_all((arrival,))

    def feed_all(self, arrivals: Iterable[Arrival]) -> list[JoinedPair]:
        """Admit events in arrival order; every pair they complete, in the order the matches
        become known (the same pairs as feeding them one by one)."""
        batch = arrivals if isinstance(arrivals, (list, tuple)) else list(arrivals)
        if not batch:
            return []
        kinds, bodies, arrival_ms, partitions = zip(*batch, strict=True)  # one pass over them
        columns, rejected, bookings = intake(kinds, bodies, BOOKING, PAYMENT)
        # read before anything is counted: a bad enqueued time or partition stops the batch whole
        numbers = columns.numbers()
        enqueued, partition_ids = self._clocks(columns, numbers, arrival_ms, partitions)
        counts = self.counts
        if bookings:
            counts["in:booking"] += bookings
        if len(batch) - bookings:
            counts["in:payment"] += len(batch) - bookings
        for _, kind, cause, body in rejected:
            self._reject(kind, cause, body)
        base = self._seq
        self._seq += len(batch)
        if not len(columns):
            return []
        out = self._join(columns, numbers, base, enqueued, partition_ids)
        if out:
            counts["joined_pairs"] += len(out)
        self._evict()
        return out

    def _clocks(
        self,
        columns: Columns,
        numbers: tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.bool_]],
        arrivals: Sequence[int | None],
        partitions: Sequence[int | None],
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Enqueued time and partition of each usable event (``None``: its own event time, the
        partition its order id routes to); ``ValueError`` naming the field for anything else."""
        seq, times, _ = numbers
        enqueued, unset = _arrival_values(arrivals, seq)
        if len(unset):
            enqueued[seq[unset]] = times[unset]
        partition_ids, unset = _arrival_values(partitions, seq)
        if len(unset):
            order_ids = columns.order_id
            partition_ids[seq[unset]] = [self._route(order_ids[i]) for i in unset.tolist()]
        return _int64s("arrival_ms", enqueued, seq), _int64s("partition", partition_ids, seq)

    def _join(
        self,
        columns: Columns,
        numbers: tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.bool_]],
        base: int,
        enqueued: NDArray[np.int64],
        partition_ids: NDArray[np.int64],
    ) -> list[JoinedPair]:
        """Admit the usable events of a batch and join them; the pairs completed."""
        seq, times, is_booking = numbers
        pidx = self._partition_indexes(partition_ids)
        state = self._state
        new: dict[str, NDArray[Any]] = {
            "pidx": pidx,
            "is_booking": is_booking,
            "t": times,
            "seq": seq + base,
            "key": columns.order_hashes(),
            **dict(zip(ORDER_WORDS, columns.order_words(), strict=True)),
            "event_id": object_column(columns.event_id),
            "body": object_column(columns.body),
        }
        admitted = self._admit(pidx * 2 + is_booking, seq, times, enqueued)
        if admitted is not None:
            new = {column: values[admitted] for column, values in new.items()}
        new["key"] ^= mix_partition(new["pidx"])
        found = state.add(new)
        if found.duplicate_bookings:
            self.counts["duplicate:booking"] += found.duplicate_bookings
        if found.duplicate_payments:
            self.counts["duplicate:payment"] += found.duplicate_payments
        if not len(found.booking):
            return []
        b, p = found.booking, found.payment
        partition_ids = np.array(self._partition_ids, dtype=object)[state.last["pidx"][b]]
        return list(
            map(
                JoinedPair,
                partition_ids.tolist(),
                state.objects("body", b),
                state.objects("body", p),
                found.joined_at_ms.tolist(),
            )
        )

    def _partition_indexes(self, ids: NDArray[np.int64]) -> NDArray[np.int64]:
        """The job's index (numbered as first seen) of each partition id."""
        index = self._partition_index
        small = len(ids) and int(ids.min()) >= 0 and int(ids.max()) < _PARTITION_TABLE
        seen = np.flatnonzero(np.bincount(ids)) if small else np.unique(ids)
        for partition in seen.tolist():
            if partition not in index:
                index[partition] = len(self._partition_ids)
                self._partition_ids.append(partition)
                self._timelines += [Timeline(self.policy), Timeline(self.policy)]
        if len(seen) == 1:
            return np.full(len(ids), index[int(seen[0])], dtype=np.int64)
        lookup = np.array([index[p] for p in seen.tolist()], dtype=np.int64)
        if small:  # partition ids are small integers: one table lookup each
            table = np.zeros(int(seen[-1]) + 1, dtype=np.int64)
            table[seen] = lookup
            return table[ids]
        return lookup[np.searchsorted(seen, ids)]

    def _admit(
        self,
        group: NDArray[np.int64],
        seq: NDArray[np.int64],
        times: NDArray[np.int64],
        arrivals: NDArray[np.int64],
    ) -> NDArray[np.bool_] | None:
        """Apply the ordering policy per partition input (events taken in arrival order), in
        place on ``times``; the admitted events (``None``: all of them, as with Adjust)."""
        # a stable sort of small integers is a radix sort: groups, each in the order given, which
        # is arrival order unless an event that took the one-by-one path follows later ones
        narrow = np.uint16 if len(self._timelines) <= 1 << 16 else np.int64
        order = np.argsort(group.astype(narrow), kind="stable")
        sorted_groups = group[order]
        cuts = np.flatnonzero(sorted_groups[1:] != sorted_groups[:-1]) + 1
        backwards = np.diff(seq[order]) < 0
        backwards[cuts - 1] = False  # where one group ends and the next begins
        if backwards.any():  # sort by arrival first: the groups come out the same
            order = np.argsort(seq)
            order = order[np.argsort(group[order].astype(narrow), kind="stable")]
        starts = [0, *cuts.tolist()]
        ends = [*cuts.tolist(), len(order)]
        counts = self.counts
        admitted = None if self.policy.adjust else np.ones(len(times), dtype=bool)
        for start, end in zip(starts, ends, strict=True):
            rows = order[start:end]
            g = int(sorted_groups[start])
            timeline = self._timelines[g]
            kind = _KIND[g & 1]
            if admitted is None:
                t, late, early, out_of_order = timeline.admit_many(times[rows], arrivals[rows])
                times[rows] = t
                for cause, mask in (
                    ("late", late),
                    ("early", early),
                    ("out_of_order", out_of_order),
                ):
                    n = int(mask.sum())
                    if n:
                        counts[f"adjusted:{kind}.{cause}"] += n
                continue
            for row in rows.tolist():
                t, causes = timeline.admit(int(times[row]), int(arrivals[row]))
                if causes:
                    counts[f"dropped:{kind}.{causes[0]}"] += 1
                    admitted[row] = False
                else:
                    times[row] = t
        return admitted

    def _route(self, order_id: str) -> int:
        cache = self._routes
        partition = cache.get(order_id)
        if partition is None:
            if len(cache) >= PARTITION_CACHE:
                cache.clear()
            partition = cache[order_id] = partition_for(order_id, self.partition_count)
        return partition

    def advance(self, now_ms: int) -> None:
        """Idle inputs' arrival clocks move to ``now_ms`` (live sources call this); evicts."""
        for timeline in self._timelines:
            timeline.advance(now_ms)
        self._evict()

    def flush(self) -> None:
        """End of input: everything still held is counted (unmatched ones) and dropped."""
        bookings, payments = self._state.unmatched()
        if payments:
            self.counts["unmatched:payment"] += payments
        if bookings:
            self.counts["unmatched:booking"] += bookings
        self._state = JoinState(self.window_ms)

    # --- state -----------------------------------------------------------------------------

    @property
    def held_events(self) -> int:
        """Events currently in state (what memory is proportional to)."""
        return len(self._state)

    def summary(self) -> dict[str, dict[str, int]]:
        """Counts grouped as a person reads them: in, rejected, adjusted, unmatched, ..."""
        grouped: dict[str, dict[str, int]] = {}
        for key, value in sorted(self.counts.items()):
            group, _, name = key.partition(":")
            grouped.setdefault(group, {})[name or group] = value
        return grouped

    def _evict(self) -> None:
        """Drop what no later event can match nor repeat: per partition, bookings below the
        payments' watermark minus the window, payments below the bookings' watermark; and on
        both sides only once their own input's watermark is a window past them, so a repeated
        event id within the window is always seen (the duplicate count does not depend on how
        events were batched)."""
        limits = np.full(len(self._timelines), _NO_LIMIT, dtype=np.int64)
        timelines = self._timelines
        window = self.window_ms
        for g in range(0, len(timelines), 2):
            payments_mark = timelines[g].watermark
            bookings_mark = timelines[g + 1].watermark
            if payments_mark is None or bookings_mark is None:
                continue  # a partition input with no clock yet: nothing can be ruled out
            limits[g] = min(bookings_mark, payments_mark - window)
            limits[g + 1] = min(payments_mark, bookings_mark) - window
        bookings, payments = self._state.evict(limits)
        if payments:
            self.counts["unmatched:payment"] += payments
        if bookings:
            self.counts["unmatched:booking"] += bookings

    def _reject(self, kind: str, cause: str, body: object) -> None:
        self.counts["rejected:" + cause] += 1
        if isinstance(body, bytes):
            text = body[:200].decode("utf-8", "replace")
        elif isinstance(body, dict):
            text = json.dumps(body, ensure_ascii=False, default=str)[:200]
        else:
            text = str(body)[:200]
        self.rejects.append(Reject(kind, cause, text))
