"""The publisher: schedule, routing, retries and exact accounting (fakes and the real emulator)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from bms_core.emission import Emitted
from bms_core.generator import stream
from bms_core.names import BOOKINGS_HUB, PAYMENTS_HUB
from bms_core.partitioning import partition_for
from bms_core.publisher import HUB_OF_KIND, Publisher, PublishOptions, sdk_producers
from bms_core.scenario import Scenario
from bms_local.eventhubs import start_emulator
from tests.services_eventhubs import EmulatorHandle


class FakeBatch:
    def __init__(self, partition_id: str | None, limit: int) -> None:
        self.partition_id = partition_id
        self.events: list[Any] = []
        self.limit = limit

    def add(self, event: Any) -> None:
        if len(self.events) >= self.limit:
            raise ValueError("EventDataBatch has reached its size limit")
        self.events.append(event)


class FakeProducer:
    """Records batches; ``failures`` lists exceptions the next sends raise, in order."""

    def __init__(
        self, hub: str, failures: list[Exception], sent: list[tuple[str, str | None, Any]]
    ) -> None:
        self.hub = hub
        self.failures = failures
        self.sent = sent
        self.batches: list[FakeBatch] = []

    def get_partition_ids(self) -> list[str]:
        return ["0", "1", "2", "3"]

    def create_batch(self, *, partition_id: str | None = None) -> FakeBatch:
        return FakeBatch(partition_id, limit=7)

    def send_batch(self, event_data_batch: FakeBatch) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.batches.append(event_data_batch)
        for event in event_data_batch.events:
            self.sent.append((self.hub, event_data_batch.partition_id, event))

    def close(self) -> None:
        pass


def _events(orders: int = 30, seed: int = 5) -> list[Emitted]:
    scenario = Scenario(seed=seed, orders_per_minute=3000)
    return list(stream(scenario, 1_700_000_000_000, orders))


def _fake(
    failures: list[Exception] | None = None,
) -> tuple[Any, list[tuple[str, str | None, Any]]]:
    sent: list[tuple[str, str | None, Any]] = []
    pending = failures if failures is not None else []
    return (lambda hub: FakeProducer(hub, pending, sent)), sent


def test_by_default_events_go_keyless_in_due_order_like_the_app_sends_them() -> None:
    events = _events()
    factory, sent = _fake()
    report = Publisher(factory, clock_ms=lambda: 2_000_000_000_000).run(events)
    assert report.generated == len(events) == report.sent == len(sent)
    assert report.unaccounted == 0
    for _hub, partition_id, data in sent:
        assert partition_id is None  # the service places each batch whole on one partition
        assert not (data.raw_amqp_message.annotations or {}).get(b"x-opt-partition-key")
    for hub in (BOOKINGS_HUB, PAYMENTS_HUB):
        order = [d.body_as_str() for h, _, d in sent if h == hub]
        assert order == [e.body.decode() for e in events if HUB_OF_KIND[e.kind] == hub]


def test_keyed_events_go_to_their_key_partition_with_the_key_annotation() -> None:
    events = _events()
    factory, sent = _fake()
    report = Publisher(factory, PublishOptions(keyed=True), clock_ms=lambda: 2_000_000_000_000).run(
        events
    )
    assert report.generated == len(events) == report.sent == len(sent)
    assert report.unaccounted == 0
    for hub, partition_id, data in sent:
        key = data.raw_amqp_message.annotations[b"x-opt-partition-key"]
        assert partition_id is not None and int(partition_id) == partition_for(key, 4)
        assert hub == (
            BOOKINGS_HUB if b'"payment_id"' not in data.body_as_str().encode() else PAYMENTS_HUB
        )
    assert sorted(d.body_as_str() for _, _, d in sent) == sorted(e.body.decode() for e in events)


def test_transient_errors_are_retried_and_permanent_ones_recorded() -> None:
    from azure.eventhub.exceptions import ConnectionLostError, EventDataError

    events = _events(10)
    factory, _sent = _fake([ConnectionLostError("blip"), EventDataError("bad event")])
    publisher = Publisher(
        factory,
        PublishOptions(max_retries=2, backoff_s=0.001, abort_after_failed_batches=99),
        clock_ms=lambda: 2_000_000_000_000,
    )
    report = publisher.run(events)
    assert report.retries == 1
    assert report.failed and all("EventDataError: bad event" in r for _, r in report.failed)
    assert report.generated == report.sent + len(report.failed) == len(events)
    assert report.aborted is None


def test_nothing_is_sent_before_it_is_due_and_stop_is_graceful() -> None:
    events = _events(20)
    now = {"ms": events[5].due_ms}
    factory, sent = _fake()
    stop = threading.Event()
    publisher = Publisher(factory, stop=stop, clock_ms=lambda: now["ms"])
    thread = threading.Thread(target=publisher.run, args=(events,))
    thread.start()
    time.sleep(0.3)
    stop.set()
    thread.join(10)
    report = publisher.report
    due = [e for e in events if e.due_ms <= now["ms"]]
    assert report.generated == report.sent == len(due) == len(sent)


@pytest.mark.eventhubs
def test_emulator_stopping_mid_run_leaves_nothing_unaccounted() -> None:
    server = start_emulator()
    scenario = Scenario(seed=9, orders_per_minute=6000)
    start_ms = time.time_ns() // 1_000_000 - 2000
    publisher = Publisher(
        sdk_producers(server.connection_string),
        PublishOptions(max_retries=1, backoff_s=0.05),
    )
    thread = threading.Thread(target=publisher.run, args=(stream(scenario, start_ms, 100_000),))
    thread.start()
    deadline = time.monotonic() + 30
    while publisher.report.sent < 50 and time.monotonic() < deadline:
        time.sleep(0.05)
    server.stop()
    thread.join(60)
    report = publisher.report
    assert not thread.is_alive()
    assert report.sent >= 50
    assert report.aborted is not None
    assert report.failed and all(reason for _, reason in report.failed)
    assert report.unaccounted == 0
    assert report.generated == report.sent + len(report.failed)
    for hub in (BOOKINGS_HUB, PAYMENTS_HUB):
        stored = sum(len(p.events) for p in server.store.hub(hub).partitions)  # type: ignore[union-attr]
        assert report.per_hub[hub] <= stored


@pytest.mark.eventhubs
def test_publish_command_backfills_and_prints_the_accounting(
    fresh_eventhubs: EmulatorHandle,
) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bms_core",
            "publish",
            "--connection-string",
            fresh_eventhubs.connection_string,
            "--orders",
            "15",
            "--backfill",
            "--seed",
            "21",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=repo,
        env={**os.environ, "PYTHONPATH": str(repo)},
    )
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    generated, sent = int(first.split()[1]), int(first.split()[4])
    assert generated == sent > 15
    assert "failed 0 (unaccounted 0)" in first
    store = fresh_eventhubs.server.store
    per_hub = {
        h: sum(len(p.events) for p in store.hub(h).partitions) for h in (BOOKINGS_HUB, PAYMENTS_HUB)
    }  # type: ignore[union-attr]
    assert (
        f"sent per hub: bookings={per_hub[BOOKINGS_HUB]}, payments={per_hub[PAYMENTS_HUB]}"
        in result.stdout
    )


def test_publish_command_rejects_bad_numbers() -> None:
    import argparse

    from bms_core.cli import publish

    parser = argparse.ArgumentParser()
    publish.add_arguments(parser)
    args = parser.parse_args(["--connection-string", "Endpoint=sb://x/", "--orders", "0"])
    assert publish.run(args) == 2
