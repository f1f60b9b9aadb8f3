"""``tail``: printing, validation against the contract and routing, checkpoint resume in Azurite."""

from __future__ import annotations

import datetime as dt
import io
import json
import uuid
from types import SimpleNamespace

import pytest
from azure.eventhub import EventData, EventHubProducerClient

from bms_core.cli.tail import TailReport, _handle, blob_checkpoint_store, check_event, tail
from bms_core.generator import stream
from bms_core.names import BOOKINGS_HUB, JOINED_HUB
from bms_core.partitioning import partition_for
from bms_core.scenario import Scenario
from bms_local.azurite import Azurite
from tests.services_eventhubs import EmulatorHandle


@pytest.mark.eventhubs
def test_validate_counts_valid_invalid_and_duplicates(fresh_eventhubs: EmulatorHandle) -> None:
    cs = fresh_eventhubs.connection_string
    events = [
        e
        for e in stream(Scenario(seed=4, duplicate_rate=0.3), 1_700_000_000_000, 6)
        if e.kind == "booking"
    ]
    good = events[0]
    wrong_partition = str((partition_for(good.partition_key, 4) + 1) % 4)
    with EventHubProducerClient.from_connection_string(cs, eventhub_name=BOOKINGS_HUB) as producer:
        for event in events:
            producer.send_batch([EventData(event.body)], partition_key=event.partition_key)
        producer.send_batch([EventData(b'{"kind": "booking", "order_id": 5}')], partition_key="x")
        # keyless, as the output bindings send: any partition is right
        producer.send_batch([EventData(good.body)], partition_id=wrong_partition)
        # keyed by something other than its order id: wrong
        producer.send_batch([EventData(good.body)], partition_key="not-the-order-id")
    out = io.StringIO()
    result = tail(
        cs,
        BOOKINGS_HUB,
        validate=True,
        from_start=True,
        idle_timeout_s=1.0,
        out=out,
        balance_interval_s=0.2,
    )
    unique = len({e.event_id for e in events})
    assert result.received == len(events) + 3
    assert result.valid == len(events) + 1
    assert sum(result.invalid.values()) == 2
    assert result.duplicates == len(events) - unique + 2
    assert "'not-the-order-id' is not the order_id" in out.getvalue()
    assert "not a valid booking" in out.getvalue()


def test_a_keyed_event_must_sit_on_the_partition_its_key_hashes_to() -> None:
    event = next(e for e in stream(Scenario(seed=4), 1_700_000_000_000, 1) if e.kind == "booking")
    right = partition_for(event.partition_key, 4)
    wrong = str((right + 1) % 4)
    key = event.partition_key
    assert check_event(BOOKINGS_HUB, event.body, str(right), 4, key) == (event.event_id, None)
    problem = check_event(BOOKINGS_HUB, event.body, wrong, 4, key)[1]
    assert f"is on partition {wrong}, its key hashes to {right}" in str(problem)
    assert check_event(BOOKINGS_HUB, event.body, wrong, 4, None) == (event.event_id, None)


def test_print_mode_shows_partition_key_and_body() -> None:
    event = SimpleNamespace(
        partition_key=b"ord-1",
        sequence_number=7,
        enqueued_time=dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc),
    )
    out = io.StringIO()
    report = TailReport()
    _handle(report, set(), JOINED_HUB, "2", event, b'{"a": 1}', False, 4, out)
    assert report.received == 1
    assert out.getvalue().strip().split("\t") == [
        "2",
        "7",
        "2026-01-02T00:00:00+00:00",
        "ord-1",
        '{"a": 1}',
    ]


def test_joined_rows_must_have_the_seat_columns_in_order() -> None:
    from bms_core.joined import seat_column_names

    names = seat_column_names()
    good = json.dumps(dict.fromkeys(names, 1)).encode()
    swapped = json.dumps(dict.fromkeys((names[1], names[0], *names[2:]), 1)).encode()
    assert check_event(JOINED_HUB, good, "0", 4) == (None, None)
    assert "SEAT_COLUMNS" in str(check_event(JOINED_HUB, swapped, "0", 4)[1])
    assert "not JSON" in str(check_event(JOINED_HUB, b"{", "0", 4)[1])


@pytest.mark.azurite
@pytest.mark.eventhubs
@pytest.mark.slow
def test_resumes_from_its_checkpoint_in_azurite(
    fresh_eventhubs: EmulatorHandle, azurite: Azurite
) -> None:
    cs = fresh_eventhubs.connection_string
    sent = [f"event-{i}".encode() for i in range(12)]
    with EventHubProducerClient.from_connection_string(cs, eventhub_name=BOOKINGS_HUB) as producer:
        for i, body in enumerate(sent):
            producer.send_event(EventData(body), partition_key=f"key-{i}")
    container = f"checkpoints-{uuid.uuid4().hex[:8]}"

    def run(**options: object) -> list[bytes]:
        store = blob_checkpoint_store(azurite.connection_string, container)
        report = tail(
            cs,
            BOOKINGS_HUB,
            from_start=True,
            checkpoint_store=store,
            keep_bodies=True,
            balance_interval_s=0.2,
            out=io.StringIO(),
            **options,
        )  # type: ignore[arg-type]
        return report.bodies

    first = run(max_events=7, idle_timeout_s=10)
    second = run(idle_timeout_s=1)
    assert len(first) == 7
    assert sorted(first + second) == sorted(sent)


def test_storage_settings_go_together() -> None:
    import argparse

    from bms_core.cli import tail as tail_command

    parser = argparse.ArgumentParser()
    tail_command.add_arguments(parser)
    args = parser.parse_args(
        ["--hub", "bookings", "--connection-string", "x", "--storage-connection-string", "y"]
    )
    assert tail_command.run(args) == 2
    args = parser.parse_args(
        [
            "--hub",
            "bookings",
            "--namespace",
            "ns.servicebus.windows.net",
            "--storage-account-url",
            "https://st.blob.core.windows.net",
        ]
    )
    assert tail_command.run(args) == 2


def test_namespace_and_connection_string_exclude_each_other(capsys) -> None:
    import argparse

    from bms_core.cli import tail as tail_command

    parser = argparse.ArgumentParser()
    tail_command.add_arguments(parser)
    with pytest.raises(SystemExit):
        parser.parse_args(["--hub", "bookings", "--connection-string", "x", "--namespace", "n"])
    assert "--namespace" in capsys.readouterr().err
