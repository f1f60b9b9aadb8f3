"""The reference job consuming real hubs (the bms_local emulator) through the azure-eventhub SDK."""

from __future__ import annotations

import threading
import time

import pytest

from bms_core.contract import encode
from bms_local.stream_job import JoinedPair, StreamJob
from bms_local.stream_job.samples import sample_booking, sample_payment
from bms_local.stream_job.sources import run_eventhubs


def _send(connection_string: str, hub: str, events: list[tuple[str, bytes]]) -> None:
    """Each event to the partition given with it (as a keyless batch lands on one)."""
    from azure.eventhub import EventData, EventHubProducerClient

    producer = EventHubProducerClient.from_connection_string(connection_string, eventhub_name=hub)
    with producer:
        for partition, body in events:
            batch = producer.create_batch(partition_id=partition)
            batch.add(EventData(body))
            producer.send_batch(batch)


@pytest.mark.eventhubs
def test_job_joins_hub_events_across_partitions_by_their_enqueued_times(fresh_eventhubs) -> None:
    conn = fresh_eventhubs.connection_string
    now = int(time.time() * 1000)
    booked = [now - 5_000, now - 4_000, now - 600_000]  # the last one is sent 10 minutes late
    orders = [
        sample_booking(f"t-1-eh-{i}", at, seat_prices=(30000,) * (i + 1))
        for i, at in enumerate(booked)
    ]
    _send(conn, "bookings", [(str(i % 2), encode(b)) for i, b in enumerate(orders)])
    payments = [sample_payment(b, now - 2_000) for b in orders]
    _send(conn, "payments", [("3", encode(p)) for p in payments])

    pairs: list[JoinedPair] = []
    got_all = threading.Event()

    def on_pair(pair: JoinedPair) -> None:
        pairs.append(pair)
        if len(pairs) >= 3:
            got_all.set()

    job = StreamJob()
    stop = threading.Event()
    worker = threading.Thread(
        target=run_eventhubs,
        args=(job, conn, on_pair),
        kwargs={"consumer_group": "$Default", "stop": stop, "idle_tick_s": 0.2},
        daemon=True,
    )
    worker.start()
    try:
        assert got_all.wait(30), f"joined only {len(pairs)} pairs; counts {dict(job.counts)}"
    finally:
        stop.set()
        worker.join(15)
    assert sorted(p.booking["order_id"] for p in pairs) == ["t-1-eh-0", "t-1-eh-1", "t-1-eh-2"]
    for pair in pairs:
        index = int(pair.booking["order_id"].rsplit("-", 1)[1])
        assert (pair.booking_partition, pair.payment_partition) == (index % 2, 3)
        assert len(pair.seat_rows()) == len(pair.booking["event_details"]["seats"])
    # the late booking was judged by its enqueued time: adjusted to arrival - 60 s, still joined
    assert job.counts["adjusted:booking.late"] == 1
    late = next(p for p in pairs if p.booking["order_id"] == "t-1-eh-2")
    assert late.order_row()["payment_delay_ms"] == 598_000
