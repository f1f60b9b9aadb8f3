"""What links mean to Event Hubs: publishing, consuming with owner levels, $management, $cbs.

The server's protocol layer (:mod:`.connection`) calls :meth:`Entities.attach` for every new
link, :meth:`Entities.receive` for every complete message sent to us and :meth:`Entities.forget`
when a link goes away. Replies to ``$management`` and ``$cbs`` requests go out on the same
connection's link whose source is that node (matched on the request's ``reply-to``).

Errors follow the service so the SDK raises what it raises against Azure: an unknown hub or
consumer group detaches the link with ``amqp:not-found`` and management READs answer 404; a
message over 1 MiB is rejected with ``amqp:link:message-size-exceeded``; a receiver with a higher
owner level (epoch) detaches the lower ones on its partition and consumer group with
``amqp:link:stolen``, and a receiver with a lower (or no) owner level than an existing one is
refused the same way. A sixth concurrent receiver on one partition and consumer group is refused
with ``amqp:resource-limit-exceeded``, as the service does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import urllib.parse
from typing import Any

from bms_core.publishing.partitioning import partition_for
from bms_local.eventhubs import frames as F
from bms_local.eventhubs.codec import Array, DecodeError, Described, Int, Symbol, Timestamp
from bms_local.eventhubs.connection import MAX_MESSAGE_SIZE
from bms_local.eventhubs.endpoints import Link
from bms_local.eventhubs.links import (
    AddressError,
    consumer_address,
    epoch_of,
    publish_address,
    selector,
    start_sequence,
)
from bms_local.eventhubs.messages import (
    BATCH_FORMAT,
    MessageParts,
    decode_request,
    encode_reply,
    split_message,
    unpack_batch,
)
from bms_local.eventhubs.store import Partition, Store

MANAGEMENT = "$management"
CBS = "$cbs"
MAX_RECEIVERS = 5
"""Concurrent receivers per partition and consumer group, as on the service."""


class Entities:
    """Event Hubs semantics over a :class:`~bms_local.eventhubs.store.Store`."""

    def __init__(self, store: Store, namespace_host: str, sas_key: str | None = None) -> None:
        self.store = store
        self.namespace_host = namespace_host
        self.sas_key = sas_key
        self.receivers: dict[tuple[int, str], list[Link]] = {}
        for hub in store.hubs.values():
            for partition in hub.partitions:
                partition.listeners.append(self._on_append)

    # ------------------------------------------------------------------ attach / detach
    def attach(self, link: Link, fields: list[Any]) -> tuple[str, str] | None:
        """Set the link up; returns (condition, description) when it must be refused."""
        address = link.address
        if address in (MANAGEMENT, CBS) or (link.sender and address.startswith("$")):
            link.kind = "reply" if link.sender else "request"
            return None
        try:
            if link.sender:
                return self._attach_consumer(link, fields)
            hub_name, partition_id = publish_address(address)
        except AddressError as exc:
            return "amqp:not-found", str(exc)
        hub = self.store.hub(hub_name)
        if hub is None:
            return "amqp:not-found", self._not_found(hub_name)
        if partition_id is not None and not self._valid_partition(
            len(hub.partitions), partition_id
        ):
            return "amqp:not-found", f"partition '{partition_id}' of '{hub_name}' does not exist"
        link.kind = "publish"
        link.hub = hub.config.name
        link.partition_id = partition_id
        return None

    def _attach_consumer(self, link: Link, fields: list[Any]) -> tuple[str, str] | None:
        where = consumer_address(link.address)
        hub = self.store.hub(where.hub)
        if hub is None:
            return "amqp:not-found", self._not_found(where.hub)
        if not hub.has_consumer_group(where.consumer_group):
            return "amqp:not-found", (
                f"consumer group '{where.consumer_group}' of '{where.hub}' does not exist"
            )
        if not self._valid_partition(len(hub.partitions), where.partition_id):
            return (
                "amqp:not-found",
                f"partition '{where.partition_id}' of '{where.hub}' does not exist",
            )
        partition = hub.partitions[int(where.partition_id)]
        epoch = epoch_of(fields[13])
        key = (id(partition), where.consumer_group.lower())
        existing = [other for other in self.receivers.get(key, []) if not other.detached]
        highest = max((o.epoch for o in existing if o.epoch is not None), default=None)
        if highest is not None and (epoch is None or epoch < highest):
            return "amqp:link:stolen", (
                f"a receiver with epoch '{highest}' already exists on partition "
                f"'{where.partition_id}' of consumer group '{where.consumer_group}'; a receiver "
                f"with epoch '{epoch}' cannot be created"
            )
        if len(existing) >= MAX_RECEIVERS:
            return "amqp:resource-limit-exceeded", (
                f"Exceeded the maximum number of allowed receivers per partition in a consumer "
                f"group which is {MAX_RECEIVERS} (partition '{where.partition_id}' of consumer "
                f"group '{where.consumer_group}')"
            )
        link.kind = "consume"
        link.partition = partition
        link.hub = hub.config.name
        link.consumer_group = where.consumer_group
        link.epoch = epoch
        link.cursor = start_sequence(partition, selector(fields[5]))
        if epoch is not None:
            for other in existing:
                if other.epoch is None or other.epoch < epoch:
                    other.session.connection.detach(
                        other,
                        "amqp:link:stolen",
                        f"New receiver with higher epoch of '{epoch}' is created hence current "
                        f"receiver with epoch '{other.epoch}' is getting disconnected",
                    )
        self.receivers.setdefault(key, []).append(link)
        return None

    def forget(self, link: Link) -> None:
        if link.kind != "consume" or link.partition is None:
            return
        key = (id(link.partition), link.consumer_group.lower())
        links = self.receivers.get(key, [])
        if link in links:
            links.remove(link)
        if not links:
            self.receivers.pop(key, None)

    def _on_append(self, partition: Partition) -> None:
        for (pid, _), links in list(self.receivers.items()):
            if pid == id(partition):
                for link in list(links):
                    link.session.connection.pump(link)

    @staticmethod
    def _valid_partition(count: int, partition_id: str) -> bool:
        return partition_id.isdigit() and int(partition_id) < count

    def _not_found(self, hub: str) -> str:
        return (
            f"The messaging entity 'sb://{self.namespace_host}/{hub}' could not be found. "
            f"Hubs: {', '.join(h.config.name for h in self.store.hubs.values())}"
        )

    # ------------------------------------------------------------------ messages to us
    def receive(self, link: Link, message_format: int, data: bytes) -> Described:
        """Handle a complete message sent on ``link``; returns the delivery outcome."""
        if len(data) > MAX_MESSAGE_SIZE:
            return F.rejected(
                "amqp:link:message-size-exceeded",
                f"The received message (size {len(data)} bytes) exceeds the limit "
                f"({MAX_MESSAGE_SIZE} bytes) currently allowed on the link.",
            )
        try:
            if link.kind == "publish":
                return self._publish(link, message_format, data)
            if link.kind == "request":
                self._request(link, data)
                return F.accepted()
        except DecodeError as exc:
            return F.rejected("amqp:decode-error", f"message could not be decoded: {exc}")
        return F.rejected("amqp:not-allowed", f"cannot send to '{link.address}'")

    def _publish(self, link: Link, message_format: int, data: bytes) -> Described:
        hub = self.store.hub(link.hub)
        if hub is None:
            return F.rejected("amqp:not-found", self._not_found(link.hub))
        outer = split_message(data)
        key = outer.partition_key
        if message_format == BATCH_FORMAT:
            events = [split_message(inner) for inner in unpack_batch(outer)]
        else:
            events = [outer]
        if key is not None:
            events = [
                e if e.partition_key is not None else e._replace(partition_key=key) for e in events
            ]
        if link.partition_id is not None:
            partition = hub.partitions[int(link.partition_id)]
        elif key is not None:
            partition = hub.partitions[partition_for(key, len(hub.partitions))]
        else:
            partition = hub.next_round_robin()
        if events:
            partition.append(events)
        return F.accepted()

    def _request(self, link: Link, data: bytes) -> None:
        request = decode_request(data)
        app = request.application_properties
        if link.address == CBS:
            code, description = self._put_token(request.value, app)
            value: Any = None
        else:
            code, description, value = self._read(app)
        reply = encode_reply(
            request.message_id,
            {
                "status-code": Int(code),
                "statusCode": Int(code),
                "status-description": description,
                "statusDescription": description,
            },
            value,
        )
        reply_link = self._reply_link(link, request.reply_to)
        if reply_link is not None:
            reply_link.pending.append(reply)
            reply_link.session.connection.pump(reply_link)

    @staticmethod
    def _reply_link(link: Link, reply_to: str | None) -> Link | None:
        candidates = [
            other
            for session in link.session.connection.sessions.values()
            for other in session.links.values()
            if other.sender and other.kind == "reply" and other.address == link.address
        ]
        for other in candidates:
            if reply_to is not None and other.target_address == reply_to:
                return other
        return candidates[0] if candidates else None

    def _read(self, app: dict[str, Any]) -> tuple[int, str, Any]:
        operation, kind, name = app.get("operation"), app.get("type"), app.get("name")
        if operation != "READ":
            return 400, f"unsupported management operation {operation!r}", None
        hub = self.store.hub(str(name)) if name is not None else None
        if hub is None:
            return 404, self._not_found(str(name)), None
        if kind == "com.microsoft:eventhub":
            return (
                200,
                "OK",
                {
                    "name": hub.config.name,
                    "type": Symbol("com.microsoft:eventhub"),
                    "created_at": Timestamp(hub.created_ms),
                    "partition_count": Int(len(hub.partitions)),
                    "partition_ids": Array("string", [p.partition_id for p in hub.partitions]),
                },
            )
        if kind == "com.microsoft:partition":
            partition_id = str(app.get("partition"))
            if not self._valid_partition(len(hub.partitions), partition_id):
                return (
                    404,
                    f"partition '{partition_id}' of '{hub.config.name}' does not exist",
                    None,
                )
            props = hub.partitions[int(partition_id)].properties()
            return (
                200,
                "OK",
                {
                    "name": hub.config.name,
                    "type": Symbol("com.microsoft:partition"),
                    "partition": partition_id,
                    **props,
                },
            )
        return 400, f"unsupported management type {kind!r}", None

    def _put_token(self, token: Any, app: dict[str, Any]) -> tuple[int, str]:
        if self.sas_key is None:
            return 202, "Accepted"
        if isinstance(token, bytes):
            token = token.decode("utf-8", "replace")
        if not isinstance(token, str) or not verify_sas(token, self.sas_key):
            return 401, "InvalidSignature: the token's signature does not match the configured key"
        return 202, "Accepted"


def verify_sas(token: str, key: str) -> bool:
    """Check a ``SharedAccessSignature sr=..&sig=..&se=..&skn=..`` token against ``key``."""
    prefix = "SharedAccessSignature "
    if not token.startswith(prefix):
        return False
    fields = dict(urllib.parse.parse_qsl(token[len(prefix) :]))
    try:
        resource, signature, expiry = fields["sr"], fields["sig"], int(fields["se"])
    except (KeyError, ValueError):
        return False
    if expiry < time.time():
        return False
    to_sign = f"{urllib.parse.quote_plus(resource)}\n{expiry}".encode()
    expected = base64.b64encode(hmac.new(key.encode(), to_sign, hashlib.sha256).digest()).decode()
    return hmac.compare_digest(expected, signature)


__all__ = ["CBS", "MANAGEMENT", "Entities", "MessageParts", "verify_sas"]
