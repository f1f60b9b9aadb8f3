"""The emulator against clients that exhaust or hold resources: descriptor exhaustion, half-open
handshakes, oversized handshake frames, and partly sent messages piling up."""

from __future__ import annotations

import contextlib
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from azure.eventhub import EventData, EventHubProducerClient

from bms_core.names import BOOKINGS_HUB
from bms_local.cli.eventhubs import READY_PREFIX
from bms_local.eventhubs import frames as F
from bms_local.eventhubs import start_emulator
from bms_local.eventhubs.codec import Described, UInt, ULong
from bms_local.eventhubs.connection import MAX_FRAME_SIZE, MAX_PARTIAL_BYTES
from tests.services_eventhubs import receive_events

pytestmark = pytest.mark.eventhubs
REPO = Path(__file__).resolve().parents[2]
DESCRIPTOR_LIMIT = 64


def _producer(cs: str) -> EventHubProducerClient:
    return EventHubProducerClient.from_connection_string(
        cs, eventhub_name=BOOKINGS_HUB, retry_total=1
    )


def _closed_by_server(sock: socket.socket, timeout_s: float = 10.0) -> bytes:
    sock.settimeout(timeout_s)
    received = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return received
        received += chunk


def _limit_descriptors() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (DESCRIPTOR_LIMIT, DESCRIPTOR_LIMIT))


@pytest.mark.slow
def test_past_the_descriptor_limit_the_emulator_keeps_serving_its_clients(
    tmp_path: Path,
) -> None:
    log = tmp_path / "eventhubs.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "bms_local", "eventhubs", "--port", "0"],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            preexec_fn=_limit_descriptors,
        )
    flood: list[socket.socket] = []
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith(READY_PREFIX), line
        cs = line[len(READY_PREFIX) :]
        port = int(cs.split("sb://127.0.0.1:")[1].split(";")[0])
        with _producer(cs) as producer:
            producer.send_event(EventData(b"before the flood"), partition_id="0")
            # Idle connections well past the child's descriptor limit (and its listen backlog).
            for _ in range(DESCRIPTOR_LIMIT + 160):
                sock = socket.socket()
                sock.settimeout(0.3)
                try:
                    sock.connect(("127.0.0.1", port))
                except OSError:
                    sock.close()
                    continue
                flood.append(sock)
            time.sleep(1.5)  # several accept pauses
            assert process.poll() is None, log.read_text()
            producer.send_event(EventData(b"during the flood"), partition_id="0")
            for sock in flood:
                sock.close()
            flood.clear()
            got = receive_events(cs, BOOKINGS_HUB, "0", 2, consumer_group="$Default")
        assert [e.body_as_str() for e in got] == ["before the flood", "during the flood"]
        assert process.poll() is None
    finally:
        for sock in flood:
            sock.close()
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=15)
        if process.poll() is None:
            process.kill()
            process.wait()
    text = log.read_text()
    assert text.count("out of file descriptors") == 1, text


def test_a_half_open_handshake_is_closed_after_the_timeout() -> None:
    server = start_emulator(handshake_timeout_s=0.5)
    try:
        with socket.create_connection(("127.0.0.1", server.port)) as half:
            half.sendall(b"AMQP")
            start = time.monotonic()
            assert _closed_by_server(half) == b""
            assert time.monotonic() - start >= 0.4
        with socket.create_connection(("127.0.0.1", server.port)) as sasl_only:
            sasl_only.sendall(F.SASL_HEADER)
            assert _closed_by_server(sasl_only).startswith(F.SASL_HEADER)
        with _producer(server.connection_string) as producer:
            producer.send_event(EventData(b"a"), partition_id="1")
            time.sleep(1.0)  # past the handshake timeout: a finished handshake is never timed out
            producer.send_event(EventData(b"b"), partition_id="1")
            count = producer.get_partition_properties("1")["last_enqueued_sequence_number"] + 1
        assert count == 2
    finally:
        server.stop()


def test_a_handshake_frame_over_the_handshake_limit_closes_the_connection() -> None:
    server = start_emulator()
    try:
        with socket.create_connection(("127.0.0.1", server.port)) as big:
            big.sendall(F.SASL_HEADER + (MAX_FRAME_SIZE).to_bytes(4, "big") + b"\x02\x01\x00\x00")
            assert _closed_by_server(big).startswith(F.SASL_HEADER)
    finally:
        server.stop()


def test_partly_sent_messages_of_a_connection_are_bounded() -> None:
    """Transfers with ``more`` set on many links: the connection is closed once they hold
    MAX_PARTIAL_BYTES, with an AMQP error saying so, instead of buffering without end."""
    server = start_emulator()
    chunk = b"\x00" * (MAX_FRAME_SIZE - 1024)
    frames_needed = MAX_PARTIAL_BYTES // len(chunk) + 1
    links = frames_needed // 2 + 1  # each link holds at most about two frames' worth
    target = Described(ULong(F.TARGET), [f"{BOOKINGS_HUB}/Partitions/0"])
    try:
        with socket.create_connection(("127.0.0.1", server.port)) as peer:
            peer.sendall(F.AMQP_HEADER)
            peer.sendall(F.performative_frame(F.OPEN, ["hostile", None, UInt(MAX_FRAME_SIZE)]))
            peer.sendall(F.performative_frame(F.BEGIN, [None, UInt(0), UInt(10**6), UInt(10**6)]))
            for handle in range(links):
                attach = [f"l{handle}", UInt(handle), False, None, None, None, target]
                peer.sendall(F.performative_frame(F.ATTACH, attach))
            sent = 0
            with contextlib.suppress(OSError):
                for handle in range(links):
                    for delivery in range(2):
                        peer.sendall(
                            F.transfer_frame(0, handle, delivery, b"t", False, True, chunk)
                        )
                        sent += len(chunk)
            try:
                received = _closed_by_server(peer)
            except ConnectionResetError:  # closed while our frames were still arriving
                received = b"reset"
        assert b"partly sent messages" in received or received == b"reset"
        deadline = time.monotonic() + 10
        while server._sockets and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not server._sockets  # the connection and what it held are gone
        assert sent > MAX_PARTIAL_BYTES - 2 * len(chunk)
    finally:
        server.stop()


def test_management_replies_nobody_takes_are_bounded() -> None:
    """Management requests whose reply link never gives credit: the connection is closed once
    MAX_PENDING_REPLIES replies wait, instead of queueing replies without end."""
    from proton import Message, ProtonException
    from proton.utils import BlockingConnection, ConnectionClosed, LinkDetached

    from bms_local.eventhubs.connection import MAX_PENDING_REPLIES

    server = start_emulator()
    conn = BlockingConnection(f"amqp://127.0.0.1:{server.port}", allowed_mechs="ANONYMOUS")
    try:
        conn.create_receiver("$management", name="replies", credit=0)
        sender = conn.create_sender("$management")
        request = Message(
            body=None,
            reply_to="replies",
            properties={
                "operation": "READ",
                "name": BOOKINGS_HUB,
                "type": "com.microsoft:eventhub",
            },
        )
        sent = 0
        with pytest.raises((ConnectionClosed, LinkDetached, ProtonException)):
            for sent in range(MAX_PENDING_REPLIES + 50):
                request.id = sent
                sender.send(request, timeout=10)
        assert MAX_PENDING_REPLIES - 5 <= sent <= MAX_PENDING_REPLIES + 5
    finally:
        with contextlib.suppress(Exception):
            conn.close()
        server.stop()
