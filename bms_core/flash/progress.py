"""A burst's progress in Table storage: one header row, one row per chunk, one per chunk's
payments, all in the burst's partition (``names.BURST_PROGRESS_TABLE``, PartitionKey = burst id).

* ``burst``: the burst spec (orders, chunks, anchor, spread), written by ``POST /api/burst``;
* ``c<chunk>``: ``state`` ``done`` (bookings handed to the output binding, payments scheduled)
  or ``failed`` (its message reached the poison queue), with the events it sent;
* ``p<chunk>``: the chunk's payment windows done and failed (bitmaps over the window number
  relative to the chunk's first, so a re-delivered window is counted once) and their events.
  Windows of one chunk may finish concurrently, so this row is updated with optimistic
  concurrency (ETag) and retried.

Reading a burst is one partition query: 1 + 2 * chunks rows (401 for a million orders).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from bms_core import names
from bms_core.flash.layout import PAYMENT_WINDOW_MS, BurstSpec
from bms_core.functions.storage import CreatedTable, StorageConnection
from bms_core.traffic.payments import MAX_PAYMENT_DELAY_MS

HEADER: Final = "burst"
ETAG_RETRIES: Final = 20


def chunk_row(chunk: int) -> str:
    return f"c{chunk:07d}"


def payments_row(chunk: int) -> str:
    return f"p{chunk:07d}"


def first_window(spec: BurstSpec, chunk: int) -> int:
    """The earliest payment window of a chunk (its bookings lie up to 1 s before its anchor)."""
    return (spec.chunk_anchor_ms(chunk) - 1000) // PAYMENT_WINDOW_MS


@dataclass(frozen=True)
class ChunkDone:
    """What a chunk invocation sent and scheduled."""

    bookings: int
    payments_now: int
    payment_windows: int
    payments_scheduled: int
    last_payment_ms: int | None


@dataclass
class Progress:
    """A burst's progress as ``GET /api/burst/{burst_id}`` answers it."""

    spec: BurstSpec
    done: set[int] = field(default_factory=set)
    failed: set[int] = field(default_factory=set)
    bookings_sent: int = 0
    payments_sent: int = 0
    payment_windows: int = 0
    windows_done: int = 0
    windows_failed: int = 0
    last_payment_ms: int | None = None

    def as_json(self) -> dict[str, Any]:
        from bms_core.timefmt import format_ms

        spec = self.spec
        chunks = spec.chunks
        settled = self.done | self.failed
        all_booked = len(settled) == chunks
        exact_end = all_booked and not self.failed
        end_ms = (
            self.last_payment_ms
            if exact_end and self.last_payment_ms is not None
            else spec.last_booking_ms + MAX_PAYMENT_DELAY_MS
        )
        windows_pending = self.payment_windows - self.windows_done - self.windows_failed
        if self.failed or self.windows_failed:
            status = "failed" if all_booked and windows_pending <= 0 else "running with failures"
        else:
            status = "done" if all_booked and windows_pending <= 0 else "running"
        return {
            "burst_id": spec.burst_id,
            "orders": spec.orders,
            "over_seconds": spec.over_seconds,
            "chunk_orders": spec.chunk_orders,
            "status": status,
            "chunks": {
                "total": chunks,
                "done": len(self.done - self.failed),
                "failed": len(self.failed),
                "pending": chunks - len(settled),
            },
            "bookings_sent": self.bookings_sent,
            "payments_sent": self.payments_sent,
            "payment_windows": {
                "scheduled": self.payment_windows,
                "done": self.windows_done,
                "failed": self.windows_failed,
                "pending": max(0, windows_pending),
            },
            "first_booking": format_ms(spec.anchor_ms),
            "last_booking": format_ms(spec.last_booking_ms),
            "expected_end": format_ms(end_ms),
            "expected_end_is_exact": exact_end,
        }


class ProgressStore(Protocol):
    def start(self, spec: BurstSpec) -> None: ...
    def chunk_done(self, spec: BurstSpec, chunk: int, done: ChunkDone) -> None: ...
    def chunk_failed(self, spec: BurstSpec, chunks: Iterable[int], reason: str) -> None: ...
    def window_done(self, spec: BurstSpec, chunk: int, window: int, payments: int) -> None: ...
    def window_failed(self, spec: BurstSpec, chunk: int, window: int) -> None: ...
    def read(self, burst_id: str) -> Progress | None: ...


def summarise(rows: Iterable[Mapping[str, Any]]) -> Progress | None:
    """A burst's progress from its partition's rows (any order); ``None`` without a header."""
    header: Progress | None = None
    chunk_rows: list[Mapping[str, Any]] = []
    for row in rows:
        if row["RowKey"] == HEADER:
            header = Progress(BurstSpec.from_json(json.loads(row["spec"])))
        else:
            chunk_rows.append(row)
    if header is None:
        return None
    for row in chunk_rows:
        key = str(row["RowKey"])
        chunk = int(key[1:])
        if key.startswith("c"):
            if row.get("state") == "failed":
                header.failed.add(chunk)
                continue
            header.done.add(chunk)
            header.bookings_sent += _plain(row.get("bookings"))
            header.payments_sent += _plain(row.get("payments_now"))
            header.payment_windows += _plain(row.get("payment_windows"))
            last = row.get("last_payment_ms")
            if last is not None:
                last = _plain(last)
                header.last_payment_ms = max(header.last_payment_ms or last, last)
        else:
            header.payments_sent += _plain(row.get("payments"))
            header.windows_done += bin(int(row.get("done") or "0", 16)).count("1")
            header.windows_failed += bin(int(row.get("failed") or "0", 16)).count("1")
    return header


def _plain(value: Any) -> int:
    return int(getattr(value, "value", value) or 0)


def _int64(value: int) -> Any:
    from azure.data.tables import EdmType, EntityProperty

    return EntityProperty(value, EdmType.INT64)


class TableProgressStore:
    """:class:`ProgressStore` on Azure Table storage (``azure-data-tables``, imported lazily)."""

    def __init__(
        self, connection: str | StorageConnection, table: str = names.BURST_PROGRESS_TABLE
    ) -> None:
        self._table = CreatedTable(connection, table).client

    def start(self, spec: BurstSpec) -> None:
        self._table().upsert_entity(
            {
                "PartitionKey": spec.burst_id,
                "RowKey": HEADER,
                "spec": json.dumps(spec.to_json(), sort_keys=True),
            }
        )

    def chunk_done(self, spec: BurstSpec, chunk: int, done: ChunkDone) -> None:
        from azure.data.tables import UpdateMode

        entity: dict[str, Any] = {
            "PartitionKey": spec.burst_id,
            "RowKey": chunk_row(chunk),
            "state": "done",
            "bookings": done.bookings,
            "payments_now": done.payments_now,
            "payment_windows": done.payment_windows,
            "payments_scheduled": done.payments_scheduled,
        }
        if done.last_payment_ms is not None:
            entity["last_payment_ms"] = _int64(done.last_payment_ms)
        self._table().upsert_entity(entity, mode=UpdateMode.REPLACE)

    def chunk_failed(self, spec: BurstSpec, chunks: Iterable[int], reason: str) -> None:
        from azure.data.tables import UpdateMode

        table = self._table()
        for chunk in chunks:
            table.upsert_entity(
                {
                    "PartitionKey": spec.burst_id,
                    "RowKey": chunk_row(chunk),
                    "state": "failed",
                    "reason": reason[:1000],
                },
                mode=UpdateMode.MERGE,
            )

    def window_done(self, spec: BurstSpec, chunk: int, window: int, payments: int) -> None:
        self._update_windows(spec, chunk, window, "done", payments)

    def window_failed(self, spec: BurstSpec, chunk: int, window: int) -> None:
        self._update_windows(spec, chunk, window, "failed", 0)

    def _update_windows(
        self, spec: BurstSpec, chunk: int, window: int, column: str, payments: int
    ) -> None:
        from azure.core import MatchConditions
        from azure.core.exceptions import (
            ResourceExistsError,
            ResourceModifiedError,
            ResourceNotFoundError,
        )
        from azure.data.tables import UpdateMode

        table = self._table()
        bit = 1 << (window - first_window(spec, chunk))
        for _ in range(ETAG_RETRIES):
            try:
                row = table.get_entity(spec.burst_id, payments_row(chunk))
            except ResourceNotFoundError:
                row = None
            if row is None:
                entity = {
                    "PartitionKey": spec.burst_id,
                    "RowKey": payments_row(chunk),
                    "done": "0",
                    "failed": "0",
                    "payments": 0,
                }
                entity[column] = format(bit, "x")
                entity["payments"] = payments
                try:
                    table.create_entity(entity)
                    return
                except ResourceExistsError:
                    continue
            mask = int(row.get(column) or "0", 16)
            if mask & bit:
                return  # this window was counted already (a re-delivered message)
            update = {
                "PartitionKey": spec.burst_id,
                "RowKey": payments_row(chunk),
                column: format(mask | bit, "x"),
                "payments": _plain(row.get("payments")) + payments,
            }
            try:
                table.update_entity(
                    update,
                    mode=UpdateMode.MERGE,
                    etag=row.metadata["etag"],
                    match_condition=MatchConditions.IfNotModified,
                )
                return
            except (ResourceModifiedError, ResourceNotFoundError):
                continue
        raise RuntimeError(
            f"burst {spec.burst_id} chunk {chunk}: payments progress not updated after "
            f"{ETAG_RETRIES} conflicting writers"
        )

    def read(self, burst_id: str) -> Progress | None:
        rows = self._table().query_entities(
            "PartitionKey eq @burst", parameters={"burst": burst_id}
        )
        return summarise(rows)


class MemoryProgressStore:
    """The same rows in a dict (tests, benchmarks)."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], dict[str, Any]] = {}

    def start(self, spec: BurstSpec) -> None:
        self.rows[(spec.burst_id, HEADER)] = {
            "RowKey": HEADER,
            "spec": json.dumps(spec.to_json(), sort_keys=True),
        }

    def chunk_done(self, spec: BurstSpec, chunk: int, done: ChunkDone) -> None:
        self.rows[(spec.burst_id, chunk_row(chunk))] = {
            "RowKey": chunk_row(chunk),
            "state": "done",
            "bookings": done.bookings,
            "payments_now": done.payments_now,
            "payment_windows": done.payment_windows,
            "payments_scheduled": done.payments_scheduled,
            "last_payment_ms": done.last_payment_ms,
        }

    def chunk_failed(self, spec: BurstSpec, chunks: Iterable[int], reason: str) -> None:
        for chunk in chunks:
            row = self.rows.setdefault((spec.burst_id, chunk_row(chunk)), {})
            row.update(RowKey=chunk_row(chunk), state="failed", reason=reason)

    def window_done(self, spec: BurstSpec, chunk: int, window: int, payments: int) -> None:
        self._update(spec, chunk, window, "done", payments)

    def window_failed(self, spec: BurstSpec, chunk: int, window: int) -> None:
        self._update(spec, chunk, window, "failed", 0)

    def _update(self, spec: BurstSpec, chunk: int, window: int, column: str, n: int) -> None:
        row = self.rows.setdefault(
            (spec.burst_id, payments_row(chunk)),
            {"RowKey": payments_row(chunk), "done": "0", "failed": "0", "payments": 0},
        )
        bit = 1 << (window - first_window(spec, chunk))
        mask = int(row[column], 16)
        if not mask & bit:
            row[column] = format(mask | bit, "x")
            row["payments"] += n

    def read(self, burst_id: str) -> Progress | None:
        return summarise(row for (b, _), row in self.rows.items() if b == burst_id)
