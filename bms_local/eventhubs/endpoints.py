"""Sessions and link endpoints as the emulator tracks them for one connection.

A :class:`Link` is our end of an AMQP link. ``sender`` is True when we send on it: to a
consumer (``kind`` "consume", reading ``partition`` from ``cursor``) or to a client's
``$management``/``$cbs`` reply link (``kind`` "reply", sending ``pending`` replies). Otherwise we
receive: events to publish (``kind`` "publish") or management/CBS requests (``kind`` "request").
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from bms_local.eventhubs.store import Partition

if TYPE_CHECKING:
    from bms_local.eventhubs.connection import Connection


class Link:
    """A link endpoint of ours. ``sender`` means we send (to a consumer or a reply link)."""

    def __init__(
        self, session: Session, name: str, handle: int, sender: bool, address: str
    ) -> None:
        self.session = session
        self.name = name
        self.handle = handle
        self.sender = sender
        self.address = address
        self.kind = ""
        self.target_address: str | None = None
        self.credit = 0
        self.delivery_count = 0
        self.pending: deque[bytes] = deque()
        self.partition: Partition | None = None
        self.cursor = 0
        self.epoch: int | None = None
        self.consumer_group = ""
        self.hub = ""
        self.partition_id: str | None = None
        self.partial = bytearray()
        self.partial_first: list[Any] | None = None
        self.detached = False
        self.presettled = True


class Session:
    def __init__(self, connection: Connection, channel: int) -> None:
        self.connection = connection
        self.channel = channel
        self.next_outgoing_id = 0
        self.next_incoming_id = 0
        self.remote_incoming_window = 0
        self.links: dict[int, Link] = {}
