"""Fixtures that run the bms_local Event Hubs emulator (in-process, on a free loopback port).

* ``eventhubs_emulator`` (session): one emulator with the project's hubs (bookings, payments,
  joined; 4 partitions; consumer groups $Default, asa, validator) shared by every test that only
  needs somewhere to send; use unique consumer positions or fresh hubs if you count events.
* ``fresh_eventhubs`` (function): a new emulator per test, empty hubs.

Both yield an :class:`EmulatorHandle` with ``.connection_string``, ``.port`` and ``.server``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from bms_local.eventhubs import EventHubsServer, start_emulator


@dataclass
class EmulatorHandle:
    server: EventHubsServer

    @property
    def connection_string(self) -> str:
        return self.server.connection_string

    @property
    def port(self) -> int:
        return self.server.port

    def stop(self) -> None:
        self.server.stop()


@pytest.fixture(scope="session")
def eventhubs_emulator() -> Iterator[EmulatorHandle]:
    handle = EmulatorHandle(start_emulator())
    yield handle
    handle.stop()


@pytest.fixture
def fresh_eventhubs() -> Iterator[EmulatorHandle]:
    handle = EmulatorHandle(start_emulator())
    yield handle
    handle.stop()


def receive_events(
    connection_string: str,
    hub: str,
    partition_id: str,
    count: int,
    *,
    starting_position: object = "-1",
    inclusive: bool = False,
    consumer_group: str = "$Default",
    timeout_s: float = 30.0,
    **receive_options: object,
) -> list[object]:
    """Receive ``count`` events (``azure.eventhub.EventData``) from one partition with the SDK,
    or whatever arrived when ``timeout_s`` passes (a test then fails on the count)."""
    import threading

    from azure.eventhub import EventHubConsumerClient

    client = EventHubConsumerClient.from_connection_string(
        connection_string, consumer_group=consumer_group, eventhub_name=hub
    )
    events: list[object] = []
    done = threading.Event()

    def on_event(_context: object, event: object) -> None:
        if event is not None:
            events.append(event)
            if len(events) >= count:
                done.set()

    thread = threading.Thread(
        target=client.receive,
        kwargs={
            "on_event": on_event,
            "partition_id": partition_id,
            "starting_position": starting_position,
            "starting_position_inclusive": inclusive,
            **receive_options,
        },
        daemon=True,
    )
    thread.start()
    done.wait(timeout_s)
    client.close()
    thread.join(10)
    return events
