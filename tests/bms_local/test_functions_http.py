"""``up``'s HTTP server on raw sockets: bodies read as the Functions host reads them, every
answer JSON, lying or slow clients answered or closed within the socket timeout, concurrency."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from bms_local.functions_http import FunctionsHttpServer

TIMEOUT_S = 0.5


class Recorder:
    """A dispatch that echoes the body it got; ``/api/slow`` holds one lock like ``up`` does."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, bytes]] = []
        self.lock = threading.Lock()

    def __call__(
        self, route: str, method: str, body: bytes, params: dict[str, str], headers: Any
    ) -> tuple[int, bytes, dict[str, str]] | None:
        self.calls.append((route, method, body))
        if route == "boom":
            raise RuntimeError("a failing function")
        if route == "slow":
            with self.lock:
                time.sleep(0.05)
        if route not in ("echo", "slow", "boom"):
            return None
        return 200, json.dumps({"length": len(body), "body": body.decode("latin-1")}).encode(), {}


@pytest.fixture
def served() -> Iterator[tuple[FunctionsHttpServer, Recorder]]:
    recorder = Recorder()
    server = FunctionsHttpServer(
        ("127.0.0.1", 0), recorder, timeout_s=TIMEOUT_S, max_body_bytes=1000, max_connections=32
    )
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server, recorder
    server.shutdown()
    server.server_close()


def exchange(server: FunctionsHttpServer, raw: bytes, *, shut: bool = False) -> tuple[int, Any]:
    """Send ``raw``, read the answer until the server closes; (status, JSON body)."""
    with socket.create_connection(server.server_address[:2], timeout=10) as sock:
        sock.sendall(raw)
        if shut:
            sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    assert b"content-type: application/json" in head.lower(), head
    return status, json.loads(body)


def test_content_length_and_chunked_bodies_reach_the_function(served: Any) -> None:
    server, _ = served
    plain = b"POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
    assert exchange(server, plain) == (200, {"length": 5, "body": "hello"})
    chunked = (
        b"POST /api/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nhel\r\n2;ext=1\r\nlo\r\n0\r\nX-Trailer: 1\r\n\r\n"
    )
    assert exchange(server, chunked) == (200, {"length": 5, "body": "hello"})
    no_body = b"POST /api/echo HTTP/1.1\r\nHost: x\r\n\r\n"
    assert exchange(server, no_body) == (200, {"length": 0, "body": ""})


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"POST /api/echo HTTP/1.1\r\nContent-Length: 1001\r\n\r\n", 413),
        (b"POST /api/echo HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", 413),
        (b"POST /api/echo HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
        (b"POST /api/echo HTTP/1.1\r\nContent-Length: 1e3\r\n\r\n", 400),
        (b"POST /api/echo HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400),
        (b"POST /api/echo HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
        (b"POST /api/echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
        (b"POST /api/echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3e9\r\n", 413),
        (b"POST /api/echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcdef", 400),
        (b"BREW /api/echo HTTP/1.1\r\n\r\n", 501),
        (b"NONSENSE\r\n\r\n", 400),
        (b"GET /api/echo HTTP/9.9\r\n\r\n", 505),
        (b"GET /api/" + b"x" * 70_000 + b" HTTP/1.1\r\n\r\n", 414),
        (b"GET /api/echo HTTP/1.1\r\n" + b"X-A: b\r\n" * 150 + b"\r\n", 431),
        (b"GET /nowhere HTTP/1.1\r\n\r\n", 404),
        (b"GET /api/nothing HTTP/1.1\r\n\r\n", 404),
        (b"GET /api/boom HTTP/1.1\r\n\r\n", 500),
    ],
)
def test_every_refusal_is_json_with_a_status(served: Any, raw: bytes, status: int) -> None:
    server, recorder = served
    got_status, body = exchange(server, raw, shut=True)
    assert got_status == status
    assert isinstance(body["error"], str) and len(body["error"]) <= 200
    assert all(call[0] != "echo" for call in recorder.calls)


def test_expect_100_continue_over_the_limit_is_refused_before_the_body(served: Any) -> None:
    server, _ = served
    raw = b"POST /api/echo HTTP/1.1\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n"
    assert exchange(server, raw)[0] == 413


def test_a_lying_content_length_is_answered_within_the_timeout_and_never_run(
    served: Any,
) -> None:
    server, recorder = served
    start = time.monotonic()
    silent = b"POST /api/echo HTTP/1.1\r\nContent-Length: 100\r\n\r\nonly this"
    assert exchange(server, silent)[0] == 408
    assert time.monotonic() - start >= TIMEOUT_S * 0.8  # waited for the body, then gave up
    gone = b"POST /api/echo HTTP/1.1\r\nContent-Length: 100\r\n\r\nonly this"
    assert exchange(server, gone, shut=True)[0] == 400
    assert recorder.calls == []
    shorter = b"POST /api/echo HTTP/1.1\r\nContent-Length: 2\r\n\r\nhello"
    assert exchange(server, shorter) == (200, {"length": 2, "body": "he"})


def test_an_idle_connection_is_closed_after_the_timeout(served: Any) -> None:
    server, _ = served
    with socket.create_connection(server.server_address[:2], timeout=10) as sock:
        sock.sendall(b"POST /api/echo HTTP/1.1\r\n")  # headers never finished
        assert sock.recv(100) == b""


def test_twenty_concurrent_requests_are_all_answered(served: Any) -> None:
    server, recorder = served
    raw = b"POST /api/slow HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"
    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda _: exchange(server, raw), range(20)))
    assert [status for status, _ in answers] == [200] * 20
    assert len(recorder.calls) == 20


def test_past_the_connection_limit_clients_get_503_json_at_once() -> None:
    recorder = Recorder()
    server = FunctionsHttpServer(("127.0.0.1", 0), recorder, timeout_s=5, max_connections=2)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    idle = [socket.create_connection(server.server_address[:2], timeout=10) for _ in range(2)]
    try:
        time.sleep(0.2)  # both idle connections hold a slot
        assert exchange(server, b"GET /api/echo HTTP/1.1\r\n\r\n")[0] == 503
    finally:
        for sock in idle:
            sock.close()
        server.shutdown()
        server.server_close()
