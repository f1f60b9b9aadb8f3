"""Publish generated bookings and payments to Event Hubs, with exact accounting.

Schedule. Every event is sent no earlier than its event time (``due_ms``), so event times are
never in the future of the moment they are sent. With the default start (now) that is the
real-time schedule: the publisher sleeps until each event is due. A start in
the past (``--start`` or ``--backfill``) makes all past events due at once, so they go out as
fast as the connection allows, then the run continues in real time.

What ASA does to backfilled event times. The job uses ``TIMESTAMP BY booking_time`` /
``payment_time`` with the event-ordering policy of its inputs: *late arrival tolerance*
(default 5 s, up to 20 days) and *out-of-order tolerance* (default 0 s, up to 10 min), action
*Adjust* (default) or *Drop*. An event that arrives more than the late-arrival tolerance after its
event time is *late*: with Adjust its timestamp becomes ``arrival - tolerance``, with Drop it is
discarded. A backfill of minutes-old events under the default policy therefore either loses
them (Drop) or squeezes them onto the arrival time (Adjust): bookings and payments sent together
get nearly equal adjusted times, so the 900 s join window no longer reflects the real gap (late
payments join, results carry arrival-derived times). For faithful joins, backfill only with a
late-arrival tolerance larger than the backfill's age, or publish in real time. Within each
partition the publisher sends in event-time order, so out-of-order tolerance is not exercised.

Routing. By default events go as the Function App's output bindings send them: keyless
batches, in due order, each of up to the hub's message size, which Event Hubs places whole on
one partition. With ``keyed`` (``--keyed``) each event carries ``x-opt-partition-key =
order_id`` and goes to the partition that key hashes to (the service's lookup3, in
:func:`bms_core.partitioning.partition_for`), in full batches per partition, exactly as the SDK's
own buffered producer does; a booking and its payments then land on the same partition index of
both hubs, for consumers of your own that want that.

Accounting. ``generated`` counts events taken from the generator; each is either ``sent``
(acknowledged by Event Hubs) or ``failed`` with a reason, so ``generated == sent + failed``
always holds, also when the publisher stops early or Event Hubs goes away. A batch whose
acknowledgement was lost may still have been stored; it is counted as failed (at-least-once:
downstream deduplicates by ``event_id``).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from bms_core.emission import Emitted
from bms_core.names import BOOKINGS_HUB, PAYMENTS_HUB
from bms_core.partitioning import partition_for

HUB_OF_KIND = {"booking": BOOKINGS_HUB, "payment": PAYMENTS_HUB}
PARTITION_KEY_ANNOTATION = b"x-opt-partition-key"


class Producer(Protocol):
    """The part of ``azure.eventhub.EventHubProducerClient`` the publisher uses."""

    def get_partition_ids(self) -> list[str]: ...
    def create_batch(self, *, partition_id: str | None = None) -> Any: ...
    def send_batch(self, event_data_batch: Any) -> None: ...
    def close(self) -> None: ...


ProducerFactory = Callable[[str], Producer]


@dataclass
class PublishOptions:
    """Retry and batching knobs, with their defaults."""

    max_retries: int = 5
    backoff_s: float = 0.5
    max_backoff_s: float = 8.0
    abort_after_failed_batches: int = 1
    """Stop the run once this many batches in a row failed after all retries."""
    keyed: bool = False
    """Send with partition key ``order_id`` to its partition instead of keyless batches."""


@dataclass
class PublishReport:
    """Exact accounting of a run, updated live (another thread may read it)."""

    generated: int = 0
    sent: int = 0
    failed: list[tuple[str | None, str]] = field(default_factory=list)
    per_hub: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    aborted: str | None = None

    @property
    def unaccounted(self) -> int:
        return self.generated - self.sent - len(self.failed)

    def failure_reasons(self) -> Counter[str]:
        return Counter(reason for _, reason in self.failed)

    def summary(self) -> str:
        lines = [
            f"generated {self.generated} = sent {self.sent} + failed {len(self.failed)}"
            f" (unaccounted {self.unaccounted})",
            "sent per hub: "
            + (", ".join(f"{h}={n}" for h, n in sorted(self.per_hub.items())) or "none"),
        ]
        for reason, count in self.failure_reasons().most_common():
            lines.append(f"failed {count}: {reason}")
        if self.retries:
            lines.append(f"retried sends: {self.retries}")
        if self.aborted:
            lines.append(f"aborted: {self.aborted}")
        return "\n".join(lines)


def is_transient(exc: BaseException) -> bool:
    """Errors worth retrying: lost or refused connections, timeouts, busy service."""
    from azure.eventhub.exceptions import (
        AuthenticationError,
        ConnectError,
        ConnectionLostError,
        EventDataError,
        EventHubError,
        OperationTimeoutError,
    )

    if isinstance(exc, (AuthenticationError, EventDataError)):
        return False
    if isinstance(exc, (ConnectError, ConnectionLostError, OperationTimeoutError)):
        return True
    return isinstance(exc, (EventHubError, OSError, TimeoutError))


class Publisher:
    """Sends a stream of :class:`Emitted` events; see the module docstring for the contract."""

    def __init__(
        self,
        producers: ProducerFactory,
        options: PublishOptions | None = None,
        *,
        stop: threading.Event | None = None,
        clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        self._factory = producers
        self.options = options or PublishOptions()
        self.stop = stop or threading.Event()
        self._clock_ms = clock_ms
        self._producers: dict[str, Producer] = {}
        self._partition_ids: dict[str, list[str]] = {}
        self._pending: dict[tuple[str, int | None], list[Emitted]] = {}
        self._failed_in_a_row = 0
        self.report = PublishReport()

    def run(self, events: Iterable[Emitted]) -> PublishReport:
        """Publish ``events`` (in due order) until exhausted, stopped or aborted."""
        try:
            for event in self._due(iter(events)):
                self.report.generated += 1
                hub = HUB_OF_KIND.get(event.kind)
                if hub is None:
                    self.report.failed.append(
                        (event.event_id, f"unknown event kind {event.kind!r}")
                    )
                    continue
                try:
                    pid = (
                        partition_for(event.partition_key, len(self._partitions(hub)))
                        if self.options.keyed
                        else None
                    )
                except Exception as exc:
                    self._abort(f"{type(exc).__name__}: {exc}")
                    self.report.failed.append((event.event_id, self._not_sent()))
                    break
                self._pending.setdefault((hub, pid), []).append(event)
        except Exception as exc:
            self._abort(f"{type(exc).__name__}: {exc}")
        finally:
            self._flush()
            for producer in self._producers.values():
                with contextlib.suppress(Exception):  # a broken client must not mask the report
                    producer.close()
        return self.report

    def _due(self, events: Iterator[Emitted]) -> Iterator[Emitted]:
        """Events as they become due; flush the batches before each wait."""
        for event in events:
            while not self.stop.is_set() and not self.report.aborted:
                wait_ms = event.due_ms - self._clock_ms()
                if wait_ms <= 0:
                    break
                self._flush()
                self.stop.wait(min(wait_ms, 500) / 1000)
            if self.stop.is_set() or self.report.aborted:
                return
            yield event

    # ------------------------------------------------------------------ sending
    def _producer(self, hub: str) -> Producer:
        if hub not in self._producers:
            self._producers[hub] = self._factory(hub)
        return self._producers[hub]

    def _partitions(self, hub: str) -> list[str]:
        if hub not in self._partition_ids:
            self._partition_ids[hub] = self._retrying(
                lambda: list(self._producer(hub).get_partition_ids()), f"reading {hub} partitions"
            )
        return self._partition_ids[hub]

    def _abort(self, reason: str) -> None:
        if self.report.aborted is None:
            self.report.aborted = reason.splitlines()[0][:300]

    def _not_sent(self) -> str:
        return f"not sent: publisher aborted ({self.report.aborted})"

    def _flush(self) -> None:
        pending, self._pending = self._pending, {}
        for (hub, pid), group in pending.items():
            if self.report.aborted:
                self.report.failed.extend((e.event_id, self._not_sent()) for e in group)
                continue
            self._send_group(hub, None if pid is None else self._partition_ids[hub][pid], group)

    def _new_batch(self, hub: str, partition_id: str | None) -> Any:
        producer = self._producer(hub)
        if partition_id is None:
            return self._retrying(producer.create_batch, "batch")
        return self._retrying(lambda: producer.create_batch(partition_id=partition_id), "batch")

    def _send_group(self, hub: str, partition_id: str | None, group: list[Emitted]) -> None:
        from azure.eventhub import EventData

        try:
            batch = self._new_batch(hub, partition_id)
        except Exception as exc:
            self._abort(f"{type(exc).__name__}: {exc}")
            self.report.failed.extend((e.event_id, self._not_sent()) for e in group)
            return
        in_batch: list[Emitted] = []
        for index, event in enumerate(group):
            data = EventData(event.body)
            if partition_id is not None:
                message = data.raw_amqp_message
                if message.annotations is None:
                    message.annotations = {}
                message.annotations[PARTITION_KEY_ANNOTATION] = event.partition_key
            try:
                batch.add(data)
            except ValueError:
                self._send_batch(hub, batch, in_batch)
                try:
                    batch, in_batch = self._new_batch(hub, partition_id), []
                except Exception as exc:
                    self._abort(f"{type(exc).__name__}: {exc}")
                    self.report.failed.extend((e.event_id, self._not_sent()) for e in group[index:])
                    return
                try:
                    batch.add(data)
                except ValueError as exc:
                    self.report.failed.append(
                        (event.event_id, f"event larger than a batch allows: {exc}")
                    )
                    continue
            in_batch.append(event)
        self._send_batch(hub, batch, in_batch)

    def _send_batch(self, hub: str, batch: Any, events: list[Emitted]) -> None:
        if not events:
            return
        if self.report.aborted:
            self.report.failed.extend((e.event_id, self._not_sent()) for e in events)
            return
        try:
            self._retrying(lambda: self._producer(hub).send_batch(batch), f"sending to {hub}")
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
            self.report.failed.extend((e.event_id, reason) for e in events)
            self._failed_in_a_row += 1
            if self._failed_in_a_row >= self.options.abort_after_failed_batches:
                self._abort(f"{self._failed_in_a_row} batch(es) failed in a row: {reason}")
            return
        self._failed_in_a_row = 0
        self.report.sent += len(events)
        self.report.per_hub[hub] += len(events)

    def _retrying(self, action: Callable[[], Any], what: str) -> Any:
        delay = self.options.backoff_s
        for attempt in range(self.options.max_retries + 1):
            try:
                return action()
            except Exception as exc:
                if (
                    attempt == self.options.max_retries
                    or not is_transient(exc)
                    or self.stop.is_set()
                ):
                    raise
                self.report.retries += 1
                self.stop.wait(delay)
                delay = min(delay * 2, self.options.max_backoff_s)
        raise AssertionError(f"unreachable: {what}")


def sdk_producers(
    connection_string: str | None = None, namespace: str | None = None
) -> ProducerFactory:
    """Producers from a connection string (SAS, our emulator, Microsoft's emulator) or, with
    ``namespace`` alone, ``DefaultAzureCredential`` (needs the optional azure-identity)."""
    from azure.eventhub import EventHubProducerClient

    def factory(hub: str) -> Producer:
        if connection_string:
            client = EventHubProducerClient.from_connection_string(
                connection_string, eventhub_name=hub, retry_total=0
            )
        elif namespace:
            from azure.identity import DefaultAzureCredential

            client = EventHubProducerClient(
                fully_qualified_namespace=namespace,
                eventhub_name=hub,
                credential=DefaultAzureCredential(),
                retry_total=0,
            )
        else:
            raise ValueError("a connection string or a namespace is required")
        return client

    return factory
