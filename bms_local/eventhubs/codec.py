"""AMQP 1.0 type system: encode Python values to the wire and decode them back.

Why our own codec rather than python-qpid-proton's engine: the ``azure-eventhub`` SDK decodes
performatives by fixed field positions (``frame[11]`` is a transfer's payload, ``frame[9]`` an
attach's initial-delivery-count), so every performative must go out with all its fields, trailing
nulls included. Proton's engine drops trailing nulls, as the spec allows, and hides the frames from
us, so it would need its output rewritten. A small codec we control keeps every byte on the wire
deliberate, needs no C extension, and lets the server splice annotations into stored messages
without a decode/encode round trip (see :mod:`.messages`).

Decoding maps AMQP types to plain Python: strings to ``str``, symbols to :class:`Symbol`,
binaries to ``bytes``, lists, maps, arrays to ``list``/``dict``/``list``, described values to
:class:`Described`, timestamps to :class:`Timestamp` (epoch ms). Encoding needs the few wrapper
types below where a Python value is ambiguous (``UInt`` vs ``int`` which encodes as long).
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Callable
from typing import Any, NamedTuple


class Symbol(str):
    """An AMQP symbol (ASCII), as opposed to a UTF-8 string."""


class UInt(int):
    """AMQP uint."""


class ULong(int):
    """AMQP ulong."""


class UByte(int):
    """AMQP ubyte."""


class UShort(int):
    """AMQP ushort."""


class Int(int):
    """AMQP int (32-bit signed)."""


class Timestamp(int):
    """AMQP timestamp: milliseconds since the Unix epoch."""


class Described(NamedTuple):
    """A described value: a descriptor (ulong code or symbol) and the value it describes."""

    descriptor: Any
    value: Any


class Array(NamedTuple):
    """An AMQP array of one element type; ``kind`` is "symbol", "string" or "long"."""

    kind: str
    items: list[Any]


class DecodeError(ValueError):
    """The bytes are not valid AMQP encoding."""


_U32 = struct.Struct(">I")
_I64 = struct.Struct(">q")
_U64 = struct.Struct(">Q")
_I32 = struct.Struct(">i")
_I16 = struct.Struct(">h")
_U16 = struct.Struct(">H")
_F32 = struct.Struct(">f")
_F64 = struct.Struct(">d")


# --------------------------------------------------------------------------------- encoding
def _variable(out: bytearray, small: int, large: int, data: bytes) -> None:
    n = len(data)
    if n < 256:
        out.append(small)
        out.append(n)
    else:
        out.append(large)
        out += _U32.pack(n)
    out += data


def _compound(out: bytearray, small: int, large: int, count: int, body: bytes) -> None:
    if len(body) + 1 < 256 and count < 256:
        out.append(small)
        out.append(len(body) + 1)
        out.append(count)
    else:
        out.append(large)
        out += _U32.pack(len(body) + 4)
        out += _U32.pack(count)
    out += body


def encode(out: bytearray, value: Any) -> None:
    """Append the AMQP encoding of ``value`` to ``out``."""
    if value is None:
        out.append(0x40)
    elif value is True:
        out.append(0x41)
    elif value is False:
        out.append(0x42)
    elif isinstance(value, Symbol):
        _variable(out, 0xA3, 0xB3, value.encode("ascii"))
    elif isinstance(value, str):
        _variable(out, 0xA1, 0xB1, value.encode("utf-8"))
    elif isinstance(value, (bytes, bytearray, memoryview)):
        _variable(out, 0xA0, 0xB0, bytes(value))
    elif isinstance(value, int):
        _encode_int(out, value)
    elif isinstance(value, Described):
        out.append(0x00)
        descriptor = value.descriptor
        encode(out, descriptor if isinstance(descriptor, str) else ULong(descriptor))
        encode(out, value.value)
    elif isinstance(value, Array):
        _encode_array(out, value)
    elif isinstance(value, (list, tuple)):
        if not value:
            out.append(0x45)
            return
        body = bytearray()
        for item in value:
            encode(body, item)
        _compound(out, 0xC0, 0xD0, len(value), bytes(body))
    elif isinstance(value, dict):
        body = bytearray()
        for key, item in value.items():
            encode(body, key)
            encode(body, item)
        _compound(out, 0xC1, 0xD1, 2 * len(value), bytes(body))
    elif isinstance(value, float):
        out.append(0x82)
        out += _F64.pack(value)
    elif isinstance(value, uuid.UUID):
        out.append(0x98)
        out += value.bytes
    else:
        raise TypeError(f"cannot encode {type(value).__name__} as AMQP")


def _encode_int(out: bytearray, value: int) -> None:
    if isinstance(value, UInt):
        if value == 0:
            out.append(0x43)
        elif value < 256:
            out += bytes((0x52, value))
        else:
            out.append(0x70)
            out += _U32.pack(value)
    elif isinstance(value, ULong):
        if value == 0:
            out.append(0x44)
        elif value < 256:
            out += bytes((0x53, value))
        else:
            out.append(0x80)
            out += _U64.pack(value)
    elif isinstance(value, Timestamp):
        out.append(0x83)
        out += _I64.pack(value)
    elif isinstance(value, UByte):
        out += bytes((0x50, value))
    elif isinstance(value, UShort):
        out.append(0x60)
        out += _U16.pack(value)
    elif isinstance(value, Int):
        if -128 <= value < 128:
            out += bytes((0x54, value & 0xFF))
        else:
            out.append(0x71)
            out += _I32.pack(value)
    elif -128 <= value < 128:
        out += bytes((0x55, value & 0xFF))
    else:
        out.append(0x81)
        out += _I64.pack(value)


def _encode_array(out: bytearray, array: Array) -> None:
    body = bytearray()
    if array.kind in ("symbol", "string"):
        ctor = 0xB3 if array.kind == "symbol" else 0xB1
        codec = "ascii" if array.kind == "symbol" else "utf-8"
        for item in array.items:
            data = item.encode(codec)
            body += _U32.pack(len(data))
            body += data
    elif array.kind == "long":
        ctor = 0x81
        for item in array.items:
            body += _I64.pack(item)
    else:
        raise TypeError(f"unsupported array kind {array.kind!r}")
    out.append(0xF0)
    out += _U32.pack(len(body) + 5)
    out += _U32.pack(len(array.items))
    out.append(ctor)
    out += body


def encoded(value: Any) -> bytes:
    """The AMQP encoding of ``value`` as bytes."""
    out = bytearray()
    encode(out, value)
    return bytes(out)


# --------------------------------------------------------------------------------- decoding
Decoder = Callable[[bytes, int], tuple[Any, int]]
_DECODERS: dict[int, Decoder] = {}


def decode(buf: bytes, pos: int = 0) -> tuple[Any, int]:
    """Decode one value at ``pos``; returns ``(value, position after it)``."""
    try:
        ctor = buf[pos]
        fn = _DECODERS[ctor]
    except IndexError:
        raise DecodeError(f"truncated AMQP value at byte {pos}") from None
    except KeyError:
        raise DecodeError(f"unknown AMQP constructor 0x{buf[pos]:02x} at byte {pos}") from None
    try:
        return fn(buf, pos + 1)
    except (struct.error, IndexError, UnicodeDecodeError) as exc:
        raise DecodeError(f"malformed AMQP value at byte {pos}: {exc}") from None


def _need(buf: bytes, end: int) -> None:
    if end > len(buf):
        raise DecodeError(f"AMQP value runs past the end of its frame ({end} > {len(buf)})")


def _fixed(value: Any) -> Decoder:
    return lambda buf, pos: (value, pos)


def _struct(fmt: struct.Struct, wrap: Callable[[Any], Any] = lambda v: v) -> Decoder:
    size = fmt.size

    def dec(buf: bytes, pos: int) -> tuple[Any, int]:
        _need(buf, pos + size)
        return wrap(fmt.unpack_from(buf, pos)[0]), pos + size

    return dec


def _vbin(width: int, convert: Callable[[bytes], Any]) -> Decoder:
    def dec(buf: bytes, pos: int) -> tuple[Any, int]:
        n = buf[pos] if width == 1 else _U32.unpack_from(buf, pos)[0]
        start = pos + width
        _need(buf, start + n)
        return convert(bytes(buf[start : start + n])), start + n

    return dec


def _items(buf: bytes, pos: int, count: int, end: int) -> list[Any]:
    items = []
    for _ in range(count):
        value, pos = decode(buf, pos)
        items.append(value)
    if pos != end:
        raise DecodeError(f"compound size disagrees with its contents at byte {pos}")
    return items


def _compound_decoder(width: int, as_map: bool) -> Decoder:
    def dec(buf: bytes, pos: int) -> tuple[Any, int]:
        if width == 1:
            size, count = buf[pos], buf[pos + 1]
        else:
            size, count = _U32.unpack_from(buf, pos)[0], _U32.unpack_from(buf, pos + 4)[0]
        end = pos + width + size
        _need(buf, end)
        items = _items(buf, pos + 2 * width, count, end)
        if not as_map:
            return items, end
        if count % 2:
            raise DecodeError("map with an odd number of elements")
        return dict(zip(items[::2], items[1::2], strict=True)), end

    return dec


def _array_decoder(width: int) -> Decoder:
    def dec(buf: bytes, pos: int) -> tuple[Any, int]:
        if width == 1:
            size, count = buf[pos], buf[pos + 1]
        else:
            size, count = _U32.unpack_from(buf, pos)[0], _U32.unpack_from(buf, pos + 4)[0]
        end = pos + width + size
        _need(buf, end)
        p = pos + 2 * width
        ctor = buf[p]
        p += 1
        descriptor = None
        if ctor == 0x00:
            descriptor, p = decode(buf, p)
            ctor = buf[p]
            p += 1
        fn = _DECODERS.get(ctor)
        if fn is None:
            raise DecodeError(f"unknown array element constructor 0x{ctor:02x}")
        items = []
        for _ in range(count):
            value, p = fn(buf, p)
            items.append(value if descriptor is None else Described(descriptor, value))
        return items, end

    return dec


def _described(buf: bytes, pos: int) -> tuple[Any, int]:
    descriptor, pos = decode(buf, pos)
    value, pos = decode(buf, pos)
    return Described(descriptor, value), pos


def _boolean(buf: bytes, pos: int) -> tuple[Any, int]:
    _need(buf, pos + 1)
    return buf[pos] != 0, pos + 1


def _small(wrap: Callable[[int], Any], signed: bool) -> Decoder:
    def dec(buf: bytes, pos: int) -> tuple[Any, int]:
        _need(buf, pos + 1)
        v = buf[pos]
        if signed and v > 127:
            v -= 256
        return wrap(v), pos + 1

    return dec


_DECODERS.update(
    {
        0x00: _described,
        0x40: _fixed(None),
        0x41: _fixed(True),
        0x42: _fixed(False),
        0x43: _fixed(UInt(0)),
        0x44: _fixed(ULong(0)),
        0x45: lambda buf, pos: ([], pos),
        0x50: _small(UByte, False),
        0x51: _small(int, True),
        0x52: _small(UInt, False),
        0x53: _small(ULong, False),
        0x54: _small(int, True),
        0x55: _small(int, True),
        0x56: _boolean,
        0x60: _struct(_U16, UShort),
        0x61: _struct(_I16),
        0x70: _struct(_U32, UInt),
        0x71: _struct(_I32),
        0x72: _struct(_F32),
        0x73: _struct(_U32),
        0x80: _struct(_U64, ULong),
        0x81: _struct(_I64),
        0x82: _struct(_F64),
        0x83: _struct(_I64, Timestamp),
        0x98: lambda buf, pos: (uuid.UUID(bytes=bytes(buf[pos : pos + 16])), pos + 16),
        0xA0: _vbin(1, bytes),
        0xA1: _vbin(1, lambda b: b.decode("utf-8")),
        0xA3: _vbin(1, lambda b: Symbol(b.decode("ascii", "replace"))),
        0xB0: _vbin(4, bytes),
        0xB1: _vbin(4, lambda b: b.decode("utf-8")),
        0xB3: _vbin(4, lambda b: Symbol(b.decode("ascii", "replace"))),
        0xC0: _compound_decoder(1, False),
        0xC1: _compound_decoder(1, True),
        0xD0: _compound_decoder(4, False),
        0xD1: _compound_decoder(4, True),
        0xE0: _array_decoder(1),
        0xF0: _array_decoder(4),
    }
)
_FIXED_WIDTH = {0x4: 0, 0x5: 1, 0x6: 2, 0x7: 4, 0x8: 8, 0x9: 16}


def skip(buf: bytes, pos: int) -> int:
    """Position just after the value at ``pos``, without decoding it."""
    ctor = buf[pos]
    pos += 1
    if ctor == 0x00:
        return skip(buf, skip(buf, pos))
    high = ctor >> 4
    if high in _FIXED_WIDTH:
        end = pos + _FIXED_WIDTH[high]
    elif high in (0xA, 0xC, 0xE):
        end = pos + 1 + buf[pos]
    elif high in (0xB, 0xD, 0xF):
        end = pos + 4 + _U32.unpack_from(buf, pos)[0]
    else:
        raise DecodeError(f"unknown AMQP constructor 0x{ctor:02x} at byte {pos - 1}")
    _need(buf, end)
    return end
