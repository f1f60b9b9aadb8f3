"""Burst progress in a real Table storage (Azurite): rows, re-deliveries, concurrent windows."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest

from bms_core import flash
from bms_core.flash.progress import ChunkDone, first_window

pytestmark = pytest.mark.azurite
ANCHOR = 1_795_000_003_000


@pytest.fixture
def progress(azurite: Any) -> flash.TableProgressStore:
    return flash.TableProgressStore(
        azurite.connection_string, table="progress" + uuid.uuid4().hex[:10]
    )


def test_progress_counts_each_window_once_and_failures_by_chunk(
    progress: flash.TableProgressStore,
) -> None:
    spec = flash.BurstSpec("bprogress01", 1, 15_000, 5000, ANCHOR, 0, {})
    progress.start(spec)
    assert progress.read("bnosuchburst") is None
    progress.chunk_done(spec, 0, ChunkDone(5050, 12, 40, 5400, ANCHOR + 600_000))
    base = first_window(spec, 0)
    progress.window_done(spec, 0, base + 3, 100)
    progress.window_done(spec, 0, base + 3, 100)  # the same message delivered again
    progress.window_done(spec, 0, base + 4, 50)
    progress.window_failed(spec, 0, base + 5)
    progress.chunk_failed(spec, [2], "poisoned")
    got = progress.read(spec.burst_id)
    assert got is not None
    status = got.as_json()
    assert status["chunks"] == {"total": 3, "done": 1, "failed": 1, "pending": 1}
    assert status["bookings_sent"] == 5050
    assert status["payments_sent"] == 12 + 100 + 50
    assert status["payment_windows"] == {"scheduled": 40, "done": 2, "failed": 1, "pending": 37}
    assert status["status"] == "running with failures"
    assert status["expected_end_is_exact"] is False


def test_windows_of_one_chunk_finishing_at_once_are_all_counted(
    progress: flash.TableProgressStore,
) -> None:
    spec = flash.BurstSpec("bprogress02", 1, 5000, 5000, ANCHOR, 0, {})
    progress.start(spec)
    base = first_window(spec, 0)
    threads = [
        threading.Thread(target=progress.window_done, args=(spec, 0, base + w, 10))
        for w in range(12)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    got = progress.read(spec.burst_id)
    assert got is not None
    assert got.windows_done == 12 and got.payments_sent == 120
