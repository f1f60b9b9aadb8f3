"""The Function App's settings: one typed object read from the environment, checked on first use.

App settings arrive as environment variables (``local.settings.json`` locally, app settings in
Azure). Names live here once; ``function_app.py`` builds its ``%SETTING%`` binding expressions
from them, and ``local.settings.json.example`` lists every one (a test compares the two).

A missing or malformed value raises :class:`SettingsError` naming the setting, never a bare
``KeyError``. Secrets (connection strings) are held but never printed: ``repr`` and the health
report show names only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Final

from bms_core import names

if TYPE_CHECKING:
    from bms_core.scenario import Scenario
    from bms_core.storage import StorageConnection

# --- setting names ------------------------------------------------------------------------
BOOKINGS_SCHEDULE: Final = "BMS_BOOKINGS_SCHEDULE"
PAYMENTS_SCHEDULE: Final = "BMS_PAYMENTS_SCHEDULE"
RECONCILE_SCHEDULE: Final = "BMS_RECONCILE_SCHEDULE"
BOOKINGS_HUB: Final = "BMS_BOOKINGS_HUB"
PAYMENTS_HUB: Final = "BMS_PAYMENTS_HUB"
JOINED_HUB: Final = "BMS_JOINED_HUB"
VALIDATOR_CONSUMER_GROUP: Final = "BMS_VALIDATOR_CONSUMER_GROUP"
VALIDATION_SAMPLE_RATE: Final = "BMS_VALIDATION_SAMPLE_RATE"
BURST_MAX_ORDERS: Final = "BMS_BURST_MAX_ORDERS"
MAX_CATCHUP_SLOTS: Final = "BMS_MAX_CATCHUP_SLOTS"
SYNAPSE_CONNECTION: Final = "BMS_SYNAPSE_CONNECTION"
RECONCILE_WINDOW_MINUTES: Final = "BMS_RECONCILE_WINDOW_MINUTES"
RECONCILE_DELAY_MINUTES: Final = "BMS_RECONCILE_DELAY_MINUTES"
EVENTHUB_CONNECTION: Final = names.EVENTHUB_CONNECTION_SETTING
STORAGE_CONNECTION: Final = names.STORAGE_CONNECTION_SETTING

DEFAULTS: Final[dict[str, str]] = {
    BOOKINGS_SCHEDULE: "*/10 * * * * *",
    PAYMENTS_SCHEDULE: "*/10 * * * * *",
    RECONCILE_SCHEDULE: "0 5 * * * *",
    BOOKINGS_HUB: names.BOOKINGS_HUB,
    PAYMENTS_HUB: names.PAYMENTS_HUB,
    JOINED_HUB: names.JOINED_HUB,
    VALIDATOR_CONSUMER_GROUP: names.VALIDATOR_CONSUMER_GROUP,
    VALIDATION_SAMPLE_RATE: "0.1",
    BURST_MAX_ORDERS: "1000",
    MAX_CATCHUP_SLOTS: "30",
    RECONCILE_WINDOW_MINUTES: "60",
    RECONCILE_DELAY_MINUTES: "30",
}
"""Used when a setting is absent and the code runs outside the host (tests, local runner)."""

HOST_RESOLVED: Final = (
    BOOKINGS_SCHEDULE,
    PAYMENTS_SCHEDULE,
    RECONCILE_SCHEDULE,
    BOOKINGS_HUB,
    PAYMENTS_HUB,
    JOINED_HUB,
    VALIDATOR_CONSUMER_GROUP,
)
"""Settings the Functions host resolves in ``%NAME%`` binding expressions: it refuses to start
a function whose expression names an absent setting, so they are required in Azure."""

IDENTITY_SUFFIXES: Final[dict[str, tuple[str, ...]]] = {
    EVENTHUB_CONNECTION: ("__fullyQualifiedNamespace",),
    STORAGE_CONNECTION: ("__accountName", "__tableServiceUri", "__blobServiceUri"),
}
"""Identity-based forms of a connection: ``<name>__fullyQualifiedNamespace`` and friends."""

BURST_MAX_ORDERS_CEILING: Final = 100_000


class SettingsError(ValueError):
    """A setting is missing or malformed; ``setting`` names it, the message says what fits."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(f"{setting}: {message}")
        self.setting = setting


def _text(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, DEFAULTS.get(name, "")).strip()
    if not value:
        raise SettingsError(name, "is empty; set it (see local.settings.json.example)")
    return value


def _int(env: Mapping[str, str], name: str, low: int, high: int) -> int:
    raw = _text(env, name)
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(name, f"must be a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(name, f"must be between {low} and {high}, got {value}")
    return value


def _rate(env: Mapping[str, str], name: str) -> float:
    raw = _text(env, name)
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(name, f"must be a number between 0 and 1, got {raw!r}") from None
    if not 0.0 <= value <= 1.0:
        raise SettingsError(name, f"must be between 0 and 1, got {raw}")
    return value


def _schedule(env: Mapping[str, str], name: str) -> str:
    value = _text(env, name)
    if len(value.split()) != 6:
        raise SettingsError(
            name,
            "must be a six-field NCRONTAB expression '{second} {minute} {hour} {day} {month} "
            f"{{day-of-week}}', got {value!r}",
        )
    return value


def _optional(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


@dataclass(frozen=True)
class Settings:
    """Every value the functions read, typed; build with :meth:`from_env`."""

    bookings_schedule: str
    payments_schedule: str
    reconcile_schedule: str
    bookings_hub: str
    payments_hub: str
    joined_hub: str
    validator_consumer_group: str
    validation_sample_rate: float
    burst_max_orders: int
    max_catchup_slots: int
    reconcile_window_minutes: int
    reconcile_delay_minutes: int
    eventhub_connection: str | None = field(repr=False)
    storage_connection: str | None = field(repr=False)
    synapse_connection: str | None = field(repr=False)
    env: Mapping[str, str] = field(repr=False, compare=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read and check every setting; the first bad one raises :class:`SettingsError`."""
        source: Mapping[str, str] = dict(os.environ if env is None else env)
        return cls(
            bookings_schedule=_schedule(source, BOOKINGS_SCHEDULE),
            payments_schedule=_schedule(source, PAYMENTS_SCHEDULE),
            reconcile_schedule=_schedule(source, RECONCILE_SCHEDULE),
            bookings_hub=_text(source, BOOKINGS_HUB),
            payments_hub=_text(source, PAYMENTS_HUB),
            joined_hub=_text(source, JOINED_HUB),
            validator_consumer_group=_text(source, VALIDATOR_CONSUMER_GROUP),
            validation_sample_rate=_rate(source, VALIDATION_SAMPLE_RATE),
            burst_max_orders=_int(source, BURST_MAX_ORDERS, 1, BURST_MAX_ORDERS_CEILING),
            max_catchup_slots=_int(source, MAX_CATCHUP_SLOTS, 1, 8640),
            reconcile_window_minutes=_int(source, RECONCILE_WINDOW_MINUTES, 1, 1440),
            reconcile_delay_minutes=_int(source, RECONCILE_DELAY_MINUTES, 0, 1440),
            eventhub_connection=_optional(source, EVENTHUB_CONNECTION),
            storage_connection=_optional(source, STORAGE_CONNECTION),
            synapse_connection=_optional(source, SYNAPSE_CONNECTION),
            env=source,
        )

    @cached_property
    def scenario(self) -> Scenario:
        """The generator's scenario from the same environment (``BMS_SEED`` and friends)."""
        from bms_core.scenario import load_scenario

        return load_scenario(self.env)

    def require_storage(self) -> StorageConnection:
        """The storage account the burst manifest store talks to, in either of the host's forms:
        the connection string, or the identity-based ``AzureWebJobsStorage__*`` settings."""
        from bms_core.storage import StorageConnection, StorageSettingError

        try:
            return StorageConnection.from_env(self.env, STORAGE_CONNECTION)
        except StorageSettingError as exc:
            raise SettingsError(exc.setting, str(exc).split(": ", 1)[1]) from None


def missing_required(env: Mapping[str, str] | None = None) -> list[str]:
    """Names of required settings that are absent; an identity-based form counts as present."""
    source = os.environ if env is None else env
    missing = [name for name in HOST_RESOLVED if not source.get(name, "").strip()]
    for name, suffixes in IDENTITY_SUFFIXES.items():
        forms = (name, *(name + s for s in suffixes))
        if not any(source.get(form, "").strip() for form in forms):
            missing.append(name)
    return missing


def malformed(env: Mapping[str, str] | None = None) -> str | None:
    """The name of the first malformed setting, or ``None`` when all parse."""
    try:
        Settings.from_env(env)
    except SettingsError as exc:
        return exc.setting
    return None


def current() -> Settings:
    """Settings of the running :mod:`bms_core.runtime` (this process's environment in Azure)."""
    from bms_core import runtime

    return runtime.current().settings
