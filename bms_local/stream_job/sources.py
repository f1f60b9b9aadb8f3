"""Where the reference job's arrivals come from: iterables, JSON(L) files, or Event Hubs.

A file event is one event exactly as it would sit on the hub. Two optional fields that Event
Hubs inputs add in ASA are honoured when present (the query never selects them):
``EventEnqueuedUtcTime`` (arrival time; default: the event's own time) and ``PartitionId``
(default: partition 0, as a local input is one partition).
"""

from __future__ import annotations

import heapq
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Final, Protocol

import msgspec

from bms_core.names import ASA_CONSUMER_GROUP, BOOKINGS_HUB, PAYMENTS_HUB
from bms_core.projection import cast_bigint, cast_datetime_ms
from bms_local.stream_job.job import BOOKING, PAYMENT, Arrival, JoinedPair, StreamJob

ENQUEUED_FIELD: Final = "EventEnqueuedUtcTime"
PARTITION_FIELD: Final = "PartitionId"
LIVE_BATCH: Final = 4_096
"""Most arrivals a live source hands the job at once (all that are waiting, up to this)."""


class _EmittedLike(Protocol):
    kind: str
    body: bytes
    due_ms: int


def from_emitted(events: Iterable[_EmittedLike]) -> Iterator[Arrival]:
    """The generator's messages (``bms_core.generator.Emitted``), arriving at their due time."""
    for event in events:
        yield Arrival(event.kind, event.body, event.due_ms)


def from_events(kind: str, events: Iterable[bytes | str | dict[str, Any]]) -> Iterator[Arrival]:
    """Bodies of one kind, each arriving exactly at its event time."""
    for body in events:
        yield Arrival(kind, body)


class _Delivery(msgspec.Struct, gc=False):
    """What a file event says about its delivery: its event time and, optionally, the fields
    an Event Hubs input adds (decoded without reading the rest of the event)."""

    booking_time: Any = None
    payment_time: Any = None
    EventEnqueuedUtcTime: Any = None
    PartitionId: Any = None


_DELIVERY: Final = msgspec.json.Decoder(_Delivery)


def _arrival(kind: str, body: bytes) -> Arrival:
    """The arrival of one file event; its body goes to the job as it is, even if it is not a
    JSON object (the job rejects it)."""
    try:
        delivery = _DELIVERY.decode(body)
    except msgspec.DecodeError:
        return Arrival(kind, body)
    event_ms = cast_datetime_ms(delivery.booking_time if kind == BOOKING else delivery.payment_time)
    enqueued = cast_datetime_ms(delivery.EventEnqueuedUtcTime)
    arrival_ms = event_ms if enqueued is None else enqueued
    return Arrival(kind, body, arrival_ms, cast_bigint(delivery.PartitionId))


def read_events(path: str | Path, kind: str) -> Iterator[Arrival]:
    """Arrivals from a file of events: JSON lines, or one JSON array (ASA's local input files).

    In a JSON-lines file a line that is not JSON still arrives, and the job rejects it.
    """
    if kind not in (BOOKING, PAYMENT):
        raise ValueError(f"kind must be 'booking' or 'payment', got {kind!r}")
    with open(path, "rb") as handle:
        head = handle.read(1)
        while head.isspace():
            head = handle.read(1)
        if head == b"[":
            try:
                events = msgspec.json.decode(head + handle.read(), type=list[msgspec.Raw])
            except msgspec.DecodeError as exc:
                raise ValueError(f"{path}: not a JSON array of events: {exc}") from exc
            for event in events:
                yield _arrival(kind, bytes(event))
            return
        for raw in (head + handle.readline(), *handle):
            line = raw.strip()
            if line:
                yield _arrival(kind, line)


def merge_arrivals(*streams: Iterable[Arrival]) -> Iterator[Arrival]:
    """Interleave inputs by arrival time, each stream in its own order (an event whose arrival
    time is unknown keeps its place after the one before it), stably."""

    def keyed(index: int, stream: Iterable[Arrival]) -> Iterator[tuple[int, int, int, Arrival]]:
        at = 0
        for number, arrival in enumerate(stream):
            if arrival.arrival_ms is not None:
                at = arrival.arrival_ms
            yield at, index, number, arrival

    merged = heapq.merge(*(keyed(i, s) for i, s in enumerate(streams)))
    return (arrival for *_, arrival in merged)


def run_files(job: StreamJob, bookings: str | Path, payments: str | Path) -> Iterator[JoinedPair]:
    """Run ``job`` over two event files (see :func:`read_events`) and flush it at the end."""
    arrivals = merge_arrivals(read_events(bookings, BOOKING), read_events(payments, PAYMENT))
    yield from job.process(arrivals)
    job.flush()


def run_eventhubs(
    job: StreamJob,
    connection_string: str,
    on_pair: Callable[[JoinedPair], None],
    *,
    consumer_group: str = ASA_CONSUMER_GROUP,
    bookings_hub: str = BOOKINGS_HUB,
    payments_hub: str = PAYMENTS_HUB,
    starting_position: str = "-1",
    stop: threading.Event | None = None,
    idle_tick_s: float = 1.0,
) -> None:
    """Consume both hubs with the azure-eventhub SDK until ``stop`` is set.

    Arrival time is the event's enqueued time and the partition its hub partition, so the
    ordering policies behave as in ASA; each batch is handed over in enqueued-time order. When
    nothing has come for ``idle_tick_s``, every partition is idle: the job's arrival clocks
    advance to the newest enqueued time seen, which lets it evict state.
    """
    from azure.eventhub import EventHubConsumerClient  # lazy: heavy, optional locally

    stop = stop or threading.Event()
    inbox: queue.Queue[Arrival] = queue.Queue(maxsize=10_000)
    clients = []

    def receiver(hub: str, kind: str) -> None:
        client = EventHubConsumerClient.from_connection_string(
            connection_string, consumer_group=consumer_group, eventhub_name=hub
        )
        clients.append(client)

        def on_event(context: Any, event: Any) -> None:
            if event is None:
                return
            enqueued = event.enqueued_time
            arrival_ms = None if enqueued is None else int(enqueued.timestamp() * 1000)
            inbox.put(Arrival(kind, b"".join(event.body), arrival_ms, int(context.partition_id)))

        with client:
            client.receive(on_event=on_event, starting_position=starting_position)

    threads = [
        threading.Thread(target=receiver, args=(bookings_hub, BOOKING), daemon=True),
        threading.Thread(target=receiver, args=(payments_hub, PAYMENT), daemon=True),
    ]
    for thread in threads:
        thread.start()
    newest = 0
    try:
        while not stop.is_set():
            try:
                batch = [inbox.get(timeout=idle_tick_s)]
            except queue.Empty:
                if newest:
                    job.advance(newest)
                continue
            while len(batch) < LIVE_BATCH:  # whatever else is already waiting joins in one go
                try:
                    batch.append(inbox.get_nowait())
                except queue.Empty:
                    break
            batch.sort(key=lambda a: a.arrival_ms or 0)
            newest = max(newest, batch[-1].arrival_ms or 0)
            for pair in job.feed_all(batch):
                on_pair(pair)
    finally:
        for client in clients:
            client.close()
