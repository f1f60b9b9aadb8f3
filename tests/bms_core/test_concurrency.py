"""The generator from several threads at once, as the Python worker runs invocations."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator

import pytest

from bms_core.traffic import generator, orderplan
from bms_core.traffic.orderid import decode_order_id
from tests.bms_core.invocation import app_settings

ANCHOR = 1_795_000_003_000


@pytest.fixture
def busy_switching() -> Iterator[None]:
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


def test_chunks_planned_in_threads_on_a_cold_process_keep_ids_and_orders_together(
    busy_switching: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each order id must name the order its body holds, whichever thread grew the id table."""
    scenario = app_settings().scenario
    for attempt in range(5):
        monkeypatch.setattr(orderplan, "_INDEX_TEXTS", [])  # a cold worker process
        start = threading.Barrier(4)
        plans: dict[int, list[orderplan.OrderPlan]] = {}

        def plan(
            chunk: int,
            start: threading.Barrier = start,
            plans: dict[int, list[orderplan.OrderPlan]] = plans,
        ) -> None:
            start.wait()
            indexes = range(chunk * 5000, (chunk + 1) * 5000)
            plans[chunk] = generator.burst_chunk_plans(scenario, "bthreads001", ANCHOR, indexes)

        threads = [threading.Thread(target=plan, args=(chunk,)) for chunk in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for chunk_plans in plans.values():
            for p in chunk_plans:
                assert decode_order_id(p.order_id).index == p.slot_index, (attempt, p.order_id)
