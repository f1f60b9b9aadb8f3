"""The local runner's Event Hubs outputs, as the Functions host writes them, against the emulator.

The real ``function_app`` handlers run through :class:`bms_local.host.LocalHost`; their outputs go
through the real ``azure-eventhub`` SDK over AMQP to the emulator, and are read back with the SDK.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from bms_core import names
from bms_core.functions import settings
from bms_core.functions.runtime import Runtime
from bms_local.host import LocalHost, event_bodies
from tests.services_eventhubs import EmulatorHandle, receive_events

NOW = 1_795_000_003_000
SLOT_MS = 10_000


def host_for(emulator: EmulatorHandle, **extra: str) -> LocalHost:
    env = {
        **settings.DEFAULTS,
        names.EVENTHUB_CONNECTION_SETTING: emulator.connection_string,
        "BMS_ORDERS_PER_MINUTE": "300",
        "BMS_SEED": "7",
        **extra,
    }
    return LocalHost(env=env, runtime=Runtime(env, clock=lambda: NOW))


def per_partition(emulator: EmulatorHandle, hub: str) -> list[int]:
    """Events each partition of ``hub`` holds, as the SDK's partition properties say."""
    from azure.eventhub import EventHubProducerClient

    with EventHubProducerClient.from_connection_string(
        emulator.connection_string, eventhub_name=hub
    ) as client:
        counts = []
        for pid in client.get_partition_ids():
            props = client.get_partition_properties(pid)
            empty = props["is_empty"]
            counts.append(0 if empty else props["last_enqueued_sequence_number"] + 1)
        return counts


def test_a_list_and_a_json_array_string_both_become_one_event_per_element() -> None:
    bodies = ['{"n":1}', '{"n":2}', "not json"]
    assert event_bodies(bodies) == [b.encode() for b in bodies]
    assert event_bodies(json.dumps(bodies)) == [b.encode() for b in bodies]
    assert event_bodies('{"n": 1}') == [b'{"n": 1}']  # a JSON object string: one event
    assert event_bodies("plain text") == [b"plain text"]
    assert event_bodies(b"\x00raw") == [b"\x00raw"]
    assert event_bodies([]) == []
    with pytest.raises(ValueError):
        event_bodies("[not json]")  # the host cannot parse it either: the invocation fails


def test_one_invocation_lands_whole_on_one_partition_and_the_next_on_another(
    fresh_eventhubs: EmulatorHandle,
) -> None:
    host = host_for(fresh_eventhubs)
    try:
        before = per_partition(fresh_eventhubs, "bookings")
        assert before == [0, 0, 0, 0]
        landed: list[int] = []
        sent: list[list[bytes]] = []
        for k in range(3):
            invocation = host.timer(
                "emit_bookings", last_ms=NOW - (3 - k) * SLOT_MS, next_ms=NOW + SLOT_MS
            )
            bodies = host.eventhub_events(invocation)["bookings"]
            assert bodies
            after = per_partition(fresh_eventhubs, "bookings")
            grown = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
            assert len(grown) == 1  # the whole invocation on one partition ...
            assert after[grown[0]] - before[grown[0]] == len(bodies)  # ... every event of it
            landed.append(grown[0])
            sent.append(bodies)
            before = after
        assert len(set(landed)) == 3  # consecutive invocations rotate over partitions
        first = receive_events(
            fresh_eventhubs.connection_string, "bookings", str(landed[0]), len(sent[0])
        )
        assert [b"".join(e.body) for e in first] == sent[0]  # type: ignore[attr-defined]
        assert all(e.partition_key is None for e in first)  # type: ignore[attr-defined]
    finally:
        host.close()


def test_a_json_array_string_output_splits_into_events_on_the_hub(
    fresh_eventhubs: EmulatorHandle,
) -> None:
    host = host_for(fresh_eventhubs)
    try:
        binding = {"type": "eventHub", "eventHubName": "%BMS_PAYMENTS_HUB%"}
        binding["connection"] = names.EVENTHUB_CONNECTION_SETTING
        host.send_eventhub(binding, json.dumps(['{"a":1}', '{"b":2}', "three"]))
        counts = per_partition(fresh_eventhubs, "payments")
        assert sorted(counts) == [0, 0, 0, 3]
        got = receive_events(fresh_eventhubs.connection_string, "payments", str(counts.index(3)), 3)
        assert [b"".join(e.body) for e in got] == [b'{"a":1}', b'{"b":2}', b"three"]  # type: ignore[attr-defined]
    finally:
        host.close()


def test_an_output_over_one_batch_goes_in_several_keyless_batches(
    fresh_eventhubs: EmulatorHandle,
) -> None:
    host = host_for(fresh_eventhubs)
    try:
        body = json.dumps({"pad": "x" * 200_000})
        binding = {
            "type": "eventHub",
            "eventHubName": "%BMS_BOOKINGS_HUB%",
            "connection": names.EVENTHUB_CONNECTION_SETTING,
        }
        host.send_eventhub(binding, [body] * 9)  # 1.8 MB: two batches of at most 1 MB
        counts = per_partition(fresh_eventhubs, "bookings")
        assert sum(counts) == 9
        assert sorted(c for c in counts if c) == [4, 5]  # 5 fit in 1 MB; each batch whole
    finally:
        host.close()


def test_an_output_that_cannot_be_written_fails_the_invocation(
    fresh_eventhubs: EmulatorHandle,
) -> None:
    host = host_for(fresh_eventhubs, BMS_BOOKINGS_HUB="no-such-hub")
    try:
        with pytest.raises(Exception, match="no-such-hub"):
            host.timer("emit_bookings", last_ms=NOW - SLOT_MS, next_ms=NOW + SLOT_MS)
    finally:
        host.close()


def test_a_failed_output_fails_only_its_own_invocation(fresh_eventhubs: EmulatorHandle) -> None:
    """A delivery error is reported once, to the invocation whose output it was; it must not
    fail every later invocation of the process (a queue chunk would then reach the poison
    queue for an error long gone)."""
    env = {
        **settings.DEFAULTS,
        names.EVENTHUB_CONNECTION_SETTING: fresh_eventhubs.connection_string,
        "BMS_BOOKINGS_HUB": "no-such-hub",
    }
    # outputs delivered off the invocation path, as up's queue workers run them
    host = LocalHost(env=env, runtime=Runtime(env, clock=lambda: NOW), background_outputs=True)
    try:
        host.timer("emit_bookings", last_ms=NOW - SLOT_MS, next_ms=NOW + SLOT_MS)
        with pytest.raises(Exception, match="no-such-hub"):
            host.flush()
        host.flush()  # reported once: nothing left for the next invocation
    finally:
        host.close()


def test_an_event_larger_than_a_batch_fails_the_output(fresh_eventhubs: EmulatorHandle) -> None:
    host = host_for(fresh_eventhubs)
    binding = {
        "type": "eventHub",
        "eventHubName": "%BMS_BOOKINGS_HUB%",
        "connection": names.EVENTHUB_CONNECTION_SETTING,
    }
    try:
        with pytest.raises(ValueError, match="larger than a batch"):
            host.send_eventhub(binding, ["x" * 1_100_000])
        assert per_partition(fresh_eventhubs, "bookings") == [0, 0, 0, 0]
    finally:
        host.close()


def test_a_burst_writes_its_bookings_and_due_payments_through_both_outputs(
    fresh_eventhubs: EmulatorHandle, azurite: Any
) -> None:
    host = host_for(
        fresh_eventhubs,
        AzureWebJobsStorage=azurite.connection_string,
        BMS_ORDERS_PER_MINUTE="0",
    )
    try:
        invocation = host.http("burst", method="POST", body=b'{"orders": 40}')
        assert invocation.result.status_code == 202
        sent = host.eventhub_events(invocation)
        answer = json.loads(invocation.result.get_body())
        assert len({json.loads(b)["event_id"] for b in sent["bookings"]}) == 40
        assert sum(per_partition(fresh_eventhubs, "bookings")) == len(sent["bookings"])
        assert sum(per_partition(fresh_eventhubs, "payments")) == len(sent.get("payments", []))
        assert answer["bookings_sent"] == 40
    finally:
        host.close()
