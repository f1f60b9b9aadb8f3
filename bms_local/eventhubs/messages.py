"""AMQP messages as the emulator handles them: split once when stored, spliced when delivered.

A stored event keeps the sender's bytes in three parts: the header section, the raw entries of its
message-annotations map, and everything after (properties, application properties, body,
footer). Delivering it only concatenates those parts with a rebuilt annotations map that adds the
service's ``x-opt-sequence-number`` (long), ``x-opt-offset`` (string), ``x-opt-enqueued-time``
(timestamp) and ``x-opt-partition-key``; nothing is decoded and re-encoded on the hot path.
Delivery annotations from the sender are per hop and are dropped, as the service does.

A batch (message-format ``0x80013700``) carries each event as one data section whose bytes are a
whole encoded message; :func:`unpack_batch` returns those inner messages.
"""

from __future__ import annotations

import struct
from typing import Any, NamedTuple

from bms_local.eventhubs.codec import (
    DecodeError,
    Described,
    Symbol,
    Timestamp,
    ULong,
    decode,
    encode,
    encoded,
    skip,
)

BATCH_FORMAT = 0x80013700
HEADER, DELIVERY_ANNOTATIONS, MESSAGE_ANNOTATIONS, PROPERTIES = 0x70, 0x71, 0x72, 0x73
APPLICATION_PROPERTIES, DATA, AMQP_SEQUENCE, AMQP_VALUE, FOOTER = 0x74, 0x75, 0x76, 0x77, 0x78
PARTITION_KEY = "x-opt-partition-key"

_U32 = struct.Struct(">I")
_KEY_SEQ = encoded(Symbol("x-opt-sequence-number"))
_KEY_OFFSET = encoded(Symbol("x-opt-offset"))
_KEY_TIME = encoded(Symbol("x-opt-enqueued-time"))
_KEY_PARTITION = encoded(Symbol(PARTITION_KEY))
_MA_SECTION = b"\x00\x53\x72"
_PARTITION_KEY_TEXT = PARTITION_KEY.encode("ascii")


class MessageParts(NamedTuple):
    """A message split for storage (see module docstring)."""

    head: bytes
    ma_count: int
    ma_raw: bytes
    tail: bytes
    partition_key: str | None

    @property
    def size(self) -> int:
        return len(self.head) + len(self.ma_raw) + len(self.tail)


def _section_code(buf: bytes, pos: int) -> tuple[int, int]:
    """Descriptor code of the section at ``pos`` and the position of its value."""
    if buf[pos] != 0x00:
        raise DecodeError(f"message section at byte {pos} is not a described value")
    if buf[pos + 1] == 0x53:  # smallulong descriptor: the usual encoding
        code, value_pos = buf[pos + 2], pos + 3
        if HEADER <= code <= FOOTER:
            return code, value_pos
    code, value_pos = decode(buf, pos + 1)
    if not isinstance(code, int) or not HEADER <= code <= FOOTER:
        raise DecodeError(f"unknown message section {code!r} at byte {pos}")
    return code, value_pos


def _map_entries(buf: bytes, pos: int) -> tuple[int, bytes]:
    """Element count and raw entry bytes of the map encoded at ``pos``."""
    ctor = buf[pos]
    if ctor == 0xC1:
        size, count = buf[pos + 1], buf[pos + 2]
        return count, bytes(buf[pos + 3 : pos + 2 + size])
    if ctor == 0xD1:
        size, count = _U32.unpack_from(buf, pos + 1)[0], _U32.unpack_from(buf, pos + 5)[0]
        return count, bytes(buf[pos + 9 : pos + 5 + size])
    if ctor == 0x40:
        return 0, b""
    raise DecodeError(f"message annotations are not a map (constructor 0x{ctor:02x})")


def _partition_key(entries: bytes, count: int) -> str | None:
    """The ``x-opt-partition-key`` value among raw map entries, decoding only that value."""
    pos = 0
    for _ in range(count // 2):
        if entries.startswith(_KEY_PARTITION, pos):
            value, _ = decode(entries, pos + len(_KEY_PARTITION))
            return value if isinstance(value, str) or value is None else str(value)
        pos = skip(entries, skip(entries, pos))
    return None


def split_message(data: bytes) -> MessageParts:
    """Validate ``data`` as a sequence of message sections and split it for storage."""
    if not data:
        raise DecodeError("empty message")
    pos = 0
    head = b""
    ma_count, ma_raw = 0, b""
    key: str | None = None
    tail_start = len(data)
    while pos < len(data):
        start = pos
        code, value_pos = _section_code(data, pos)
        pos = skip(data, value_pos)
        if code == HEADER:
            head = bytes(data[start:pos])
        elif code == MESSAGE_ANNOTATIONS:
            ma_count, ma_raw = _map_entries(data, value_pos)
            if _PARTITION_KEY_TEXT in ma_raw:
                key = _partition_key(ma_raw, ma_count)
        elif code != DELIVERY_ANNOTATIONS and tail_start == len(data):
            tail_start = start
    return MessageParts(head, ma_count, ma_raw, bytes(data[tail_start:]), key)


def unpack_batch(parts: MessageParts) -> list[bytes]:
    """The inner messages of a batch: one per data section of the outer message."""
    inner: list[bytes] = []
    buf = parts.tail
    pos = 0
    while pos < len(buf):
        code, value_pos = _section_code(buf, pos)
        pos = skip(buf, value_pos)
        if code == DATA:
            value, _ = decode(buf, value_pos)
            inner.append(value)
    return inner


def delivery_bytes(
    parts: MessageParts, sequence_number: int, offset: int, enqueued_ms: int
) -> bytes:
    """The message as a consumer receives it, with the service's annotations added."""
    extra = bytearray(_KEY_SEQ)
    encode(extra, sequence_number)
    extra += _KEY_OFFSET
    encode(extra, str(offset))
    extra += _KEY_TIME
    encode(extra, Timestamp(enqueued_ms))
    count = parts.ma_count + 6
    if parts.partition_key is not None and _KEY_PARTITION not in parts.ma_raw:
        extra += _KEY_PARTITION
        encode(extra, parts.partition_key)
        count += 2
    body = parts.ma_raw + bytes(extra)
    return b"".join(
        (
            parts.head,
            _MA_SECTION,
            b"\xd1",
            _U32.pack(len(body) + 4),
            _U32.pack(count),
            body,
            parts.tail,
        )
    )


class Request(NamedTuple):
    """A decoded management or CBS request."""

    properties: list[Any]
    application_properties: dict[str, Any]
    value: Any

    @property
    def message_id(self) -> Any:
        return self.properties[0] if self.properties else None

    @property
    def reply_to(self) -> str | None:
        return self.properties[4] if len(self.properties) > 4 else None


def decode_request(data: bytes) -> Request:
    """Decode every section of a (small) request message."""
    properties: list[Any] = []
    app: dict[str, Any] = {}
    value: Any = None
    pos = 0
    while pos < len(data):
        code, value_pos = _section_code(data, pos)
        section, pos = decode(data, value_pos)
        if code == PROPERTIES and isinstance(section, list):
            properties = section
        elif code == APPLICATION_PROPERTIES and isinstance(section, dict):
            app = {str(k): v for k, v in section.items()}
        elif code == AMQP_VALUE:
            value = section
    return Request(properties, app, value)


def encode_reply(correlation_id: Any, application_properties: dict[str, Any], value: Any) -> bytes:
    """A reply message: properties (correlation-id at index 5), application properties, value."""
    out = bytearray()
    encode(out, Described(ULong(PROPERTIES), [None, None, None, None, None, correlation_id]))
    encode(out, Described(ULong(APPLICATION_PROPERTIES), application_properties))
    encode(out, Described(ULong(AMQP_VALUE), value))
    return bytes(out)
