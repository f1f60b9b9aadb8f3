"""The real azure-eventhub SDK against the emulator: properties, sending, receiving, errors."""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from azure.eventhub import EventData, EventHubConsumerClient, EventHubProducerClient
from azure.eventhub._buffered_producer._partition_resolver import generate_hash_code
from azure.eventhub.exceptions import ConnectError, EventHubError

from bms_core.names import BOOKINGS_HUB, PAYMENTS_HUB
from tests.services_eventhubs import EmulatorHandle, receive_events

pytestmark = pytest.mark.eventhubs


def _producer(emulator: EmulatorHandle, hub: str = BOOKINGS_HUB) -> EventHubProducerClient:
    return EventHubProducerClient.from_connection_string(
        emulator.connection_string, eventhub_name=hub, retry_total=0
    )


def test_hub_and_partition_properties(fresh_eventhubs: EmulatorHandle) -> None:
    with _producer(fresh_eventhubs) as producer:
        hub = producer.get_eventhub_properties()
        empty = producer.get_partition_properties("2")
        producer.send_batch([EventData(b"a"), EventData(b"b")], partition_id="2")
        after = producer.get_partition_properties("2")
    assert hub["eventhub_name"] == BOOKINGS_HUB
    assert hub["partition_ids"] == ["0", "1", "2", "3"]
    assert isinstance(hub["created_at"], dt.datetime)
    assert empty["is_empty"] is True
    assert empty["last_enqueued_sequence_number"] == -1
    assert after["is_empty"] is False
    assert after["beginning_sequence_number"] == 0
    assert after["last_enqueued_sequence_number"] == 1
    assert int(after["last_enqueued_offset"]) > 0
    assert after["last_enqueued_time_utc"].year >= 2024


def test_round_trip_10k_events_keeps_order_and_key_placement(
    fresh_eventhubs: EmulatorHandle,
) -> None:
    rng = random.Random(7)
    keys = [f"order-{rng.randrange(10**9)}" for _ in range(400)]
    sent: dict[str, list[str]] = {}
    with _producer(fresh_eventhubs) as producer:
        for key in keys:
            batch = producer.create_batch(partition_key=key)
            for i in range(25):
                body = f"{key}:{i}"
                batch.add(EventData(body))
                sent.setdefault(key, []).append(body)
            producer.send_batch(batch)
        counts = {
            pid: producer.get_partition_properties(pid)["last_enqueued_sequence_number"] + 1
            for pid in producer.get_partition_ids()
        }
    assert sum(counts.values()) == 10_000
    seen: dict[str, list[str]] = {}
    cs = fresh_eventhubs.connection_string
    with ThreadPoolExecutor(4) as pool:
        received = list(
            pool.map(lambda pid: receive_events(cs, BOOKINGS_HUB, pid, counts[pid]), counts)
        )
    for (pid, count), events in zip(counts.items(), received, strict=True):
        assert len(events) == count
        assert [e.sequence_number for e in events] == list(range(count))
        for event in events:
            key = event.partition_key.decode()
            assert abs(generate_hash_code(key) % 4) == int(pid)
            seen.setdefault(key, []).append(event.body_as_str())
    assert seen == sent


def test_partition_key_routing_matches_sdk_hash_on_many_keys(
    fresh_eventhubs: EmulatorHandle,
) -> None:
    rng = random.Random(11)
    keys = [
        "".join(
            rng.choice("abcdefghijklmnopqrstuvwxyz0123456789-_")
            for _ in range(rng.randrange(1, 40))
        )
        for _ in range(300)
    ]
    with _producer(fresh_eventhubs, PAYMENTS_HUB) as producer:
        for key in keys:
            producer.send_event(EventData(key), partition_key=key)
        counts = {
            pid: producer.get_partition_properties(pid)["last_enqueued_sequence_number"] + 1
            for pid in "0123"
        }
    cs = fresh_eventhubs.connection_string
    with ThreadPoolExecutor(4) as pool:
        received = list(
            pool.map(lambda pid: receive_events(cs, PAYMENTS_HUB, pid, counts[pid]), counts)
        )
    placed = {}
    for pid, events in zip(counts, received, strict=True):
        for event in events:
            placed[event.body_as_str()] = int(pid)
    assert placed == {key: abs(generate_hash_code(key) % 4) for key in keys}


def test_every_start_position_form(fresh_eventhubs: EmulatorHandle) -> None:
    with _producer(fresh_eventhubs) as producer:
        for i in range(10):
            producer.send_event(EventData(f"e{i}"), partition_id="1")
            time.sleep(0.003)
    cs = fresh_eventhubs.connection_string
    everything = receive_events(cs, BOOKINGS_HUB, "1", 10)
    assert [e.body_as_str() for e in everything] == [f"e{i}" for i in range(10)]
    fifth = everything[4]

    cases = {
        "sequence >": (4, False, [f"e{i}" for i in range(5, 10)]),
        "sequence >=": (4, True, [f"e{i}" for i in range(4, 10)]),
        "offset >": (fifth.offset, False, [f"e{i}" for i in range(5, 10)]),
        "offset >=": (fifth.offset, True, [f"e{i}" for i in range(4, 10)]),
        "time >=": (fifth.enqueued_time, True, [f"e{i}" for i in range(4, 10)]),
        "time >": (fifth.enqueued_time, False, [f"e{i}" for i in range(5, 10)]),
        "@latest": ("@latest", False, []),
    }

    def bodies(case: tuple[object, bool, list[str]]) -> list[str]:
        position, inclusive, expected = case
        got = receive_events(
            cs,
            BOOKINGS_HUB,
            "1",
            max(len(expected), 1),
            starting_position=position,
            inclusive=inclusive,
            timeout_s=20 if expected else 2,
        )
        return [e.body_as_str() for e in got]

    with ThreadPoolExecutor(len(cases)) as pool:
        results = dict(zip(cases, pool.map(bodies, cases.values()), strict=True))
    assert results == {name: case[2] for name, case in cases.items()}


def test_received_events_carry_service_annotations(fresh_eventhubs: EmulatorHandle) -> None:
    event = EventData(b'{"x": 1}')
    event.properties = {"kind": "booking"}
    with _producer(fresh_eventhubs) as producer:
        producer.send_event(event, partition_key="k-1")
    pid = str(abs(generate_hash_code("k-1") % 4))
    (got,) = receive_events(fresh_eventhubs.connection_string, BOOKINGS_HUB, pid, 1)
    assert got.body_as_str() == '{"x": 1}'
    assert got.properties == {b"kind": b"booking"}
    assert got.partition_key == b"k-1"
    assert got.sequence_number == 0
    assert got.offset == "0"
    assert abs(got.enqueued_time.timestamp() - time.time()) < 60


def test_consumer_groups_are_independent(fresh_eventhubs: EmulatorHandle) -> None:
    with _producer(fresh_eventhubs) as producer:
        producer.send_batch([EventData(f"e{i}") for i in range(5)], partition_id="0")
    cs = fresh_eventhubs.connection_string
    groups = ("$Default", "asa", "validator")
    with ThreadPoolExecutor(len(groups)) as pool:
        results = pool.map(
            lambda g: receive_events(cs, BOOKINGS_HUB, "0", 5, consumer_group=g), groups
        )
        for events in results:
            assert [e.body_as_str() for e in events] == [f"e{i}" for i in range(5)]


def test_unknown_consumer_group_is_refused(fresh_eventhubs: EmulatorHandle) -> None:
    errors: list[Exception] = []
    client = EventHubConsumerClient.from_connection_string(
        fresh_eventhubs.connection_string,
        consumer_group="nope",
        eventhub_name=BOOKINGS_HUB,
        retry_total=0,
    )
    thread = threading.Thread(
        target=client.receive,
        kwargs={
            "on_event": lambda c, e: None,
            "partition_id": "0",
            "on_error": lambda c, e: errors.append(e),
        },
        daemon=True,
    )
    thread.start()
    deadline = time.monotonic() + 10
    while not errors and time.monotonic() < deadline:
        time.sleep(0.05)
    client.close()
    assert errors and isinstance(errors[0], EventHubError)
    assert "nope" in str(errors[0])


def test_higher_owner_level_takes_over(fresh_eventhubs: EmulatorHandle) -> None:
    cs = fresh_eventhubs.connection_string
    errors: list[Exception] = []
    low = EventHubConsumerClient.from_connection_string(
        cs, consumer_group="$Default", eventhub_name=BOOKINGS_HUB
    )
    thread = threading.Thread(
        target=low.receive,
        kwargs={
            "on_event": lambda c, e: None,
            "partition_id": "0",
            "owner_level": 1,
            "on_error": lambda c, e: errors.append(e),
        },
        daemon=True,
    )
    thread.start()
    time.sleep(1.0)
    with _producer(fresh_eventhubs) as producer:
        producer.send_event(EventData(b"x"), partition_id="0")
    got = receive_events(cs, BOOKINGS_HUB, "0", 1, owner_level=2)
    deadline = time.monotonic() + 10
    while not errors and time.monotonic() < deadline:
        time.sleep(0.05)
    low.close()
    assert len(got) == 1
    assert errors, "the lower owner level was not disconnected"
    assert "epoch" in str(errors[0])


def test_batch_over_one_mib_is_refused_by_the_sdk(fresh_eventhubs: EmulatorHandle) -> None:
    with _producer(fresh_eventhubs) as producer:
        batch = producer.create_batch()
        assert batch.max_size_in_bytes == 1024 * 1024
        with pytest.raises(ValueError, match="size limit"):
            for _ in range(3):
                batch.add(EventData(b"x" * 400_000))
        with pytest.raises(ValueError):
            producer.create_batch(max_size_in_bytes=2 * 1024 * 1024)


def test_full_batches_at_the_limit_are_accepted(fresh_eventhubs: EmulatorHandle) -> None:
    with _producer(fresh_eventhubs) as producer:
        batch = producer.create_batch(partition_id="3")
        added = 0
        try:
            while True:
                batch.add(EventData(b"y" * 500))
                added += 1
        except ValueError:
            pass
        producer.send_batch(batch)
        props = producer.get_partition_properties("3")
    assert props["last_enqueued_sequence_number"] + 1 == added > 1500


def test_unknown_hub_is_refused_with_the_sdk_error(fresh_eventhubs: EmulatorHandle) -> None:
    with _producer(fresh_eventhubs, "no-such-hub") as producer:
        with pytest.raises(ConnectError, match="could not be found"):
            producer.send_event(EventData(b"x"))
        with pytest.raises(ConnectError):
            producer.get_eventhub_properties()
