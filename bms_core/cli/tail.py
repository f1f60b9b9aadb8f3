"""``python -m bms_core tail``: print or validate the events of one hub as they arrive.

Reads every partition of ``--hub`` through the ``azure-eventhub`` consumer (greedy load
balancing, so one process owns all partitions at once). Without ``--validate`` each event is one
line: ``partition  sequence  enqueued-time  partition-key  body``. With ``--validate`` each body is
checked against the contract (bookings and payments: the msgspec structs of
``bms_core.contract``; joined: the ``SEAT_COLUMNS`` keys in order) and, for an event sent
with a partition key (``publish --keyed``), against routing: the key must be its ``order_id`` and
the event must sit on the partition that key hashes to. Keyless events (what the Functions
output bindings send) may sit on any partition. Invalid events are printed with the reason,
repeated ``event_id``s are counted as duplicates, and a summary ends the run.

With ``--storage-connection-string`` (or ``--storage-account-url`` for your Microsoft Entra
sign-in) and ``--checkpoint-container`` the position of each partition is checkpointed in Blob
storage (``azure-eventhub-checkpointstoreblob``; Azurite locally) after every event handled, so
the next run resumes after the last event handled (at-least-once: an event handled just before a
crash can come again).

``--namespace`` connects to a namespace with ``DefaultAzureCredential`` instead of a connection
string: the form the deployed namespace accepts, since it refuses shared access keys.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, TextIO

import msgspec

from bms_core.joined import seat_column_names
from bms_core.names import BOOKINGS_HUB, JOINED_HUB, PAYMENTS_HUB
from bms_core.partitioning import partition_for

HELP = "Print or validate a hub's events as they arrive; optional checkpoints in Blob storage."


@dataclass
class TailReport:
    received: int = 0
    valid: int = 0
    invalid: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    per_partition: Counter[str] = field(default_factory=Counter)
    bodies: list[bytes] = field(default_factory=list)

    def summary(self) -> str:
        parts = ", ".join(f"{p}={n}" for p, n in sorted(self.per_partition.items()))
        lines = [
            f"received {self.received} (per partition: {parts or 'none'}); valid {self.valid}, "
            f"invalid {sum(self.invalid.values())}, duplicates {self.duplicates}"
        ]
        lines += [f"invalid {n}: {reason}" for reason, n in self.invalid.most_common()]
        return "\n".join(lines)


def check_event(
    hub: str,
    body: bytes,
    partition_id: str,
    partition_count: int,
    partition_key: str | None = None,
) -> tuple[str | None, str | None]:
    """``(event_id, problem)`` of one event body; ``problem`` is None when it is valid.

    Routing is checked only for an event sent with a partition key."""
    from bms_core.contract import decode_booking, decode_payment

    if hub in (BOOKINGS_HUB, PAYMENTS_HUB):
        decode = decode_booking if hub == BOOKINGS_HUB else decode_payment
        try:
            event = decode(body)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            return None, f"not a valid {hub[:-1]}: {exc}"
        if partition_key is None:
            return event.event_id, None
        if partition_key != event.order_id:
            return event.event_id, (
                f"partition key {partition_key[:80]!r} is not the order_id {event.order_id}"
            )
        expected = partition_for(event.order_id, partition_count)
        if str(expected) != partition_id:
            return event.event_id, (
                f"order_id {event.order_id} is on partition {partition_id}, its key hashes to {expected}"
            )
        return event.event_id, None
    if hub == JOINED_HUB:
        try:
            row = json.loads(body)
        except ValueError as exc:
            return None, f"joined row is not JSON: {exc}"
        if not isinstance(row, dict) or tuple(row) != seat_column_names():
            return None, "joined row columns differ from SEAT_COLUMNS (names or order)"
        return None, None
    return None, None


def tail(
    connection_string: str | None,
    hub: str,
    *,
    namespace: str | None = None,
    consumer_group: str = "$Default",
    validate: bool = False,
    from_start: bool = False,
    checkpoint_store: Any = None,
    max_events: int | None = None,
    idle_timeout_s: float | None = None,
    stop: threading.Event | None = None,
    out: TextIO = sys.stdout,
    keep_bodies: bool = False,
    balance_interval_s: float = 1.0,
) -> TailReport:
    """Receive until ``max_events``, or ``stop``, or every partition's reader has started and
    no event came for ``idle_timeout_s``. ``balance_interval_s`` is the SDK's load-balancing
    period; stopping waits for the current one to end."""
    from azure.eventhub import EventHubConsumerClient

    stop = stop or threading.Event()
    report = TailReport()
    seen: set[str] = set()
    lock = threading.Lock()
    last_event = [time.monotonic()]
    started: set[str] = set()
    options: dict[str, Any] = {
        "consumer_group": consumer_group,
        "eventhub_name": hub,
        "checkpoint_store": checkpoint_store,
        "load_balancing_strategy": "greedy",
        "load_balancing_interval": balance_interval_s,
    }
    if connection_string:
        client = EventHubConsumerClient.from_connection_string(connection_string, **options)
    elif namespace:
        from azure.identity import DefaultAzureCredential

        client = EventHubConsumerClient(
            fully_qualified_namespace=namespace, credential=DefaultAzureCredential(), **options
        )
    else:
        raise ValueError("a connection string or a namespace is required")
    partition_count = len(client.get_partition_ids())

    def on_partition_initialize(context: Any) -> None:
        with lock:
            started.add(context.partition_id)
            last_event[0] = time.monotonic()

    def on_event(context: Any, event: Any) -> None:
        with lock:
            if stop.is_set():
                return
            last_event[0] = time.monotonic()
            body = b"".join(event.body) if not isinstance(event.body, bytes) else event.body
            _handle(
                report, seen, hub, context.partition_id, event, body, validate, partition_count, out
            )
            if keep_bodies:
                report.bodies.append(body)
            if checkpoint_store is not None:
                context.update_checkpoint(event)
            if max_events is not None and report.received >= max_events:
                stop.set()

    # No max_wait_time: with one, the SDK hands over one event per max_wait_time per partition.
    worker = threading.Thread(
        target=client.receive,
        kwargs={
            "on_event": on_event,
            "on_partition_initialize": on_partition_initialize,
            "starting_position": "-1" if from_start else "@latest",
        },
        daemon=True,
    )
    worker.start()
    while not stop.wait(0.1) and worker.is_alive():
        with lock:
            quiet = time.monotonic() - last_event[0]
            if (
                idle_timeout_s is not None
                and len(started) == partition_count
                and quiet > idle_timeout_s
            ):
                stop.set()
    client.close()
    worker.join(15)
    return report


def _handle(
    report: TailReport,
    seen: set[str],
    hub: str,
    partition_id: str,
    event: Any,
    body: bytes,
    validate: bool,
    partition_count: int,
    out: TextIO,
) -> None:
    report.received += 1
    report.per_partition[partition_id] += 1
    key = (
        event.partition_key.decode("utf-8", "replace")
        if isinstance(event.partition_key, bytes)
        else event.partition_key
    )
    if not validate:
        text = body.decode("utf-8", "replace")
        print(
            f"{partition_id}\t{event.sequence_number}\t{event.enqueued_time.isoformat()}\t{key}\t{text}",
            file=out,
        )
        return
    event_id, problem = check_event(hub, body, partition_id, partition_count, key)
    if event_id is not None:
        if event_id in seen:
            report.duplicates += 1
        seen.add(event_id)
    if problem is None:
        report.valid += 1
        return
    report.invalid[problem.split(":")[0]] += 1
    print(f"invalid partition {partition_id} seq {event.sequence_number}: {problem}", file=out)


def blob_checkpoint_store(
    storage_connection_string: str | None, container: str, *, account_url: str | None = None
) -> Any:
    """A ``BlobCheckpointStore`` on ``container``, created when missing: from a connection
    string, or from ``account_url`` with ``DefaultAzureCredential``."""
    from azure.core.exceptions import ResourceExistsError
    from azure.eventhub.extensions.checkpointstoreblob import BlobCheckpointStore
    from azure.storage.blob import BlobServiceClient

    if storage_connection_string:
        service = BlobServiceClient.from_connection_string(storage_connection_string)
        store = BlobCheckpointStore.from_connection_string(storage_connection_string, container)
    elif account_url:
        from azure.identity import DefaultAzureCredential

        credential = DefaultAzureCredential()
        service = BlobServiceClient(account_url, credential=credential)
        store = BlobCheckpointStore(account_url, container, credential=credential)
    else:
        raise ValueError("a storage connection string or an account URL is required")
    with contextlib.suppress(ResourceExistsError):
        service.create_container(container)
    return store


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hub", required=True, help="event hub name (bookings, payments, joined)")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--connection-string", help="Event Hubs connection string")
    target.add_argument(
        "--namespace",
        help="fully qualified namespace (<ns>.servicebus.windows.net), with DefaultAzureCredential",
    )
    parser.add_argument("--consumer-group", default="$Default", help="default $Default")
    parser.add_argument(
        "--validate", action="store_true", help="check events instead of printing them"
    )
    parser.add_argument(
        "--from-start",
        action="store_true",
        help="without a checkpoint, start at the oldest event (default: new events only)",
    )
    storage = parser.add_mutually_exclusive_group()
    storage.add_argument(
        "--storage-connection-string", help="Blob storage for checkpoints (Azurite locally)"
    )
    storage.add_argument(
        "--storage-account-url",
        help="Blob storage for checkpoints (https://<account>.blob.core.windows.net), with "
        "DefaultAzureCredential",
    )
    parser.add_argument(
        "--checkpoint-container", help="blob container for checkpoints (created if missing)"
    )
    parser.add_argument("--max-events", type=int, help="stop after this many events")
    parser.add_argument(
        "--idle-timeout", type=float, help="stop after this many seconds without events"
    )


def run(args: argparse.Namespace) -> int:
    storage = args.storage_connection_string or args.storage_account_url
    if bool(storage) != bool(args.checkpoint_container):
        print(
            "error: --checkpoint-container goes with --storage-connection-string or "
            "--storage-account-url",
            file=sys.stderr,
        )
        return 2
    if args.max_events is not None and args.max_events < 1:
        print("error: --max-events must be at least 1", file=sys.stderr)
        return 2
    store = None
    if storage:
        store = blob_checkpoint_store(
            args.storage_connection_string,
            args.checkpoint_container,
            account_url=args.storage_account_url,
        )
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        return stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    report = tail(
        args.connection_string,
        args.hub,
        namespace=args.namespace,
        consumer_group=args.consumer_group,
        validate=args.validate,
        from_start=args.from_start,
        checkpoint_store=store,
        max_events=args.max_events,
        idle_timeout_s=args.idle_timeout,
        stop=stop,
    )
    print(report.summary(), file=sys.stderr)
    return 1 if args.validate and report.invalid else 0
