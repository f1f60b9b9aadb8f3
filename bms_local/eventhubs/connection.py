"""One client connection: protocol headers, SASL, sessions, links and flow control.

The connection never touches the socket; the server feeds it bytes (:meth:`Connection.feed`)
and drains :attr:`Connection.outgoing`. Anything malformed (a bad protocol header, a frame that
does not decode, an impossible frame size) closes this connection alone, with an AMQP
``close`` carrying the reason when the peer got as far as opening.

Flow control: we grant publishers link credit in blocks and top it up as it is used; our
session incoming window is effectively unbounded. Towards consumers we honour the link credit
and the session incoming window the client grants, and stop filling the socket buffer past
:data:`OUTPUT_HIGH_WATER` until it drains.

Memory per connection is bounded: a frame is at most :data:`MAX_FRAME_SIZE` (the size we
announce in ``open``; :data:`HANDSHAKE_MAX_FRAME` before it), at most :data:`MAX_SESSIONS`
sessions and :data:`MAX_LINKS` links per session (announced as ``channel-max`` and
``handle-max``), all partly received messages of a connection together at most
:data:`MAX_PARTIAL_BYTES`, and at most :data:`MAX_PENDING_REPLIES` management replies waiting
for credit. A peer past any of these is closed with an AMQP error.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any

from bms_local.eventhubs import frames as F
from bms_local.eventhubs.codec import UByte, UInt, ULong, UShort
from bms_local.eventhubs.endpoints import Link, Session
from bms_local.eventhubs.messages import delivery_bytes

if TYPE_CHECKING:
    from bms_local.eventhubs.server import EventHubsServer

MAX_FRAME_SIZE = 1024 * 1024
MAX_MESSAGE_SIZE = 1024 * 1024
PUBLISH_CREDIT = 1000
WINDOW = 2**31 - 1
OUTPUT_HIGH_WATER = 4 * 1024 * 1024
HANDSHAKE_MAX_FRAME = 64 * 1024
"""Largest frame before the peer's ``open`` (SASL frames carry at most a token)."""
MAX_SESSIONS = 256
MAX_LINKS = 1024
MAX_PARTIAL_BYTES = 4 * (MAX_MESSAGE_SIZE + MAX_FRAME_SIZE)
"""All partly received (multi-frame) messages of one connection together."""
MAX_PENDING_REPLIES = 1000
"""Management and CBS replies a connection may leave unread (no credit on its reply link)."""
_SIZE = struct.Struct(">I")


class Connection:
    def __init__(self, server: EventHubsServer, peer: str) -> None:
        self.server = server
        self.peer = peer
        self.inbuf = bytearray()
        self.outgoing = bytearray()
        self.phase = "header"
        self.sessions: dict[int, Session] = {}
        self.remote_max_frame = MAX_FRAME_SIZE
        self.closed = False
        self.opened = False
        """The peer's AMQP ``open`` arrived: the handshake is over."""
        self.partial_bytes = 0
        self.authenticated = server.sas_key is None

    # ------------------------------------------------------------------ input
    def feed(self, data: bytes) -> None:
        """Process bytes from the peer; on any protocol error, close this connection."""
        self.inbuf += data
        try:
            self._process()
        except Exception as exc:
            self.fail("amqp:connection:framing-error", f"cannot process input: {exc}")

    def _process(self) -> None:
        buf = self.inbuf
        pos = 0
        while not self.closed:
            if self.phase in ("header", "amqp-header"):
                if len(buf) - pos < 8:
                    break
                self._header(bytes(buf[pos : pos + 8]))
                pos += 8
                continue
            if len(buf) - pos < 8:
                break
            size = _SIZE.unpack_from(buf, pos)[0]
            limit = MAX_FRAME_SIZE if self.opened else HANDSHAKE_MAX_FRAME
            if size < 8 or size > limit:
                raise F.FramingError(f"frame size {size} outside 8..{limit}")
            if len(buf) - pos < size:
                break
            doff, frame_type, channel = buf[pos + 4], buf[pos + 5], buf[pos + 6] << 8 | buf[pos + 7]
            if doff < 2 or doff * 4 > size:
                raise F.FramingError(f"bad data offset {doff}")
            body = bytes(buf[pos + doff * 4 : pos + size])
            pos += size
            if body:
                self._frame(frame_type, channel, body)
        del buf[:pos]

    def _header(self, header: bytes) -> None:
        if header == F.SASL_HEADER and self.phase == "header":
            self.outgoing += F.SASL_HEADER
            self.outgoing += F.performative_frame(
                F.SASL_MECHANISMS,
                [F.symbols("ANONYMOUS", "PLAIN", "MSSBCBS")],
                frame_type=F.TYPE_SASL,
            )
            self.phase = "sasl"
        elif header == F.AMQP_HEADER:
            self.outgoing += F.AMQP_HEADER
            self.phase = "open"
        else:
            self.outgoing += F.AMQP_HEADER
            self.closed = True

    def _frame(self, frame_type: int, channel: int, body: bytes) -> None:
        if body.startswith(F.DISPOSITION_PREFIX) and self.phase == "open":
            return  # consumers settling deliveries: nothing to do (see _on_disposition)
        code, fields, payload = F.parse_body(body)
        if self.phase == "sasl":
            if code == F.SASL_INIT:
                self.outgoing += F.performative_frame(
                    F.SASL_OUTCOME, [UByte(0), None], frame_type=F.TYPE_SASL
                )
                self.phase = "amqp-header"
                return
            raise F.FramingError(f"unexpected SASL frame {code:#x}")
        if frame_type != F.TYPE_AMQP:
            raise F.FramingError("SASL frame after SASL finished")
        handler = _HANDLERS.get(code)
        if handler is None:
            raise F.FramingError(f"unexpected performative {code:#x}")
        handler(self, channel, fields, payload)

    # ------------------------------------------------------------------ performatives
    def _on_open(self, channel: int, fields: list[Any], payload: bytes) -> None:
        if self.opened:
            raise F.FramingError("a second open on the connection")
        self.opened = True
        if isinstance(fields[2], int) and fields[2] >= 512:
            self.remote_max_frame = min(int(fields[2]), MAX_FRAME_SIZE)
        self.send(
            F.OPEN,
            [
                f"bms-local-eventhubs-{self.server.port}",
                None,
                UInt(MAX_FRAME_SIZE),
                UShort(MAX_SESSIONS - 1),
                None,
                None,
                None,
                None,
                None,
                None,
            ],
        )

    def _on_begin(self, channel: int, fields: list[Any], payload: bytes) -> None:
        if channel >= MAX_SESSIONS or channel in self.sessions:
            raise F.FramingError(f"begin on channel {channel}: channel-max is {MAX_SESSIONS - 1}")
        session = Session(self, channel)
        session.remote_incoming_window = int(fields[2] or 0)
        session.next_incoming_id = int(fields[1] or 0)
        self.sessions[channel] = session
        self.send(
            F.BEGIN,
            [UShort(channel), UInt(0), UInt(WINDOW), UInt(WINDOW), UInt(MAX_LINKS - 1)],
            channel,
        )

    def _on_attach(self, channel: int, fields: list[Any], payload: bytes) -> None:
        session = self._session(channel)
        name, handle, role = fields[0], int(fields[1]), bool(fields[2])
        if not 0 <= handle < MAX_LINKS or handle in session.links:
            raise F.FramingError(f"attach with handle {handle}: handle-max is {MAX_LINKS - 1}")
        source, target = fields[5], fields[6]
        we_send = role  # the peer's role True means it receives
        terminus = source if we_send else target
        address = terminus.value[0] if terminus is not None and terminus.value else None
        link = Link(session, str(name), handle, we_send, str(address or ""))
        link.presettled = fields[3] != 0  # the receiver asked for unsettled deliveries: honour it
        if we_send and target is not None and target.value:
            link.target_address = target.value[0]
        session.links[handle] = link
        refusal = self.server.attach(link, fields)
        self.send(
            F.ATTACH,
            [
                name,
                UInt(handle),
                not role,
                fields[3] if fields[3] is None else UByte(fields[3]),
                fields[4] if fields[4] is None else UByte(fields[4]),
                source,
                target,
                None,
                False,
                UInt(0) if we_send else None,
                ULong(MAX_MESSAGE_SIZE),
                None,
                None,
                None,
            ],
            channel,
        )
        if refusal is not None:
            self.detach(link, *refusal)
            return
        if not we_send:
            link.credit = PUBLISH_CREDIT
            link.delivery_count = int(fields[9] or 0)
            self._send_link_flow(link)

    def _on_flow(self, channel: int, fields: list[Any], payload: bytes) -> None:
        session = self._session(channel)
        next_incoming = fields[0] if fields[0] is not None else 0
        session.remote_incoming_window = (
            int(next_incoming) + int(fields[1] or 0) - session.next_outgoing_id
        )
        if fields[4] is None:
            self.pump_session(session)
            return
        link = session.links.get(int(fields[4]))
        if link is None or not link.sender:
            return
        link.credit = int(fields[5] or 0) + int(fields[6] or 0) - link.delivery_count
        self.pump(link)
        if fields[8] and link.credit > 0:  # drain: use up the credit
            link.delivery_count += link.credit
            link.credit = 0
            self._send_link_flow(link)
        elif fields[9]:
            self._send_link_flow(link)

    def _on_transfer(self, channel: int, fields: list[Any], payload: bytes) -> None:
        session = self._session(channel)
        link = session.links.get(int(fields[0]))
        if link is None or link.sender:
            raise F.FramingError(f"transfer on unknown handle {fields[0]}")
        if link.partial_first is None:
            link.partial_first = fields
            session.next_incoming_id = (int(fields[1] or 0) + 1) & 0xFFFFFFFF
        if len(link.partial) + len(payload) > MAX_MESSAGE_SIZE + MAX_FRAME_SIZE:
            raise F.FramingError("message far larger than the link's max-message-size")
        if fields[5]:  # more frames follow
            if self.partial_bytes + len(payload) > MAX_PARTIAL_BYTES:
                raise F.FramingError(
                    f"more than {MAX_PARTIAL_BYTES} bytes of partly sent messages on the connection"
                )
            self.partial_bytes += len(payload)
            link.partial += payload
            return
        self.partial_bytes -= len(link.partial)
        link.partial += payload
        first, data = link.partial_first, bytes(link.partial)
        link.partial_first, link.partial = None, bytearray()
        link.delivery_count += 1
        link.credit -= 1
        if link.kind == "request" and self._pending_replies() >= MAX_PENDING_REPLIES:
            raise F.FramingError(
                f"more than {MAX_PENDING_REPLIES} management replies not taken (no link credit)"
            )
        outcome = self.server.receive(link, int(first[3] or 0), data)
        if not first[4]:  # unsettled: tell the sender the outcome
            self.send(F.DISPOSITION, [True, UInt(first[1]), None, True, outcome, None], channel)
        if link.credit < PUBLISH_CREDIT // 2 and not link.detached:
            link.credit = PUBLISH_CREDIT
            self._send_link_flow(link)

    def _on_disposition(self, channel: int, fields: list[Any], payload: bytes) -> None:
        """Consumers' dispositions need no action: Event Hubs consumers track their own
        position, so an unsettled delivery is not redelivered on this link either way."""

    def _on_detach(self, channel: int, fields: list[Any], payload: bytes) -> None:
        session = self._session(channel)
        link = session.links.pop(int(fields[0]), None)
        if link is None:
            return
        self._discard_partial(link)
        self.server.forget(link)
        if not link.detached:
            link.detached = True
            self.send(F.DETACH, [UInt(link.handle), bool(fields[1]), None], channel)

    def _on_end(self, channel: int, fields: list[Any], payload: bytes) -> None:
        session = self.sessions.pop(channel, None)
        if session is not None:
            for link in session.links.values():
                self._discard_partial(link)
                self.server.forget(link)
            self.send(F.END, [None], channel)

    def _on_close(self, channel: int, fields: list[Any], payload: bytes) -> None:
        self.send(F.CLOSE, [None])
        self.shutdown()

    # ------------------------------------------------------------------ output
    def send(self, code: int, fields: list[Any], channel: int = 0, payload: bytes = b"") -> None:
        if not self.closed:
            self.outgoing += F.performative_frame(code, fields, channel, payload)

    def _send_link_flow(self, link: Link) -> None:
        session = link.session
        self.send(
            F.FLOW,
            [
                UInt(session.next_incoming_id),
                UInt(WINDOW),
                UInt(session.next_outgoing_id),
                UInt(WINDOW),
                UInt(link.handle),
                UInt(link.delivery_count & 0xFFFFFFFF),
                UInt(max(link.credit, 0)),
                None,
                False,
                False,
                None,
            ],
            session.channel,
        )

    def detach(self, link: Link, condition: str, description: str) -> None:
        """Close one link with an error (unknown entity, epoch takeover, ...)."""
        if link.detached:
            return
        link.detached = True
        self.server.forget(link)
        self.send(
            F.DETACH,
            [UInt(link.handle), True, F.error(condition, description)],
            link.session.channel,
        )

    def fail(self, condition: str, description: str) -> None:
        """Close the whole connection with an error."""
        if self.phase == "open":
            self.send(F.CLOSE, [F.error(condition, description)])
        self.shutdown()

    def shutdown(self) -> None:
        for session in self.sessions.values():
            for link in session.links.values():
                self.server.forget(link)
        self.sessions.clear()
        self.closed = True

    # ------------------------------------------------------------------ delivery to consumers
    def pump_session(self, session: Session) -> None:
        for link in list(session.links.values()):
            if link.sender:
                self.pump(link)

    def pump_all(self) -> None:
        for session in list(self.sessions.values()):
            self.pump_session(session)

    def pump(self, link: Link) -> None:
        """Send what the link has to send, as far as credit, window and buffer allow."""
        session = link.session
        while (
            link.credit > 0
            and session.remote_incoming_window > 0
            and not link.detached
            and not self.closed
            and len(self.outgoing) < OUTPUT_HIGH_WATER
        ):
            if link.pending:
                payload = link.pending.popleft()
                tag = link.delivery_count.to_bytes(4, "big")
            elif link.partition is not None:
                event = link.partition.event_at(link.cursor)
                if event is None:
                    if link.cursor < link.partition.first_sequence:
                        link.cursor = link.partition.first_sequence
                        continue
                    return
                link.cursor += 1
                payload = delivery_bytes(
                    event.parts, event.sequence_number, event.offset, event.enqueued_ms
                )
                tag = event.sequence_number.to_bytes(8, "big")
            else:
                return
            self._transfer(link, tag, payload)

    def _transfer(self, link: Link, tag: bytes, payload: bytes) -> None:
        session = link.session
        room = self.remote_max_frame - 64
        delivery_id: int | None = session.next_outgoing_id & 0xFFFFFFFF
        start = 0
        while not self.closed:
            chunk = payload[start : start + room]
            start += room
            more = start < len(payload)
            self.outgoing += F.transfer_frame(
                session.channel, link.handle, delivery_id, tag, link.presettled, more, chunk
            )
            delivery_id = None
            if not more:
                break
        session.next_outgoing_id += 1
        session.remote_incoming_window -= 1
        link.delivery_count += 1
        link.credit -= 1

    def _pending_replies(self) -> int:
        return sum(
            len(link.pending)
            for session in self.sessions.values()
            for link in session.links.values()
            if link.sender
        )

    def _discard_partial(self, link: Link) -> None:
        self.partial_bytes -= len(link.partial)
        link.partial_first, link.partial = None, bytearray()

    def _session(self, channel: int) -> Session:
        session = self.sessions.get(channel)
        if session is None:
            raise F.FramingError(f"frame on channel {channel} without a session")
        return session


_HANDLERS = {
    F.OPEN: Connection._on_open,
    F.BEGIN: Connection._on_begin,
    F.ATTACH: Connection._on_attach,
    F.FLOW: Connection._on_flow,
    F.TRANSFER: Connection._on_transfer,
    F.DISPOSITION: Connection._on_disposition,
    F.DETACH: Connection._on_detach,
    F.END: Connection._on_end,
    F.CLOSE: Connection._on_close,
}
