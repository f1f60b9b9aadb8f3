"""Link addresses and start positions as the Event Hubs service interprets them.

Addresses arrive in several spellings (``amqps://host/hub``, ``sb://host/hub``, ``/hub``, ``hub``,
``hub/Partitions/0``, ``hub/ConsumerGroups/cg/Partitions/0``); :func:`parse_address` reduces them
to path segments. A receiver's start position is the ``apache.org:selector-filter:string``
filter the SDK builds from ``starting_position``: ``amqp.annotation.x-opt-offset > '123'``,
``... x-opt-sequence-number >= '5'``, ``... x-opt-enqueued-time > '<epoch ms>'``, with offset
``-1`` meaning the start of the partition and ``@latest`` its end.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from bms_local.eventhubs.codec import Described
from bms_local.eventhubs.store import Partition

SELECTOR_FILTER = "apache.org:selector-filter:string"
EPOCH_PROPERTY = "com.microsoft:epoch"
_SELECTOR = re.compile(
    r"^\s*amqp\.annotation\.x-opt-(offset|sequence-number|enqueued-time)\s*(>=|>)\s*'([^']*)'\s*$",
    re.IGNORECASE,
)


class AddressError(ValueError):
    """A link address or filter the emulator cannot serve; the message says which part."""


def parse_address(address: Any) -> list[str]:
    """Path segments of a link address, without scheme and host."""
    if not isinstance(address, str) or not address:
        raise AddressError(f"link address must be a non-empty string, got {address!r}")
    if "://" in address:
        address = urlparse(address).path
    return [segment for segment in address.split("/") if segment]


@dataclass(frozen=True)
class ConsumerAddress:
    hub: str
    consumer_group: str
    partition_id: str


def consumer_address(address: Any) -> ConsumerAddress:
    """``<hub>/ConsumerGroups/<cg>/Partitions/<n>``."""
    segments = parse_address(address)
    if (
        len(segments) != 5
        or segments[1].lower() != "consumergroups"
        or segments[3].lower() != "partitions"
    ):
        raise AddressError(
            f"receive address {address!r} must be <hub>/ConsumerGroups/<group>/Partitions/<id>"
        )
    return ConsumerAddress(segments[0], segments[2], segments[4])


def publish_address(address: Any) -> tuple[str, str | None]:
    """``<hub>`` or ``<hub>/Partitions/<n>``: the hub and the partition id, if any."""
    segments = parse_address(address)
    if len(segments) == 1:
        return segments[0], None
    if len(segments) == 3 and segments[1].lower() == "partitions":
        return segments[0], segments[2]
    raise AddressError(f"send address {address!r} must be <hub> or <hub>/Partitions/<id>")


def selector(source: Any) -> str | None:
    """The selector filter text of a source (a decoded source list), if any."""
    if not isinstance(source, Described) or not isinstance(source.value, list):
        return None
    fields = source.value
    filters = fields[7] if len(fields) > 7 else None
    if not isinstance(filters, dict):
        return None
    for key, value in filters.items():
        if str(key) == SELECTOR_FILTER:
            text = value.value if isinstance(value, Described) else value
            if isinstance(text, bytes):
                text = text.decode("utf-8")
            return str(text)
    return None


def start_sequence(partition: Partition, selector_text: str | None) -> int:
    """The sequence number a new receiver starts at."""
    if selector_text is None:
        return partition.first_sequence
    match = _SELECTOR.match(selector_text)
    if match is None:
        raise AddressError(f"unsupported selector filter {selector_text!r}")
    kind, operator, raw = match.group(1).lower(), match.group(2), match.group(3)
    inclusive = operator == ">="
    if kind == "offset":
        if raw == "-1":
            return partition.first_sequence
        if raw == "@latest":
            return partition.next_sequence
        return max(
            partition.sequence_after_offset(_number(raw, kind), inclusive), partition.first_sequence
        )
    if kind == "sequence-number":
        value = _number(raw, kind)
        return max(value if inclusive else value + 1, partition.first_sequence)
    return partition.sequence_after_time(_number(raw, kind), inclusive)


def _number(raw: str, kind: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise AddressError(
            f"x-opt-{kind} filter value must be a whole number, got {raw!r}"
        ) from None


def epoch_of(properties: Any) -> int | None:
    """The owner level (``com.microsoft:epoch``) from a link's properties, if set."""
    if not isinstance(properties, dict):
        return None
    for key, value in properties.items():
        if str(key) == EPOCH_PROPERTY and isinstance(value, int):
            return int(value)
    return None
