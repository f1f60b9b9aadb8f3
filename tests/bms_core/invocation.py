"""Real ``azure.functions`` objects for calling handlers as the host would, and output collectors."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import azure.functions as func
from azure.functions.timer import TimerRequest

from bms_core import settings as bms_settings
from bms_core.timefmt import format_ms
from bms_local.host import Out


class Collector(Out):
    """What the host passes for an output binding: remembers the value set."""

    def entities(self) -> list[dict[str, Any]]:
        """The table entities a JSON-array value holds (none if nothing was set)."""
        return [] if self.value is None else json.loads(self.value)

    def bodies(self) -> list[str]:
        """The event bodies an Event Hubs output was set to (none if nothing was set)."""
        if self.value is None:
            return []
        assert isinstance(self.value, list) and all(isinstance(b, str) for b in self.value)
        return list(self.value)


class BrokenOutput(Collector):
    """An output the host cannot write: setting it fails, as a failed send fails the call."""

    def set(self, val: Any) -> None:
        raise ConnectionError("Event Hubs unreachable")


def timer(last_ms: int | None = None, *, next_ms: int | None = None, past_due: bool = False) -> Any:
    """A TimerRequest with the schedule status the host gives a monitored timer."""
    status: dict[str, str] = {}
    if last_ms is not None:
        status["Last"] = format_ms(last_ms)
        status["LastUpdated"] = format_ms(last_ms)
    if next_ms is not None:
        status["Next"] = format_ms(next_ms)
    return TimerRequest(past_due=past_due, schedule_status=status)


def http(method: str, route: str, body: bytes = b"", **headers: str) -> func.HttpRequest:
    return func.HttpRequest(
        method=method, url=f"http://localhost/api/{route}", headers=headers, body=body
    )


def event(body: bytes, sequence_number: int = 0) -> func.EventHubEvent:
    return func.EventHubEvent(body=body, sequence_number=sequence_number, partition_key=None)


def app_settings(extra: Mapping[str, str] | None = None) -> bms_settings.Settings:
    """Settings for tests: defaults, a modest order rate, and what the test adds."""
    env = {"BMS_ORDERS_PER_MINUTE": "120", "BMS_SEED": "7", **(extra or {})}
    return bms_settings.Settings.from_env(env)
