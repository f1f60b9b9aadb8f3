"""Keyed sending with the ``azure-eventhub`` SDK, for the local stand-in of ASA's joined output.

ASA's Event Hubs output routes each row by its partition key column (``order_id``); the local
stack imitates it here. Events are grouped by :func:`bms_core.partitioning.partition_for` (the
service's key hashing) and sent in full batches per partition id, so each lands exactly where
the service would put it. The functions do not use this: they write through output bindings.

* :class:`EventHubSink` — the SDK producer, created on first use and cached per (connection,
  hub) until :func:`close_producers`.
* :class:`MemorySink` — records what would be sent (no network).

Connection: the setting named ``EventHubConnection`` in ``env`` (default: the process
environment) holds a connection string, or ``EventHubConnection__fullyQualifiedNamespace`` names
a namespace for ``DefaultAzureCredential``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from bms_core.names import EVENTHUB_CONNECTION_SETTING
from bms_core.partitioning import partition_for


class Sendable(Protocol):
    """What a sink needs of an event: its routing key, its bytes, its id (None if malformed)."""

    @property
    def partition_key(self) -> str: ...
    @property
    def body(self) -> bytes: ...
    @property
    def event_id(self) -> str | None: ...


@dataclass
class SendResult:
    """Exact accounting of one send: every event is either sent or failed with a reason."""

    sent: int = 0
    failed: list[tuple[str | None, str]] = field(default_factory=list)
    per_partition: dict[int, int] = field(default_factory=dict)

    def add(self, other: SendResult) -> None:
        self.sent += other.sent
        self.failed.extend(other.failed)
        for pid, n in other.per_partition.items():
            self.per_partition[pid] = self.per_partition.get(pid, 0) + n


class EventSink(Protocol):
    """Anything events can be sent to."""

    def send(self, hub: str, events: Sequence[Sendable]) -> SendResult: ...


class ConnectionSettingMissing(RuntimeError):
    """Neither form of the Event Hubs connection setting is present."""


def group_by_partition(
    events: Sequence[Sendable], partition_count: int
) -> dict[int, list[Sendable]]:
    """Events grouped by the partition their key hashes to, order kept within each group."""
    groups: dict[int, list[Sendable]] = {}
    for event in events:
        groups.setdefault(partition_for(event.partition_key, partition_count), []).append(event)
    return groups


@dataclass
class MemorySink:
    """Records sends per hub and partition; the default partition count matches the emulator."""

    partition_count: int = 4
    sent: dict[str, list[tuple[int, bytes]]] = field(default_factory=dict)

    def send(self, hub: str, events: Sequence[Sendable]) -> SendResult:
        result = SendResult()
        bucket = self.sent.setdefault(hub, [])
        for pid, group in group_by_partition(events, self.partition_count).items():
            bucket.extend((pid, event.body) for event in group)
            result.per_partition[pid] = len(group)
            result.sent += len(group)
        return result

    def bodies(self, hub: str) -> list[bytes]:
        return [body for _, body in self.sent.get(hub, [])]


_producers: dict[tuple[str, str], Any] = {}
_producers_lock = threading.Lock()


def _producer(connection_setting: str, hub: str, env: Mapping[str, str]) -> Any:
    """A cached ``EventHubProducerClient`` for the hub (created on first use only)."""
    conn = env.get(connection_setting)
    namespace = env.get(f"{connection_setting}__fullyQualifiedNamespace")
    cache_key = (conn or namespace or "", hub)
    with _producers_lock:
        client = _producers.get(cache_key)
        if client is not None:
            return client
        from azure.eventhub import EventHubProducerClient  # lazy: heavy import

        if conn:
            client = EventHubProducerClient.from_connection_string(conn, eventhub_name=hub)
        elif namespace:
            from azure.identity import DefaultAzureCredential

            client = EventHubProducerClient(
                fully_qualified_namespace=namespace,
                eventhub_name=hub,
                credential=DefaultAzureCredential(),
            )
        else:
            raise ConnectionSettingMissing(
                f"app setting '{connection_setting}' (a connection string) or "
                f"'{connection_setting}__fullyQualifiedNamespace' (managed identity) must be set"
            )
        _producers[cache_key] = client
        return client


def close_producers() -> None:
    """Close every cached producer (the local runner calls this on shutdown)."""
    with _producers_lock:
        for client in _producers.values():
            client.close()
        _producers.clear()


@dataclass
class EventHubSink:
    """The real sink: the ``azure-eventhub`` SDK, full batches per partition id."""

    connection_setting: str = EVENTHUB_CONNECTION_SETTING
    env: Mapping[str, str] | None = None
    _partition_ids: dict[str, list[str]] = field(default_factory=dict)

    def send(self, hub: str, events: Sequence[Sendable]) -> SendResult:
        result = SendResult()
        if not events:
            return result
        client = _producer(self.connection_setting, hub, self.env or os.environ)
        if hub not in self._partition_ids:
            self._partition_ids[hub] = list(client.get_partition_ids())
        partition_ids = self._partition_ids[hub]
        for index, group in group_by_partition(events, len(partition_ids)).items():
            result.add(_send_partition(client, partition_ids[index], index, group))
        return result


def _send_partition(
    client: Any, partition_id: str, index: int, group: list[Sendable]
) -> SendResult:
    from azure.eventhub import EventData
    from azure.eventhub.exceptions import EventHubError

    result = SendResult()
    batch = client.create_batch(partition_id=partition_id)
    in_batch: list[Sendable] = []

    def flush() -> None:
        nonlocal batch, in_batch
        if not in_batch:
            return
        try:
            client.send_batch(batch)
            result.sent += len(in_batch)
            result.per_partition[index] = result.per_partition.get(index, 0) + len(in_batch)
        except EventHubError as exc:
            result.failed.extend((e.event_id, f"{type(exc).__name__}: {exc}") for e in in_batch)
        batch = client.create_batch(partition_id=partition_id)
        in_batch = []

    for event in group:
        data = EventData(event.body)
        try:
            batch.add(data)
        except ValueError:
            flush()
            try:
                batch.add(data)
            except ValueError as exc:
                result.failed.append((event.event_id, f"event larger than a batch allows: {exc}"))
                continue
        in_batch.append(event)
    flush()
    return result
