"""``tail``: printing, validation against the contract and routing, checkpoint resume in Azurite."""

from __future__ import annotations

import io
import uuid

import pytest
from azure.eventhub import EventData, EventHubProducerClient

from bms_core.cli.tail import blob_checkpoint_store, tail
from bms_core.generator import stream
from bms_core.names import BOOKINGS_HUB, JOINED_HUB
from bms_core.partitioning import partition_for
from bms_core.publisher import Publisher, sdk_producers
from bms_core.scenario import Scenario
from bms_local.azurite import Azurite
from tests.services_eventhubs import EmulatorHandle

pytestmark = pytest.mark.eventhubs


def test_validate_counts_valid_invalid_and_duplicates(fresh_eventhubs: EmulatorHandle) -> None:
    cs = fresh_eventhubs.connection_string
    events = [
        e
        for e in stream(Scenario(seed=4, duplicate_rate=0.2), 1_700_000_000_000, 20)
        if e.kind == "booking"
    ]
    report = Publisher(sdk_producers(cs)).run(events)
    assert report.sent == len(events)
    good = events[0]
    wrong_partition = str((partition_for(good.partition_key, 4) + 1) % 4)
    with EventHubProducerClient.from_connection_string(cs, eventhub_name=BOOKINGS_HUB) as producer:
        producer.send_batch([EventData(good.body)], partition_id=wrong_partition)
        producer.send_batch([EventData(b'{"kind": "booking", "order_id": 5}')], partition_id="0")
    out = io.StringIO()
    result = tail(cs, BOOKINGS_HUB, validate=True, from_start=True, idle_timeout_s=1.5, out=out)
    unique = len({e.event_id for e in events})
    assert result.received == len(events) + 2
    assert result.valid == len(events)
    assert sum(result.invalid.values()) == 2
    assert result.duplicates == len(events) - unique + 1
    assert f"is on partition {wrong_partition}" in out.getvalue()
    assert "not a valid booking" in out.getvalue()


def test_print_mode_shows_partition_key_and_body(fresh_eventhubs: EmulatorHandle) -> None:
    cs = fresh_eventhubs.connection_string
    with EventHubProducerClient.from_connection_string(cs, eventhub_name=JOINED_HUB) as producer:
        producer.send_event(EventData(b'{"a": 1}'), partition_key="ord-1")
    out = io.StringIO()
    result = tail(cs, JOINED_HUB, from_start=True, max_events=1, idle_timeout_s=10, out=out)
    assert result.received == 1
    fields = out.getvalue().strip().split("\t")
    assert fields[0] == str(partition_for("ord-1", 4))
    assert fields[3:] == ["ord-1", '{"a": 1}']


@pytest.mark.azurite
@pytest.mark.slow
def test_resumes_from_its_checkpoint_in_azurite(
    fresh_eventhubs: EmulatorHandle, azurite: Azurite
) -> None:
    cs = fresh_eventhubs.connection_string
    sent = [f"event-{i}".encode() for i in range(30)]
    with EventHubProducerClient.from_connection_string(cs, eventhub_name=BOOKINGS_HUB) as producer:
        for i, body in enumerate(sent):
            producer.send_event(EventData(body), partition_id=str(i % 4))
    container = f"checkpoints-{uuid.uuid4().hex[:8]}"

    def run(**options: object) -> list[bytes]:
        store = blob_checkpoint_store(azurite.connection_string, container)
        report = tail(
            cs,
            BOOKINGS_HUB,
            from_start=True,
            checkpoint_store=store,
            keep_bodies=True,
            out=io.StringIO(),
            **options,
        )  # type: ignore[arg-type]
        return report.bodies

    first = run(max_events=18, idle_timeout_s=10)
    second = run(idle_timeout_s=2)
    assert len(first) == 18
    assert sorted(first + second) == sorted(sent)
