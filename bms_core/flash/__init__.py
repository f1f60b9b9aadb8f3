"""Flash sales: bursts of any size fanned out through a Storage queue.

``POST /api/burst`` answers at once: a burst larger than one chunk (``BMS_BURST_CHUNK_ORDERS``)
or spread over ``over_seconds`` is stored (manifest and progress header) and the top of its
fan-out tree is put on ``names.BURST_QUEUE``. The queue-triggered ``emit_burst_chunk`` then runs
each work item (:mod:`~bms_core.flash.items`) on as many instances as the scale controller
gives it: fan-out steps, chunks (bookings, payments already due, payment windows scheduled) and
payment windows. A message that fails ``maxDequeueCount`` times is moved by the host to the
poison queue, where ``burst_chunk_poisoned`` records it as failed in the burst's progress
(:mod:`~bms_core.flash.progress`), which ``GET /api/burst/{burst_id}`` reads.

The handlers take the queue, the progress store, the scenario and the time as parameters and
default to the running :mod:`bms_core.functions.runtime`'s (clients on ``AzureWebJobsStorage``,
made once per worker process).
"""

from __future__ import annotations

from bms_core.flash.items import BadWorkItem, ChunkItem, FanOutItem, PaymentsItem, WorkItem
from bms_core.flash.layout import PAYMENT_WINDOW_MS, BurstSpec, seconds_until
from bms_core.flash.progress import (
    MemoryProgressStore,
    Progress,
    ProgressStore,
    TableProgressStore,
)
from bms_core.flash.queue import MemoryWorkQueue, StorageWorkQueue, WorkQueue
from bms_core.flash.work import (
    NotDueYet,
    WorkResult,
    enqueue_burst,
    payments_due,
    record_poisoned,
    run_burst_chunk_poisoned,
    run_emit_burst_chunk,
    run_work_item,
    spec_of,
    tick_payment_items,
)

__all__ = [
    "PAYMENT_WINDOW_MS",
    "BadWorkItem",
    "BurstSpec",
    "ChunkItem",
    "FanOutItem",
    "MemoryProgressStore",
    "MemoryWorkQueue",
    "NotDueYet",
    "PaymentsItem",
    "Progress",
    "ProgressStore",
    "StorageWorkQueue",
    "TableProgressStore",
    "WorkItem",
    "WorkQueue",
    "WorkResult",
    "enqueue_burst",
    "payments_due",
    "record_poisoned",
    "run_burst_chunk_poisoned",
    "run_emit_burst_chunk",
    "run_work_item",
    "seconds_until",
    "spec_of",
    "tick_payment_items",
]
