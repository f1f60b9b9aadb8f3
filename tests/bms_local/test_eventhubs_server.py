"""Emulator robustness: bad bytes, many clients, persistence, retention, server-side limits."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest
from azure.eventhub import EventData, EventHubProducerClient

from bms_core.names import BOOKINGS_HUB, JOINED_HUB
from bms_local.eventhubs import start_emulator
from bms_local.eventhubs.frames import AMQP_HEADER
from tests.services_eventhubs import EmulatorHandle, receive_events

pytestmark = pytest.mark.eventhubs


def _producer(cs: str, hub: str = BOOKINGS_HUB) -> EventHubProducerClient:
    return EventHubProducerClient.from_connection_string(cs, eventhub_name=hub, retry_total=0)


def _closed_by_server(sock: socket.socket, timeout_s: float = 5.0) -> bytes:
    """Everything the server sent until it closed the connection."""
    sock.settimeout(timeout_s)
    received = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return received
        received += chunk


def _count(producer: EventHubProducerClient, partition_id: str) -> int:
    return int(producer.get_partition_properties(partition_id)["last_enqueued_sequence_number"]) + 1


def test_garbage_and_broken_frames_close_only_that_connection(
    fresh_eventhubs: EmulatorHandle,
) -> None:
    with _producer(fresh_eventhubs.connection_string) as producer:
        producer.send_event(EventData(b"before"), partition_id="0")
        with socket.create_connection(("127.0.0.1", fresh_eventhubs.port)) as garbage:
            garbage.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert _closed_by_server(garbage) == AMQP_HEADER
        with socket.create_connection(("127.0.0.1", fresh_eventhubs.port)) as broken:
            broken.sendall(AMQP_HEADER + b"\x00\x00\x00\x10\x02\x00\x00\x00" + b"\xff" * 8)
            assert _closed_by_server(broken).startswith(AMQP_HEADER)
        with socket.create_connection(("127.0.0.1", fresh_eventhubs.port)) as huge:
            huge.sendall(AMQP_HEADER + b"\xff\xff\xff\xff\x02\x00\x00\x00")
            assert _closed_by_server(huge).startswith(AMQP_HEADER)
        producer.send_event(EventData(b"after"), partition_id="0")
        assert _count(producer, "0") == 2


def test_twenty_concurrent_clients(fresh_eventhubs: EmulatorHandle) -> None:
    cs = fresh_eventhubs.connection_string
    errors: list[BaseException] = []

    def client(index: int) -> None:
        try:
            with _producer(cs, JOINED_HUB) as producer:
                batch = producer.create_batch(partition_key=f"client-{index}")
                for i in range(50):
                    batch.add(EventData(f"{index}:{i}"))
                producer.send_batch(batch)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    with _producer(cs, JOINED_HUB) as producer:
        assert sum(_count(producer, pid) for pid in "0123") == 20 * 50


def test_events_survive_a_restart_with_a_data_folder(tmp_path: Path) -> None:
    first = start_emulator(data_dir=tmp_path)
    try:
        with _producer(first.connection_string) as producer:
            producer.send_batch([EventData(f"e{i}") for i in range(3)], partition_id="2")
    finally:
        first.stop()
    second = start_emulator(data_dir=tmp_path)
    try:
        with _producer(second.connection_string) as producer:
            producer.send_event(EventData(b"e3"), partition_id="2")
        events = receive_events(second.connection_string, BOOKINGS_HUB, "2", 4)
    finally:
        second.stop()
    assert [e.body_as_str() for e in events] == ["e0", "e1", "e2", "e3"]
    assert [e.sequence_number for e in events] == [0, 1, 2, 3]
    assert len({e.offset for e in events}) == 4


def test_count_retention_drops_the_oldest_events() -> None:
    from bms_local.eventhubs import project_config
    from bms_local.eventhubs.messages import split_message
    from bms_local.eventhubs.store import Store

    store = Store(project_config(), max_events_per_partition=5)
    partition = store.hub(BOOKINGS_HUB).partitions[1]  # type: ignore[union-attr]
    partition.append([split_message(b"\x00\x53\x75\xa0\x02e" + str(i).encode()) for i in range(8)])
    assert store.enforce_retention() == 3
    assert partition.properties()["begin_sequence_number"] == 3
    assert [e.sequence_number for e in partition.events] == [3, 4, 5, 6, 7]
    assert partition.event_at(2) is None and partition.event_at(3) is partition.events[0]


def test_server_rejects_a_message_over_one_mib(fresh_eventhubs: EmulatorHandle) -> None:
    """The SDK guards the size itself; a client that does not is refused by the emulator."""
    from azure.eventhub._pyamqp import SendClient
    from azure.eventhub._pyamqp.authentication import SASLPlainAuth
    from azure.eventhub._pyamqp.error import MessageSendFailed
    from azure.eventhub._pyamqp.message import Message

    endpoint = f"amqp://127.0.0.1:{fresh_eventhubs.port}"
    client = SendClient(
        "127.0.0.1",
        f"{endpoint}/{BOOKINGS_HUB}",
        use_tls=False,
        custom_endpoint_address=endpoint,
        auth=SASLPlainAuth("user", "password"),
    )
    try:
        client.open()
        with pytest.raises(MessageSendFailed, match="exceeds the limit"):
            client.send_message(Message(data=[b"x" * (1100 * 1024)]))
    finally:
        client.close()


def test_sas_key_is_checked_when_configured() -> None:
    from azure.eventhub.exceptions import AuthenticationError

    server = start_emulator(sas_key="s3cret-for-test")
    try:
        good = server.connection_string
        bad = good.replace("s3cret-for-test", "wrong")
        with _producer(good) as producer:
            assert producer.get_partition_ids() == ["0", "1", "2", "3"]
        with _producer(bad) as producer, pytest.raises(AuthenticationError):
            producer.get_partition_ids()
    finally:
        server.stop()


def test_binding_beyond_loopback_needs_an_explicit_flag() -> None:
    from bms_local.eventhubs import BindRefused, EventHubsServer, project_config

    with pytest.raises(BindRefused, match="allow-remote"):
        EventHubsServer(project_config(), host="0.0.0.0")


def test_time_retention_keeps_numbering_and_offsets() -> None:
    from bms_local.eventhubs.messages import split_message
    from bms_local.eventhubs.store import Partition

    partition = Partition(BOOKINGS_HUB, "0")
    message = split_message(b"\x00\x53\x75\xa0\x03abc")
    first = partition.append([message, message])
    partition.trim(oldest_ms=first[-1].enqueued_ms + 1, max_events=None)
    assert partition.events == [] and partition.first_sequence == 2
    (third,) = partition.append([message])
    assert third.sequence_number == 2 and third.offset == 2 * message.size
    assert partition.properties()["begin_sequence_number"] == 2


def test_sixth_receiver_on_a_partition_and_group_is_refused() -> None:
    from bms_local.eventhubs import project_config
    from bms_local.eventhubs.codec import Described, ULong
    from bms_local.eventhubs.connection import Connection
    from bms_local.eventhubs.endpoints import Link, Session
    from bms_local.eventhubs.entities import Entities
    from bms_local.eventhubs.store import Store

    entities = Entities(Store(project_config()), "127.0.0.1:0")
    server = type("Server", (), {"sas_key": None, "port": 0, "forget": entities.forget})()
    session = Session(Connection(server, "test"), 0)  # type: ignore[arg-type]
    address = f"{BOOKINGS_HUB}/ConsumerGroups/asa/Partitions/2"
    fields: list[object] = [None] * 14
    fields[5] = Described(ULong(0x28), [address])
    outcomes = [entities.attach(Link(session, f"r{i}", i, True, address), fields) for i in range(6)]
    assert outcomes[:5] == [None] * 5
    assert outcomes[5] is not None and outcomes[5][0] == "amqp:resource-limit-exceeded"
    other_group = Link(session, "r6", 6, True, address.replace("asa", "validator"))
    assert entities.attach(other_group, fields) is None


def test_an_independent_amqp_client_interoperates(fresh_eventhubs: EmulatorHandle) -> None:
    """python-qpid-proton (a strict AMQP 1.0 implementation, not the SDK's) sends and receives."""
    from proton import Message
    from proton.utils import BlockingConnection

    conn = BlockingConnection(
        f"amqp://127.0.0.1:{fresh_eventhubs.port}", allowed_mechs="ANONYMOUS", timeout=10
    )
    try:
        sender = conn.create_sender(f"{BOOKINGS_HUB}/Partitions/3")
        for i in range(3):
            sender.send(Message(body=f"m{i}", annotations={"x-opt-partition-key": "k"}))
        receiver = conn.create_receiver(
            f"{BOOKINGS_HUB}/ConsumerGroups/asa/Partitions/3", credit=10
        )
        got = []
        for _ in range(3):
            message = receiver.receive(timeout=10)
            got.append((message.body, message.annotations["x-opt-sequence-number"]))
    finally:
        conn.close()
    assert got == [("m0", 0), ("m1", 1), ("m2", 2)]
