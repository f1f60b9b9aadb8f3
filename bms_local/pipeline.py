"""The local pipeline's moving parts, shared by ``demo`` (simulated clock) and ``up`` (wall clock).

* :class:`SentEvents` remembers what the functions' Event Hubs outputs carried (per hub, per
  event id) and when, which is how the demo reconciles counts exactly.
* :class:`HubReader` consumes one hub (every partition) with the real SDK into a queue;
  :meth:`HubReader.take` waits until a known number of events has arrived.
* :class:`TickedHub` releases what a reader received one simulated tick at a time, whole and
  in the hub's own order, so a stage of the demo can lag behind the producers without its
  results depending on how fast the SDK delivered.
* :func:`pack_rows` packs joined rows into line-separated JSON events, as ASA's Event Hubs
  output does, grouped by the partition their ``order_id`` routes to.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from bms_core.publishing.partitioning import partition_for

ASA_MAX_ROWS_PER_EVENT = 100
"""Rows per joined-hub event; ASA packs line-separated rows up to the message size limit."""


@dataclass
class SentLog:
    """What one hub received from the producers of this run."""

    events: int = 0
    malformed: int = 0
    copies: Counter[str] = field(default_factory=Counter)
    """event_id -> how many times it was sent (2 for a duplicate delivery)."""

    @property
    def duplicates(self) -> int:
        return sum(n - 1 for n in self.copies.values() if n > 1)


class SentEvents:
    """What the functions' Event Hubs outputs carried, per hub, and when, on the caller's clock.

    An event's arrival time is the time its invocation's output was recorded; a received event
    finds it by hub and body (copies of one body queue up in the order they were recorded).
    Well-formed events are counted by ``event_id``; a body the contract rejects is malformed.
    """

    def __init__(self) -> None:
        self.hubs: dict[str, SentLog] = {}
        self._times: dict[tuple[str, bytes], deque[int]] = {}
        self._lock = threading.Lock()

    def record(
        self, hub: str, bodies: Iterable[bytes], at_ms: int, *, contract: bool = True
    ) -> None:
        """Note ``bodies`` sent to ``hub`` at ``at_ms``; with ``contract``, count them by event id
        (bookings and payments), otherwise only count them (joined rows)."""
        from bms_core.contract import decode_event

        with self._lock:
            log = self.hubs.setdefault(hub, SentLog())
            for body in bodies:
                self._times.setdefault((hub, body), deque()).append(at_ms)
                log.events += 1
                if not contract:
                    continue
                try:
                    event_id = decode_event(body).event_id
                except Exception:
                    log.malformed += 1
                else:
                    log.copies[event_id] += 1

    def arrival_ms(self, hub: str, body: bytes) -> int:
        """When ``body`` was sent to ``hub`` (each recorded copy answers once)."""
        with self._lock:
            times = self._times[(hub, body)]
            when = times.popleft()
            if not times:
                del self._times[(hub, body)]
            return when

    def log(self, hub: str) -> SentLog:
        return self.hubs.setdefault(hub, SentLog())


class Received(NamedTuple):
    partition: int
    event: Any
    """``azure.eventhub.EventData`` as the SDK delivered it."""


class HubReader:
    """All partitions of one hub, read from the start with the SDK in a background thread."""

    def __init__(self, connection_string: str, hub: str, consumer_group: str) -> None:
        from azure.eventhub import EventHubConsumerClient

        self.hub = hub
        self._queue: queue.Queue[Received] = queue.Queue()
        self._client = EventHubConsumerClient.from_connection_string(
            connection_string, consumer_group=consumer_group, eventhub_name=hub
        )
        self._thread = threading.Thread(target=self._run, name=f"reader-{hub}", daemon=True)
        self._error: BaseException | None = None
        self._thread.start()

    def _run(self) -> None:
        def on_batch(context: Any, events: list[Any]) -> None:
            partition = int(context.partition_id)
            for event in events:
                self._queue.put(Received(partition, event))

        try:
            self._client.receive_batch(
                on_event_batch=on_batch, starting_position="-1", max_batch_size=500, prefetch=1000
            )
        except BaseException as exc:  # surfaced by take()
            self._error = exc

    def take(self, count: int, timeout_s: float = 60.0) -> list[Received]:
        """Exactly ``count`` events, waiting up to ``timeout_s`` for them to arrive."""
        out: list[Received] = []
        deadline = time.monotonic() + timeout_s
        while len(out) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._error is not None:
                raise TimeoutError(
                    f"hub '{self.hub}': received {len(out)} of {count} events"
                    + (f" ({self._error!r})" if self._error else "")
                )
            try:
                out.append(self._queue.get(timeout=min(remaining, 0.5)))
            except queue.Empty:
                continue
        return out

    def take_available(self, wait_s: float = 0.2) -> list[Received]:
        """Whatever arrives within ``wait_s`` (for live, uncounted use)."""
        out: list[Received] = []
        deadline = time.monotonic() + wait_s
        while True:
            try:
                out.append(self._queue.get(timeout=max(deadline - time.monotonic(), 0.001)))
            except queue.Empty:
                return out

    def close(self, wait: bool = True) -> None:
        self._client.close()
        if wait:
            self.wait_closed()

    def wait_closed(self, timeout_s: float = 10.0) -> None:
        """Wait for the receive loop to notice the close."""
        self._thread.join(timeout=timeout_s)


def close_readers(readers: Iterable[HubReader]) -> None:
    """Close several readers at once (each close waits for its receive loop to notice)."""
    readers = list(readers)
    for reader in readers:
        reader.close(wait=False)
    for reader in readers:
        reader.wait_closed()


class Placed(NamedTuple):
    """A received event with its body read once, and the simulated tick it was sent at."""

    partition: int
    sequence_number: int
    body: bytes
    received: Received


class TickedHub:
    """A hub's events released tick by tick: a tick once every event sent in it has arrived.

    :meth:`end_tick` notes how many events the hub had been sent when a simulated tick ended
    (from :class:`SentEvents`); :meth:`ready` returns the ticks whose events have all been
    received, each with exactly its own events in (partition, sequence number) order. Which tick
    a received event belongs to is the time its body was recorded at. Events of later ticks that
    arrive early wait.
    """

    def __init__(self, reader: HubReader, sent: SentEvents) -> None:
        self.reader = reader
        self._sent = sent
        self._ticks: deque[tuple[int, int]] = deque()
        self._noted = 0
        self._arrived: dict[int, list[Placed]] = {}
        self._unplaced: list[Placed] = []
        """Events received before their body was recorded (the sender is another process)."""
        self._recorded = -1
        """How many events had been recorded when the unplaced were last looked up."""

    def end_tick(self, tick_ms: int) -> None:
        total = self._sent.log(self.reader.hub).events
        self._ticks.append((tick_ms, total - self._noted))
        self._noted = total

    def ready(self, *, wait: bool = False) -> list[tuple[int, list[Placed]]]:
        """Complete ticks, oldest first; with ``wait``, every tick ended so far."""
        self._keep(self.reader.take_available(0.0))
        out: list[tuple[int, list[Placed]]] = []
        while self._ticks:
            tick_ms, count = self._ticks[0]
            missing = count - len(self._arrived.get(tick_ms, ()))
            if missing > 0:
                if not wait:
                    break
                self._keep(self.reader.take(max(missing - len(self._unplaced), 1)))
                continue
            self._ticks.popleft()
            events = self._arrived.pop(tick_ms, [])
            events.sort(key=lambda placed: (placed.partition, placed.sequence_number))
            out.append((tick_ms, events))
        return out

    def _keep(self, received: list[Received]) -> None:
        placing = [
            Placed(r.partition, r.event.sequence_number, b"".join(r.event.body), r)
            for r in received
        ]
        recorded = self._sent.log(self.reader.hub).events
        if self._unplaced and recorded != self._recorded:
            placing = self._unplaced + placing
            self._unplaced = []
        self._recorded = recorded
        for placed in placing:
            try:
                tick_ms = self._sent.arrival_ms(self.reader.hub, placed.body)
            except KeyError:
                self._unplaced.append(placed)
                continue
            self._arrived.setdefault(tick_ms, []).append(placed)


def function_events(received: Iterable[Received], enqueued_ms: int | None = None) -> list[Any]:
    """SDK events as the Functions host hands them to an Event Hubs trigger.

    ``enqueued_ms`` replaces the emulator's wall-clock enqueued time with the moment the events
    reached the hub on a simulated clock (the demo's).
    """
    from datetime import datetime, timezone

    from azure.functions import EventHubEvent

    simulated = (
        None if enqueued_ms is None else datetime.fromtimestamp(enqueued_ms / 1000, timezone.utc)
    )
    return [
        EventHubEvent(
            body=b"".join(r.event.body),
            enqueued_time=simulated or r.event.enqueued_time,
            sequence_number=r.event.sequence_number,
            offset=str(r.event.offset),
        )
        for r in received
    ]


class PackedRows(NamedTuple):
    """One joined-hub event: line-separated rows that all route to one partition."""

    partition_key: str
    body: bytes
    event_id: str | None
    rows: int


def pack_rows(rows: Iterable[dict[str, Any]], partition_count: int) -> list[PackedRows]:
    """Group rows by the partition their order routes to; pack up to 100 rows per event."""
    import msgspec

    encode = msgspec.json.Encoder().encode
    groups: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(partition_for(row["order_id"], partition_count), []).append(row)
    packed: list[PackedRows] = []
    for group in groups.values():
        for start in range(0, len(group), ASA_MAX_ROWS_PER_EVENT):
            chunk = group[start : start + ASA_MAX_ROWS_PER_EVENT]
            body = b"\n".join([encode(row) for row in chunk])
            packed.append(PackedRows(chunk[0]["order_id"], body, None, len(chunk)))
    return packed
