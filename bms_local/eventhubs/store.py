"""Partition logs: sequence numbers, byte offsets, enqueued times, retention and persistence.

Each partition is an append-only log. Sequence numbers start at 0; an event's offset is the byte
position of its stored form in the partition (as on the service, offsets are opaque strings to
clients but grow with the log); enqueued times never go backwards within a partition, so start
positions by time are a binary search.

Retention drops events older than the retention period or beyond the per-partition count limit
from the front of the log; sequence numbers and offsets of the remaining events never change.
With a data folder every partition is also appended to ``<dir>/<hub>/<partition>.log``; on start
the files are read back (events past retention are dropped and the file rewritten), so events
survive a restart and numbering continues where it stopped.
"""

from __future__ import annotations

import bisect
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, NamedTuple

from bms_local.eventhubs.codec import Timestamp
from bms_local.eventhubs.config import EmulatorConfig, HubConfig
from bms_local.eventhubs.messages import MessageParts

_RECORD = struct.Struct(">qqqiIIII")


class StoredEvent(NamedTuple):
    sequence_number: int
    offset: int
    enqueued_ms: int
    parts: MessageParts


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Partition:
    """One partition's log and the bookkeeping start positions need."""

    hub: str
    partition_id: str
    events: list[StoredEvent] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)
    times: list[int] = field(default_factory=list)
    next_sequence: int = 0
    next_offset: int = 0
    last_enqueued_ms: int = 0
    log: BinaryIO | None = None
    listeners: list[Callable[[Partition], None]] = field(default_factory=list)

    @property
    def first_sequence(self) -> int:
        return self.events[0].sequence_number if self.events else self.next_sequence

    def append(self, batch: list[MessageParts]) -> list[StoredEvent]:
        """Store a batch atomically (one enqueued time); tell listeners."""
        now = max(_now_ms(), self.last_enqueued_ms)
        stored = []
        for parts in batch:
            event = StoredEvent(self.next_sequence, self.next_offset, now, parts)
            self._add(event)
            stored.append(event)
            if self.log is not None:
                self.log.write(_encode_record(event))
        if self.log is not None:
            self.log.flush()
        for listener in list(self.listeners):
            listener(self)
        return stored

    def _add(self, event: StoredEvent) -> None:
        self.events.append(event)
        self.offsets.append(event.offset)
        self.times.append(event.enqueued_ms)
        self.next_sequence = event.sequence_number + 1
        self.next_offset = event.offset + event.parts.size
        self.last_enqueued_ms = event.enqueued_ms

    def event_at(self, sequence_number: int) -> StoredEvent | None:
        index = sequence_number - self.first_sequence
        if 0 <= index < len(self.events):
            return self.events[index]
        return None

    def sequence_after_offset(self, offset: int, inclusive: bool) -> int:
        """Sequence number of the first event whose offset is > (or >=) ``offset``."""
        fn = bisect.bisect_left if inclusive else bisect.bisect_right
        return self._sequence_at(fn(self.offsets, offset))

    def sequence_after_time(self, epoch_ms: int, inclusive: bool) -> int:
        fn = bisect.bisect_left if inclusive else bisect.bisect_right
        return self._sequence_at(fn(self.times, epoch_ms))

    def _sequence_at(self, index: int) -> int:
        if index < len(self.events):
            return self.events[index].sequence_number
        return self.next_sequence

    def trim(self, oldest_ms: int | None, max_events: int | None) -> int:
        """Drop events older than ``oldest_ms`` or beyond ``max_events``; returns how many."""
        drop = 0
        if oldest_ms is not None:
            drop = bisect.bisect_left(self.times, oldest_ms)
        if max_events is not None:
            drop = max(drop, len(self.events) - max_events)
        if drop > 0:
            del self.events[:drop], self.offsets[:drop], self.times[:drop]
        return drop

    def properties(self) -> dict[str, object]:
        """What the management READ of a partition reports."""
        last = self.events[-1] if self.events else None
        return {
            "begin_sequence_number": self.first_sequence if self.events else -1,
            "last_enqueued_sequence_number": last.sequence_number if last else -1,
            "last_enqueued_offset": str(last.offset) if last else "-1",
            "last_enqueued_time_utc": Timestamp(last.enqueued_ms if last else 0),
            "is_partition_empty": not self.events,
        }


@dataclass
class Hub:
    config: HubConfig
    partitions: list[Partition]
    created_ms: int
    round_robin: int = 0

    def next_round_robin(self) -> Partition:
        partition = self.partitions[self.round_robin % len(self.partitions)]
        self.round_robin += 1
        return partition

    def has_consumer_group(self, name: str) -> bool:
        return name.lower() in (g.lower() for g in self.config.consumer_groups)


class Store:
    """All hubs of the namespace, with retention and optional persistence."""

    def __init__(
        self,
        config: EmulatorConfig,
        data_dir: Path | None = None,
        retention_hours: float | None = 24.0,
        max_events_per_partition: int | None = None,
    ) -> None:
        self.config = config
        self.data_dir = data_dir
        self.retention_hours = retention_hours
        self.max_events_per_partition = max_events_per_partition
        self.hubs: dict[str, Hub] = {}
        created = _now_ms()
        for hub_config in config.hubs:
            partitions = [
                Partition(hub_config.name, str(i)) for i in range(hub_config.partition_count)
            ]
            self.hubs[hub_config.name.lower()] = Hub(hub_config, partitions, created)
        if data_dir is not None:
            self._load(data_dir)

    def hub(self, name: str) -> Hub | None:
        return self.hubs.get(name.lower())

    def _oldest_ms(self, hub: Hub) -> int | None:
        hours = hub.config.retention_hours or self.retention_hours
        return None if hours is None else _now_ms() - int(hours * 3_600_000)

    def enforce_retention(self) -> int:
        """Apply retention to every partition; returns the number of events dropped."""
        return sum(
            p.trim(self._oldest_ms(hub), self.max_events_per_partition)
            for hub in self.hubs.values()
            for p in hub.partitions
        )

    def _load(self, data_dir: Path) -> None:
        for hub in self.hubs.values():
            folder = data_dir / hub.config.name
            folder.mkdir(parents=True, exist_ok=True)
            for partition in hub.partitions:
                path = folder / f"{partition.partition_id}.log"
                torn = False
                if path.exists():
                    data = path.read_bytes()
                    events, used = _read_records(data)
                    for event in events:
                        partition._add(event)
                    torn = used != len(data)
                dropped = partition.trim(self._oldest_ms(hub), self.max_events_per_partition)
                if dropped or torn:
                    path.write_bytes(b"".join(_encode_record(e) for e in partition.events))
                partition.log = open(path, "ab")  # noqa: SIM115 - kept open for appends

    def close(self) -> None:
        for hub in self.hubs.values():
            for partition in hub.partitions:
                if partition.log is not None:
                    partition.log.close()
                    partition.log = None


def _encode_record(event: StoredEvent) -> bytes:
    parts = event.parts
    key = parts.partition_key.encode("utf-8") if parts.partition_key is not None else b""
    header = _RECORD.pack(
        event.sequence_number,
        event.offset,
        event.enqueued_ms,
        len(key) if parts.partition_key is not None else -1,
        len(parts.head),
        parts.ma_count,
        len(parts.ma_raw),
        len(parts.tail),
    )
    return header + key + parts.head + parts.ma_raw + parts.tail


def _read_records(data: bytes) -> tuple[list[StoredEvent], int]:
    """Records of a log file and the bytes they used; a torn last record (crash mid-write) is
    left out, and the caller rewrites the file without it."""
    events = []
    pos = 0
    while pos + _RECORD.size <= len(data):
        start = pos
        seq, offset, enqueued, key_len, head_len, ma_count, ma_len, tail_len = _RECORD.unpack_from(
            data, pos
        )
        pos += _RECORD.size
        end = pos + max(key_len, 0) + head_len + ma_len + tail_len
        if end > len(data):
            pos = start
            break
        key = None
        if key_len >= 0:
            key = data[pos : pos + key_len].decode("utf-8")
            pos += key_len
        head = data[pos : pos + head_len]
        pos += head_len
        ma_raw = data[pos : pos + ma_len]
        pos += ma_len
        tail = data[pos : pos + tail_len]
        pos = end
        events.append(
            StoredEvent(seq, offset, enqueued, MessageParts(head, ma_count, ma_raw, tail, key))
        )
    return events, pos
