"""The HTTP front of ``up``: the Functions host's routes on 127.0.0.1, robust to any client.

It reads requests as the Functions host does, within limits a laptop can afford:

* a body is ``Content-Length`` bytes or ``Transfer-Encoding: chunked``; no body header means an
  empty body. A body over :data:`MAX_BODY_BYTES` (1 MiB; the host allows 100 MB) is refused with
  413 before it is read, including after ``Expect: 100-continue``; a bad ``Content-Length`` or
  chunk framing gets 400, another transfer coding 501;
* every socket has a timeout (:data:`SOCKET_TIMEOUT_S`): a client that promises more body than it
  sends gets 408 and is closed when the timeout passes, and its request is never run;
* the listen backlog is :data:`LISTEN_BACKLOG`, and at most :data:`MAX_CONNECTIONS` requests are
  handled at once (the rest get 503 at once);
* every answer is JSON, errors included (unknown methods, malformed request lines, oversized
  headers), and each connection is closed after its answer.

The functions themselves are reached through a ``dispatch`` callable, so this module knows
nothing of the local host.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final
from urllib.parse import parse_qsl, urlsplit

MAX_BODY_BYTES: Final = 1024 * 1024
SOCKET_TIMEOUT_S: Final = 30.0
LISTEN_BACKLOG: Final = 128
MAX_CONNECTIONS: Final = 64
_MAX_CHUNK_LINE: Final = 1024
log = logging.getLogger("bms_local.http")

Answer = tuple[int, bytes, Mapping[str, str]]
Dispatch = Callable[[str, str, bytes, dict[str, str], dict[str, str]], Answer | None]
"""``(route, method, body, query params, headers) -> (status, body, headers)``, or ``None``
when no function serves the route."""


class BodyError(Exception):
    """A request body that cannot be read; ``status`` and ``message`` are the answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def json_error(status: int, message: str, **extra: Any) -> bytes:
    return json.dumps({"error": message, "status": status, **extra}, sort_keys=True).encode()


class FunctionsHttpServer(ThreadingHTTPServer):
    """A threading HTTP server with the limits above; :meth:`serve_forever` as usual."""

    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG

    def __init__(
        self,
        address: tuple[str, int],
        dispatch: Dispatch,
        *,
        timeout_s: float = SOCKET_TIMEOUT_S,
        max_body_bytes: int = MAX_BODY_BYTES,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self.dispatch = dispatch
        self.timeout_s = timeout_s
        self.max_body_bytes = max_body_bytes
        self._slots = threading.BoundedSemaphore(max_connections)
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            _refuse_busy(request)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except Exception:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.exception("http: error while serving %s", client_address)


def _refuse_busy(request: socket.socket) -> None:
    body = json_error(503, "too many requests at once; retry shortly")
    head = (
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
    )
    try:
        request.settimeout(1.0)
        request.sendall(head.encode() + body)
    except OSError:
        pass


class _Handler(BaseHTTPRequestHandler):
    server: FunctionsHttpServer
    protocol_version = "HTTP/1.1"
    error_content_type = "application/json"

    def setup(self) -> None:
        self.timeout = self.server.timeout_s
        super().setup()

    # -- answers ------------------------------------------------------------------------------
    def _reply(self, status: int, body: bytes, headers: Mapping[str, str] | None = None) -> None:
        self.close_connection = True
        if getattr(self, "request_version", "HTTP/0.9") == "HTTP/0.9":
            self.request_version = "HTTP/1.1"  # a status line and headers, always
        try:
            self.send_response(status)
            names = {k.lower() for k in (headers or {})}
            for key, value in (headers or {}).items():
                if key.lower() not in ("content-length", "connection", "transfer-encoding"):
                    self.send_header(key, value)
            if "content-type" not in names:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except OSError:
            pass  # the client left; nothing to answer

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Every error :mod:`http.server` itself raises (bad request line, unknown method,
        headers too long or too many) answered as JSON."""
        short = self.responses.get(code, ("error",))[0]
        self._reply(code, json_error(code, (message or short)[:200]))

    def handle_expect_100(self) -> bool:
        try:
            self._declared_length()
        except BodyError as exc:
            self._reply(exc.status, json_error(exc.status, exc.message))
            return False
        return super().handle_expect_100()

    # -- requests -----------------------------------------------------------------------------
    def _serve(self) -> None:
        try:
            body = self._read_body()
        except BodyError as exc:
            self._reply(exc.status, json_error(exc.status, exc.message))
            return
        except TimeoutError:
            self._reply(408, json_error(408, "request body not received in time"))
            return
        except OSError:
            self.close_connection = True
            return
        parts = urlsplit(self.path)
        if not parts.path.startswith("/api/"):
            self._reply(404, json_error(404, "no such route"))
            return
        route = parts.path.removeprefix("/api/").strip("/")
        try:
            answer = self.server.dispatch(
                route, self.command, body, dict(parse_qsl(parts.query)), dict(self.headers.items())
            )
        except Exception as exc:  # the host answers 500 when a function fails
            log.exception("http: function for %s failed", route)
            self._reply(500, json_error(500, f"function failed: {type(exc).__name__}"))
            return
        if answer is None:
            self._reply(404, json_error(404, "no such route"))
            return
        status, payload, headers = answer
        self._reply(status, payload, headers)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

    def _declared_length(self) -> int | None:
        """The ``Content-Length`` (``None`` when the body is chunked or absent)."""
        coding = self.headers.get("Transfer-Encoding")
        if coding is not None:
            if coding.strip().lower() != "chunked":
                raise BodyError(501, f"transfer encoding {coding[:40]!r} not supported")
            return None
        values = self.headers.get_all("Content-Length") or []
        if not values:
            return None
        if len({v.strip() for v in values}) != 1 or not values[0].strip().isdigit():
            raise BodyError(400, "Content-Length must be one non-negative integer")
        text = values[0].strip()
        if len(text) > 12 or int(text) > self.server.max_body_bytes:
            raise BodyError(
                413, f"request body over the limit of {self.server.max_body_bytes} bytes"
            )
        return int(text)

    def _read_body(self) -> bytes:
        length = self._declared_length()
        if length is not None:
            body = self.rfile.read(length)
            if len(body) < length:
                raise BodyError(400, "request body shorter than its Content-Length")
            return body
        if self.headers.get("Transfer-Encoding") is None:
            return b""
        return self._read_chunks()

    def _read_chunks(self) -> bytes:
        body = bytearray()
        while True:
            line = self.rfile.readline(_MAX_CHUNK_LINE)
            if not line.endswith(b"\n"):
                raise BodyError(400, "malformed chunked body: chunk size line")
            size_text = line.split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise BodyError(400, "malformed chunked body: chunk size") from None
            if size < 0 or len(size_text) > 8:
                raise BodyError(400, "malformed chunked body: chunk size")
            if size == 0:
                self._skip_trailers()
                return bytes(body)
            if len(body) + size > self.server.max_body_bytes:
                raise BodyError(
                    413, f"request body over the limit of {self.server.max_body_bytes} bytes"
                )
            chunk = self.rfile.read(size)
            if len(chunk) < size or self.rfile.readline(3) not in (b"\r\n", b"\n"):
                raise BodyError(400, "malformed chunked body: chunk data")
            body += chunk

    def _skip_trailers(self) -> None:
        for _ in range(100):
            line = self.rfile.readline(_MAX_CHUNK_LINE)
            if line in (b"\r\n", b"\n", b""):
                return
        raise BodyError(400, "malformed chunked body: too many trailers")

    def log_message(self, format: str, *args: Any) -> None:
        return
