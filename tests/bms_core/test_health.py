"""GET /api/health: version and missing settings by name, never their values."""

from __future__ import annotations

import json
from typing import Any

import pytest

import function_app
from bms_core import __version__, endpoints
from bms_core import settings as bms_settings
from bms_core.runtime import Runtime, running
from tests.bms_core.invocation import Collector, http

SECRET = "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKey=TOPSECRETVALUE"


def complete_env() -> dict[str, str]:
    env = dict(bms_settings.DEFAULTS)
    env["EventHubConnection"] = SECRET
    env["AzureWebJobsStorage"] = "UseDevelopmentStorage=true"
    return env


def health(env: dict[str, str], method: str = "GET") -> tuple[int, dict[str, Any], bytes]:
    response = endpoints.run_health(http(method, "health"), env)
    raw = response.get_body()
    return response.status_code, json.loads(raw), raw


def test_healthy_when_everything_is_set() -> None:
    status, body, raw = health(complete_env())
    assert status == 200
    assert body == {
        "status": "ok",
        "version": __version__,
        "missing_settings": [],
        "malformed_settings": [],
    }
    assert b"TOPSECRETVALUE" not in raw


def test_missing_settings_are_named_and_values_never_shown() -> None:
    env = complete_env()
    del env["BMS_JOINED_HUB"]
    del env["AzureWebJobsStorage"]
    status, body, raw = health(env)
    assert status == 503 and body["status"] == "unhealthy"
    assert body["missing_settings"] == ["BMS_JOINED_HUB", "AzureWebJobsStorage"]
    assert b"TOPSECRETVALUE" not in raw and b"servicebus" not in raw


def test_a_malformed_setting_is_named() -> None:
    env = complete_env()
    env["BMS_VALIDATION_SAMPLE_RATE"] = "lots"
    status, body, raw = health(env)
    assert status == 503
    assert body["malformed_settings"] == ["BMS_VALIDATION_SAMPLE_RATE"]
    assert b"lots" not in raw


def test_identity_based_event_hubs_connection_counts_as_set() -> None:
    env = complete_env()
    del env["EventHubConnection"]
    env["EventHubConnection__fullyQualifiedNamespace"] = "ns.servicebus.windows.net"
    assert health(env)[0] == 200


def test_only_get_is_answered() -> None:
    status, body, _ = health(complete_env(), "POST")
    assert status == 405 and body["field"] == "method"


def test_the_function_reads_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in complete_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("BMS_PAYMENTS_HUB")
    response = function_app.health(http("GET", "health"))
    assert response.status_code == 503
    assert json.loads(response.get_body())["missing_settings"] == ["BMS_PAYMENTS_HUB"]


def test_burst_with_a_broken_app_setting_answers_503_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BMS_BURST_MAX_ORDERS", "many")
    with running(Runtime()):
        response = function_app.burst(
            http("POST", "burst", b'{"orders": 1}'), Collector(), Collector()
        )
    assert response.status_code == 503
    assert json.loads(response.get_body())["setting"] == "BMS_BURST_MAX_ORDERS"
