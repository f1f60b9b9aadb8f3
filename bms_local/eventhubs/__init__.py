"""A local Event Hubs emulator speaking AMQP 1.0 to the real ``azure-eventhub`` SDK.

Start one with :func:`start_emulator` (background thread) or ``python -m bms_local eventhubs``;
clients connect with :attr:`EventHubsServer.connection_string`
(``...;UseDevelopmentEmulator=true``, which makes the SDK use plain AMQP on the endpoint's port).

Modules: :mod:`.codec` (AMQP types), :mod:`.frames` (performatives), :mod:`.messages` (stored
messages and annotations), :mod:`.store` (partition logs, retention, persistence),
:mod:`.links` (addresses, start positions), :mod:`.connection` (protocol state per client),
:mod:`.entities` (Event Hubs semantics, $management, $cbs), :mod:`.server` (socket loop),
:mod:`.config` (Microsoft's ``Config.json`` format).

Not imitated (known gaps): TLS and AMQP over WebSockets; the runtime metrics of
``track_last_enqueued_event_properties``; geo replication; management operations other than
READ; transactions. Offsets are byte positions
in the partition log (opaque strings, as on the service). With a data folder, events dropped by
retention while running stay in the log file until the next start compacts it.
"""

from __future__ import annotations

from pathlib import Path

from bms_local.eventhubs.config import (
    ConfigError,
    EmulatorConfig,
    HubConfig,
    load_config,
    project_config,
)
from bms_local.eventhubs.server import BindRefused, EventHubsServer, connection_string


def start_emulator(
    config: EmulatorConfig | None = None,
    *,
    port: int = 0,
    data_dir: Path | None = None,
    **options: object,
) -> EventHubsServer:
    """Start an emulator in a background thread (port 0 picks a free one) and return it."""
    server = EventHubsServer(config or project_config(), port=port, data_dir=data_dir, **options)  # type: ignore[arg-type]
    return server.start()


__all__ = [
    "BindRefused",
    "ConfigError",
    "EmulatorConfig",
    "EventHubsServer",
    "HubConfig",
    "connection_string",
    "load_config",
    "project_config",
    "start_emulator",
]
