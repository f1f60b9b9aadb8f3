"""Fanned-out bursts for real: Azurite's queue, worker processes, the emulator, the SDK.

The function app is indexed and run by the local host; work items travel through Azurite's
queue with the host's semantics (:mod:`bms_local.queues`) on two worker processes; bookings
reach the Event Hubs emulator through the output bindings.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from bms_core import flash, names
from bms_core.flash import items
from bms_core.functions import settings as bms_settings
from bms_core.traffic import generator
from bms_local.host import LocalHost
from bms_local.queues import QueueSettings, start_workers

pytestmark = [pytest.mark.slow, pytest.mark.eventhubs, pytest.mark.azurite]

FAST_RETRIES = QueueSettings(
    batch_size=4,
    new_batch_threshold=2,
    max_polling_interval_s=0.5,
    visibility_timeout_s=0,
    max_dequeue_count=3,
    function_timeout_s=120,
)
"""host.json's semantics with retries that take no wall-clock time, for the test's sake."""


@pytest.fixture
def app_env(azurite: Any, fresh_eventhubs: Any) -> Iterator[dict[str, str]]:
    env = {
        **bms_settings.DEFAULTS,
        "AzureWebJobsStorage": azurite.connection_string,
        "EventHubConnection": fresh_eventhubs.connection_string,
        "BMS_BURST_CHUNK_ORDERS": "5000",
        "BMS_SEED": "11",
    }
    yield env
    from azure.storage.queue import QueueClient

    for queue in (names.BURST_QUEUE, names.BURST_POISON_QUEUE):
        QueueClient.from_connection_string(azurite.connection_string, queue).clear_messages()


def _status(host: LocalHost, burst_id: str) -> dict[str, Any]:
    match = host.match_route(f"burst/{burst_id}")
    assert match is not None
    response = host.http(match[0], method="GET", route_params=match[1]).result
    assert response.status_code == 200, response.get_body()
    return dict(json.loads(response.get_body()))


def _wait_for(host: LocalHost, burst_id: str, done: Any, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    status = _status(host, burst_id)
    while not done(status) and time.monotonic() < deadline:
        time.sleep(0.5)
        status = _status(host, burst_id)
    return status


def _receive_all(connection: str, hub: str, expected: int, timeout_s: float = 60) -> list[str]:
    from azure.eventhub import EventHubConsumerClient

    bodies: list[str] = []
    lock = threading.Lock()
    done = threading.Event()

    def on_event_batch(_context: Any, events: list[Any]) -> None:
        with lock:
            bodies.extend(e.body_as_str() for e in events)
            if len(bodies) >= expected:
                done.set()

    client = EventHubConsumerClient.from_connection_string(
        connection, consumer_group="$Default", eventhub_name=hub
    )
    thread = threading.Thread(
        target=client.receive_batch,
        kwargs={
            "on_event_batch": on_event_batch,
            "starting_position": "-1",
            "max_batch_size": 1000,
        },
        daemon=True,
    )
    thread.start()
    done.wait(timeout_s)
    time.sleep(1.0)  # anything beyond the expected count (a duplicate chunk) arrives too
    client.close()
    thread.join(10)
    return bodies


def test_a_20000_order_burst_runs_on_worker_processes_through_azurite_and_the_emulator(
    app_env: dict[str, str],
) -> None:
    host = LocalHost(env=app_env)
    started = time.monotonic()
    response = host.http("burst", method="POST", body=b'{"orders": 20000}').result
    answered_s = time.monotonic() - started
    assert response.status_code == 202, response.get_body()
    answer = json.loads(response.get_body())
    assert answer["chunks"] == 4
    assert answered_s < 5  # generous for a loaded CI machine; the bench measures it
    workers = start_workers(app_env, workers=2, settings=FAST_RETRIES)
    try:
        status = _wait_for(host, answer["burst_id"], lambda s: s["chunks"]["done"] == 4, 120)
    finally:
        workers.stop()
    assert status["chunks"] == {"total": 4, "done": 4, "failed": 0, "pending": 0}
    scenario = bms_settings.Settings.from_env(app_env).scenario
    anchor = timestamp_ms(answer["first_booking"])
    expected = generator.burst_to_send(scenario, answer["burst_id"], 20_000, anchor)
    assert status["bookings_sent"] == len(expected)
    bodies = _receive_all(app_env["EventHubConnection"], "bookings", len(expected))
    assert Counter(bodies) == Counter(e.body.decode() for e in expected)
    orders = {json.loads(b)["order_id"] for b in bodies if b.endswith("}") and '"order_id"' in b}
    assert len(orders) == 20_000


def test_an_always_failing_chunk_reaches_the_poison_queue_and_shows_failed(
    app_env: dict[str, str],
) -> None:
    spec = flash.BurstSpec(
        "bpoison0001", 11, 10_000, 5000, 1_795_000_000_000, 0, {"duplicate_rate": 7}
    )  # an override the scenario refuses: the chunk fails on every delivery
    storage = app_env["AzureWebJobsStorage"]
    progress = flash.TableProgressStore(storage)
    progress.start(spec)
    flash.StorageWorkQueue(storage).put([(items.ChunkItem(spec, 1), 0)])
    host = LocalHost(env=app_env)
    workers = start_workers(app_env, workers=1, settings=FAST_RETRIES)
    try:
        status = _wait_for(host, spec.burst_id, lambda s: s["chunks"]["failed"] == 1, 60)
    finally:
        workers.stop()
    assert status["chunks"] == {"total": 2, "done": 0, "failed": 1, "pending": 1}
    assert status["status"] == "running with failures"


def timestamp_ms(text: str) -> int:
    from bms_core.timefmt import parse_ms

    return parse_ms(text)
