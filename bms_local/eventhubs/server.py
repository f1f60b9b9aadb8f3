"""The emulator's network loop: one thread, one selector, every connection non-blocking.

All state (the store, links, cursors) is touched only by the loop thread, so nothing needs a
lock; other threads talk to the loop only through :meth:`EventHubsServer.stop`, which wakes it
through a socket pair. A connection that sends garbage is closed on its own; the loop and the
other connections carry on. Retention runs once a second.

Hostile or broken clients cannot take the loop down:

* When the process runs out of file descriptors (``EMFILE``/``ENFILE`` from ``accept``), the
  loop stops accepting for :data:`ACCEPT_PAUSE_S` at a time, logs a warning (at most one every
  :data:`DESCRIPTOR_WARNING_EVERY_S`), and keeps serving the connections it has; waiting clients
  stay in the listen backlog until a descriptor is free.
* A connection that has not finished the protocol header, SASL and AMQP ``open`` within
  ``handshake_timeout_s`` (:data:`HANDSHAKE_TIMEOUT_S` by default, ``--handshake-timeout``) is
  closed.
* Per connection, input is read only while less than
  :data:`~bms_local.eventhubs.connection.OUTPUT_HIGH_WATER` waits to be sent, so a peer that
  never reads holds at most that much of our output plus one frame of its input
  (:mod:`bms_local.eventhubs.connection` bounds frames, sessions, links and partial messages).

Binding: 127.0.0.1 by default. Any other address must be asked for explicitly
(``allow_remote=True`` / ``--allow-remote``), because the emulator has no TLS and, unless a SAS key
is configured, no authentication.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import selectors
import socket
import threading
import time
from pathlib import Path

from bms_local.eventhubs.config import EmulatorConfig
from bms_local.eventhubs.connection import OUTPUT_HIGH_WATER, Connection
from bms_local.eventhubs.entities import Entities
from bms_local.eventhubs.store import Store

LOOPBACK = ("127.0.0.1", "localhost", "::1")
DEV_KEY_NAME = "RootManageSharedAccessKeyName"
DEV_KEY_VALUE = "SAS_KEY_VALUE"
_READ_SIZE = 256 * 1024
HANDSHAKE_TIMEOUT_S = 30.0
"""Seconds a new connection has to send its protocol header, SASL and AMQP ``open``."""
ACCEPT_PAUSE_S = 0.5
"""How long accepting pauses when the process is out of file descriptors."""
DESCRIPTOR_WARNING_EVERY_S = 60.0
_OUT_OF_DESCRIPTORS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
log = logging.getLogger("bms_local.eventhubs")


class BindRefused(ValueError):
    """A non-loopback address was requested without ``allow_remote``."""


def connection_string(host: str, port: int, key: str = DEV_KEY_VALUE) -> str:
    """The connection string clients use; ``UseDevelopmentEmulator=true`` means plain AMQP."""
    return (
        f"Endpoint=sb://{host}:{port};SharedAccessKeyName=RootManageSharedAccessKey;"
        f"SharedAccessKey={key};UseDevelopmentEmulator=true"
    )


class EventHubsServer:
    """An AMQP 1.0 listener serving the hubs of ``config``."""

    def __init__(
        self,
        config: EmulatorConfig,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        allow_remote: bool = False,
        data_dir: Path | None = None,
        retention_hours: float | None = 24.0,
        max_events_per_partition: int | None = None,
        sas_key: str | None = None,
        handshake_timeout_s: float = HANDSHAKE_TIMEOUT_S,
    ) -> None:
        if host not in LOOPBACK and not allow_remote:
            raise BindRefused(
                f"refusing to bind {host!r}: the emulator has no TLS; pass --allow-remote "
                "(allow_remote=True) to listen beyond 127.0.0.1"
            )
        self.config = config
        self.host = host
        self.sas_key = sas_key
        self.handshake_timeout_s = handshake_timeout_s
        self.store = Store(config, data_dir, retention_hours, max_events_per_partition)
        self.listener = socket.create_server((host, port), reuse_port=False, backlog=128)
        self.listener.setblocking(False)
        self.port: int = self.listener.getsockname()[1]
        self.entities = Entities(self.store, f"{host}:{self.port}", sas_key)
        self.attach = self.entities.attach
        self.receive = self.entities.receive
        self.forget = self.entities.forget
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._sockets: dict[Connection, socket.socket] = {}
        self._handshakes: dict[Connection, float] = {}
        """Connections still in their handshake, with the monotonic time it must end by."""
        self._accept_paused_until: float | None = None
        self._descriptor_warned_at: float | None = None

    @property
    def connection_string(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return connection_string(host, self.port, self.sas_key or DEV_KEY_VALUE)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> EventHubsServer:
        """Serve in a background thread (tests, the local stack); returns at once."""
        self._thread = threading.Thread(
            target=self.serve_forever, name="eventhubs-emulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop serving, close every connection and flush the store. Safe from any thread."""
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout_s)

    def serve_forever(self) -> None:
        sel = self._selector
        sel.register(self.listener, selectors.EVENT_READ, None)
        sel.register(self._wake_r, selectors.EVENT_READ, None)
        next_retention = time.monotonic() + 1.0
        try:
            while not self._stopping.is_set():
                for key, mask in sel.select(timeout=self._select_timeout()):
                    if key.fileobj is self.listener:
                        self._accept()
                    elif key.fileobj is self._wake_r:
                        with contextlib.suppress(OSError):
                            self._wake_r.recv(64)
                    else:
                        self._service(key.data, mask)
                self._flush_all()
                self._expire_handshakes()
                self._resume_accepting()
                if time.monotonic() >= next_retention:
                    self.store.enforce_retention()
                    next_retention = time.monotonic() + 1.0
        finally:
            for conn in list(self._sockets):
                self._drop(conn)
            sel.close()
            self.listener.close()
            self._wake_r.close()
            self._wake_w.close()
            self.store.close()

    # ------------------------------------------------------------------ sockets
    def _select_timeout(self) -> float:
        now = time.monotonic()
        wake = now + 0.5
        if self._handshakes:
            wake = min(wake, min(self._handshakes.values()))
        if self._accept_paused_until is not None:
            wake = min(wake, self._accept_paused_until)
        return max(wake - now, 0.0)

    def _accept(self) -> None:
        while True:
            try:
                sock, addr = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in _OUT_OF_DESCRIPTORS:
                    self._pause_accepting(exc)
                    return
                continue  # e.g. ECONNABORTED: that client gave up; the next may not have
            try:
                sock.setblocking(False)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                sock.close()
                continue
            conn = Connection(self, f"{addr[0]}:{addr[1]}")
            self._sockets[conn] = sock
            self._handshakes[conn] = time.monotonic() + self.handshake_timeout_s
            self._selector.register(sock, selectors.EVENT_READ, conn)

    def _pause_accepting(self, exc: OSError) -> None:
        """Out of descriptors: stop watching the listener for a moment; existing connections
        keep being served, and new clients wait in the listen backlog."""
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(self.listener)
        now = time.monotonic()
        self._accept_paused_until = now + ACCEPT_PAUSE_S
        warned = self._descriptor_warned_at
        if warned is None or now - warned >= DESCRIPTOR_WARNING_EVERY_S:
            self._descriptor_warned_at = now
            log.warning(
                "eventhubs emulator: out of file descriptors (%s) with %d connections open; "
                "accepting pauses for %.1f s at a time until one is free (logged at most "
                "once a minute)",
                errno.errorcode.get(exc.errno or 0, exc.errno),
                len(self._sockets),
                ACCEPT_PAUSE_S,
            )

    def _resume_accepting(self) -> None:
        until = self._accept_paused_until
        if until is None or time.monotonic() < until:
            return
        self._accept_paused_until = None
        with contextlib.suppress(KeyError, ValueError):
            self._selector.register(self.listener, selectors.EVENT_READ, None)

    def _expire_handshakes(self) -> None:
        if not self._handshakes:
            return
        now = time.monotonic()
        for conn, deadline in list(self._handshakes.items()):
            if conn.opened or conn.closed:
                del self._handshakes[conn]
            elif now >= deadline:
                del self._handshakes[conn]
                self._drop(conn)

    def _service(self, conn: Connection, mask: int) -> None:
        sock = self._sockets.get(conn)
        if sock is None:
            return
        if mask & selectors.EVENT_READ:
            try:
                data = sock.recv(_READ_SIZE)
            except (BlockingIOError, InterruptedError):
                data = None
            except OSError:
                self._drop(conn)
                return
            if data == b"":
                conn.shutdown()
                self._drop(conn)
                return
            if data:
                conn.feed(data)
        if mask & selectors.EVENT_WRITE:
            self._write(conn)

    def _write(self, conn: Connection) -> None:
        sock = self._sockets.get(conn)
        if sock is None:
            return
        was_full = len(conn.outgoing) > 0
        while conn.outgoing:
            try:
                sent = sock.send(conn.outgoing)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                conn.shutdown()
                self._drop(conn)
                return
            del conn.outgoing[:sent]
            if not conn.outgoing and was_full and not conn.closed:
                conn.pump_all()  # room again: consumers held back by the buffer continue
        if conn.closed and not conn.outgoing:
            self._drop(conn)
            return
        # A peer that does not read its answers is not read either (until they drain).
        reading = selectors.EVENT_READ if len(conn.outgoing) < OUTPUT_HIGH_WATER else 0
        events = reading | (selectors.EVENT_WRITE if conn.outgoing else 0)
        with contextlib.suppress(KeyError, ValueError):
            if self._selector.get_key(sock).events != events:
                self._selector.modify(sock, events, conn)

    def _flush_all(self) -> None:
        for conn in list(self._sockets):
            if conn.outgoing or conn.closed:
                self._write(conn)

    def _drop(self, conn: Connection) -> None:
        self._handshakes.pop(conn, None)
        sock = self._sockets.pop(conn, None)
        if not conn.closed:
            conn.shutdown()
        if sock is not None:
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(sock)
            sock.close()
