"""Emulator configuration in the same ``Config.json`` format as Microsoft's Event Hubs emulator.

One file serves both emulators::

    {"UserConfig": {"NamespaceConfig": [{"Type": "EventHub", "Name": "emulatorNs1",
      "Entities": [{"Name": "bookings", "PartitionCount": "4",
                    "ConsumerGroups": [{"Name": "asa"}]}]}],
      "LoggingConfig": {"Type": "File"}}}

``PartitionCount`` may be a number or a numeric string (Microsoft's samples use strings). The
``$Default`` consumer group always exists. Retention is not part of Microsoft's format (their
emulator keeps events for one hour); ours takes it from the command line (``--retention-hours``,
``--max-events-per-partition``) and also accepts an optional per-entity
``MessageRetentionInHours``. Every error names the offending field by its JSON path.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bms_core.names import (
    ASA_CONSUMER_GROUP,
    HUBS,
    PARTITION_COUNT,
    VALIDATOR_CONSUMER_GROUP,
)

DEFAULT_CONSUMER_GROUP = "$Default"
MAX_PARTITIONS = 32
DEFAULT_NAMESPACE = "emulatorNs1"


class ConfigError(ValueError):
    """The configuration is invalid; the message names the field (JSON path) at fault."""


@dataclass(frozen=True)
class HubConfig:
    """One event hub: its partitions, consumer groups and optional retention override."""

    name: str
    partition_count: int = PARTITION_COUNT
    consumer_groups: tuple[str, ...] = (DEFAULT_CONSUMER_GROUP,)
    retention_hours: float | None = None


@dataclass(frozen=True)
class EmulatorConfig:
    """The namespace and its hubs."""

    namespace: str = DEFAULT_NAMESPACE
    hubs: tuple[HubConfig, ...] = field(default_factory=tuple)

    def hub(self, name: str) -> HubConfig | None:
        for hub in self.hubs:
            if hub.name.lower() == name.lower():
                return hub
        return None


def project_config() -> EmulatorConfig:
    """The project's hubs (bookings, payments, joined) with its consumer groups."""
    groups = (DEFAULT_CONSUMER_GROUP, ASA_CONSUMER_GROUP, VALIDATOR_CONSUMER_GROUP)
    return EmulatorConfig(hubs=tuple(HubConfig(name, PARTITION_COUNT, groups) for name in HUBS))


def _require(obj: Any, key: str, path: str, kind: type) -> Any:
    if not isinstance(obj, dict) or key not in obj:
        raise ConfigError(f"{path}.{key} is required")
    value = obj[key]
    if not isinstance(value, kind):
        raise ConfigError(f"{path}.{key} must be a {kind.__name__}, got {value!r}")
    return value


def _partition_count(raw: Any, path: str) -> int:
    try:
        count = int(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{path} must be a whole number, got {raw!r}") from None
    if isinstance(raw, float) or not 1 <= count <= MAX_PARTITIONS:
        raise ConfigError(f"{path} must be between 1 and {MAX_PARTITIONS}, got {raw!r}")
    return count


def parse_config(data: Any) -> EmulatorConfig:
    """Validate a decoded ``Config.json`` document."""
    user = _require(data, "UserConfig", "$", dict)
    namespaces = _require(user, "NamespaceConfig", "$.UserConfig", list)
    if len(namespaces) != 1:
        raise ConfigError("$.UserConfig.NamespaceConfig must hold exactly one namespace")
    ns_path = "$.UserConfig.NamespaceConfig[0]"
    ns = namespaces[0]
    kind = _require(ns, "Type", ns_path, str)
    if kind != "EventHub":
        raise ConfigError(f'{ns_path}.Type must be "EventHub", got {kind!r}')
    name = _require(ns, "Name", ns_path, str)
    hubs: list[HubConfig] = []
    for i, entity in enumerate(_require(ns, "Entities", ns_path, list)):
        path = f"{ns_path}.Entities[{i}]"
        hub_name = _require(entity, "Name", path, str)
        if not hub_name or "/" in hub_name:
            raise ConfigError(f"{path}.Name must be a non-empty name without '/', got {hub_name!r}")
        if any(h.name.lower() == hub_name.lower() for h in hubs):
            raise ConfigError(f"{path}.Name {hub_name!r} is defined twice")
        count = _partition_count(
            entity.get("PartitionCount", PARTITION_COUNT), f"{path}.PartitionCount"
        )
        groups = [DEFAULT_CONSUMER_GROUP]
        for j, group in enumerate(entity.get("ConsumerGroups", [])):
            group_name = _require(group, "Name", f"{path}.ConsumerGroups[{j}]", str)
            if group_name.lower() not in (g.lower() for g in groups):
                groups.append(group_name)
        retention = entity.get("MessageRetentionInHours")
        if retention is not None and (
            isinstance(retention, bool) or not isinstance(retention, (int, float)) or retention <= 0
        ):
            raise ConfigError(f"{path}.MessageRetentionInHours must be a positive number")
        hubs.append(HubConfig(hub_name, count, tuple(groups), retention))
    return EmulatorConfig(name, tuple(hubs))


def load_config(path: Path) -> EmulatorConfig:
    """Read and validate a ``Config.json`` file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid JSON: {exc}") from None
    return parse_config(data)


def config_document(config: EmulatorConfig) -> dict[str, Any]:
    """``config`` in Microsoft's ``Config.json`` shape (used to write the sample file)."""
    entities = []
    for hub in config.hubs:
        groups = [{"Name": g} for g in hub.consumer_groups if g != DEFAULT_CONSUMER_GROUP]
        entities.append(
            {"Name": hub.name, "PartitionCount": str(hub.partition_count), "ConsumerGroups": groups}
        )
    return {
        "UserConfig": {
            "NamespaceConfig": [
                {"Type": "EventHub", "Name": config.namespace, "Entities": entities}
            ],
            "LoggingConfig": {"Type": "File"},
        }
    }
