"""Putting work items on the burst queue, each hidden until it is due.

The app writes to the queue with the ``azure-storage-queue`` SDK, not a queue output binding:
an output binding writes messages visible at once, and a burst's chunks and payment windows must
each stay hidden until their time (``visibility_timeout`` on Put Message, up to seven days).
Messages are Base64-encoded, which is what the host's queue trigger expects by default
(``messageEncoding`` ``base64``). Up to :data:`PARALLEL_PUTS` messages are put at once, so a
fan-out step of :data:`~bms_core.flash.items.FANOUT_WIDTH` items costs about one round trip.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from bms_core import names
from bms_core.flash import items as work_items
from bms_core.flash.items import WorkItem
from bms_core.functions.storage import StorageConnection

PARALLEL_PUTS: Final = 16

Scheduled = tuple[WorkItem, int]
"""An item and the whole seconds it stays hidden."""


class WorkQueue(Protocol):
    """Where work items go."""

    def put(self, scheduled: Sequence[Scheduled]) -> None: ...


class StorageWorkQueue:
    """The burst queue in Azure Storage (Azurite locally); the client is made on first use."""

    def __init__(self, connection: str | StorageConnection, queue: str = names.BURST_QUEUE) -> None:
        if isinstance(connection, str):
            connection = StorageConnection(connection_string=connection)
        self._connection = connection
        self._queue = queue
        self._client: Any = None
        self._lock = threading.Lock()

    def _queue_client(self) -> Any:
        with self._lock:
            if self._client is None:
                from azure.core.exceptions import ResourceExistsError
                from azure.storage.queue import TextBase64EncodePolicy

                client = self._connection.queue_client(
                    self._queue, message_encode_policy=TextBase64EncodePolicy()
                )
                with contextlib.suppress(ResourceExistsError):
                    client.create_queue()
                self._client = client
            return self._client

    def put(self, scheduled: Sequence[Scheduled]) -> None:
        """Put every item; the first failure is raised after the others were tried."""
        client = self._queue_client()

        def one(entry: Scheduled) -> None:
            item, delay = entry
            client.send_message(work_items.encode(item), visibility_timeout=delay or None)

        if len(scheduled) <= 1:
            for entry in scheduled:
                one(entry)
            return
        with ThreadPoolExecutor(min(PARALLEL_PUTS, len(scheduled))) as pool:
            for future in [pool.submit(one, entry) for entry in scheduled]:
                future.result()


@dataclass
class MemoryWorkQueue:
    """Records what was put, with the moment each item becomes visible (tests, benchmarks)."""

    now_ms: Any = None
    """A callable giving the current time in ms; items are stamped ``now + delay``."""
    items: list[tuple[int, str]] = field(default_factory=list)

    def put(self, scheduled: Sequence[Scheduled]) -> None:
        now = self.now_ms() if self.now_ms is not None else 0
        for item, delay in scheduled:
            self.items.append((now + delay * 1000, work_items.encode(item)))

    def take_due(self, now_ms: int) -> list[str]:
        """Remove and return the texts visible at ``now_ms``, in visibility order."""
        due = sorted((t for t in self.items if t[0] <= now_ms), key=lambda t: t[0])
        self.items = [t for t in self.items if t[0] > now_ms]
        return [text for _, text in due]
