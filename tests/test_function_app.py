"""Index the Function App the way the Python worker does and check every binding it reports.

The worker imports ``function_app``, calls ``app.get_functions()`` and sends each function's raw
binding JSON to the host; it then checks each parameter's annotation with the converter the
``azure.functions`` library registers for the binding type (or its generic binding for types
without one, such as ``table``). A mistake here only shows up on Azure at startup, so it is
asserted here.
"""

from __future__ import annotations

import inspect
import json
import typing
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest
from azure.functions import meta
from azure.functions._thirdparty import typing_inspect

import function_app
from bms_core import names
from bms_core import settings as bms_settings

REPO = Path(__file__).resolve().parents[1]


def _indexed() -> dict[str, Any]:
    out = {}
    for function in function_app.app.get_functions():
        bindings = [json.loads(raw) for raw in function.get_raw_bindings()]
        out[function.get_function_name()] = (function, {b["name"]: b for b in bindings})
    return out


INDEX = _indexed()


def test_exactly_one_function_app_with_the_six_functions() -> None:
    apps = [v for v in vars(function_app).values() if isinstance(v, func.FunctionApp)]
    assert len(apps) == 1
    assert set(INDEX) == {
        "emit_bookings",
        "emit_payments",
        "burst",
        "validate_joined",
        "health",
        "reconcile",
    }


@pytest.mark.parametrize(
    ("name", "setting"),
    [
        ("emit_bookings", bms_settings.BOOKINGS_SCHEDULE),
        ("emit_payments", bms_settings.PAYMENTS_SCHEDULE),
        ("reconcile", bms_settings.RECONCILE_SCHEDULE),
    ],
)
def test_timers_take_their_schedule_from_a_setting_and_are_monitored(
    name: str, setting: str
) -> None:
    _, bindings = INDEX[name]
    timer = bindings["timer"]
    assert timer["type"] == "timerTrigger"
    assert timer["direction"] == "IN"
    assert timer["schedule"] == f"%{setting}%"
    # Schedules under a minute are unmonitored by default; the tick's Last would be missing.
    assert timer["useMonitor"] is True
    assert timer["runOnStartup"] is False


@pytest.mark.parametrize(
    ("name", "outputs"),
    [
        ("emit_bookings", {"bookings": bms_settings.BOOKINGS_HUB}),
        ("emit_payments", {"payments": bms_settings.PAYMENTS_HUB}),
        ("burst", {"bookings": bms_settings.BOOKINGS_HUB, "payments": bms_settings.PAYMENTS_HUB}),
    ],
)
def test_emitting_functions_write_through_event_hubs_output_bindings(
    name: str, outputs: dict[str, str]
) -> None:
    function, bindings = INDEX[name]
    eventhub = {k: b for k, b in bindings.items() if b["type"] == "eventHub"}
    assert set(eventhub) == set(outputs)
    for arg, setting in outputs.items():
        assert eventhub[arg] == {
            "direction": "OUT",
            "type": "eventHub",
            "name": arg,
            "eventHubName": f"%{setting}%",
            "connection": names.EVENTHUB_CONNECTION_SETTING,
        }
        annotation = inspect.signature(function.get_user_function()).parameters[arg].annotation
        assert annotation == func.Out[typing.List[str]]  # noqa: UP006  one body per element


def test_burst_needs_a_function_key_and_sees_wrong_methods_to_refuse_them() -> None:
    _, bindings = INDEX["burst"]
    trigger = bindings["req"]
    assert trigger["type"] == "httpTrigger"
    assert trigger["route"] == "burst"
    # POST first; the rest reach the handler only to be answered 405 (see test_bursts).
    assert trigger["methods"][0] == "POST"
    assert set(trigger["methods"]) == {"POST", "GET", "PUT", "PATCH", "DELETE"}
    assert trigger["authLevel"] == "FUNCTION"
    assert bindings["$return"] == {"direction": "OUT", "type": "http", "name": "$return"}


def test_health_is_get_only_and_anonymous() -> None:
    _, bindings = INDEX["health"]
    trigger = bindings["req"]
    assert trigger["route"] == "health"
    assert trigger["methods"] == ["GET"]
    assert trigger["authLevel"] == "ANONYMOUS"


def test_validator_reads_the_joined_hub_in_batches_with_its_own_consumer_group() -> None:
    function, bindings = INDEX["validate_joined"]
    trigger = bindings["events"]
    assert trigger["type"] == "eventHubTrigger"
    assert trigger["direction"] == "IN"
    assert trigger["eventHubName"] == f"%{bms_settings.JOINED_HUB}%"
    assert trigger["consumerGroup"] == f"%{bms_settings.VALIDATOR_CONSUMER_GROUP}%"
    assert trigger["connection"] == names.EVENTHUB_CONNECTION_SETTING == "EventHubConnection"
    assert trigger["cardinality"] == "MANY"
    for out, table in (
        ("findings", names.FINDINGS_TABLE),
        ("summary", names.VALIDATION_SUMMARY_TABLE),
    ):
        assert bindings[out] == {
            "direction": "OUT",
            "type": "table",
            "name": out,
            "connection": "AzureWebJobsStorage",
            "tableName": table,
        }
    retry = function.get_settings_dict("retry_policy")
    assert retry is not None
    assert retry["strategy"] == "exponential_backoff"
    assert int(retry["max_retry_count"]) > 0


def test_reconcile_records_its_summary_through_a_table_output() -> None:
    _, bindings = INDEX["reconcile"]
    assert bindings["summary"]["type"] == "table"
    assert bindings["summary"]["tableName"] == names.RECONCILE_TABLE
    assert bindings["summary"]["connection"] == "AzureWebJobsStorage"


def test_retry_policies_only_where_python_supports_them() -> None:
    """Retry policies apply to timer and Event Hubs triggers only."""
    for function, bindings in INDEX.values():
        if function.get_settings_dict("retry_policy") is not None:
            trigger = next(b for b in bindings.values() if b["type"].endswith("Trigger"))
            assert trigger["type"] in {"timerTrigger", "eventHubTrigger"}


# --- annotations, as the worker's converters check them ----------------------------------------
def _converter(binding_type: str) -> Any:
    return meta.get_binding_registry().get(binding_type)


def _generic_output_ok(pytype: Any) -> bool:
    """The worker's GenericBinding (used for 'table', which has no library converter)."""
    return isinstance(pytype, type) and issubclass(pytype, (str, bytes, bytearray))


@pytest.mark.parametrize("name", sorted(INDEX))
def test_every_parameter_annotation_is_accepted_by_its_converter(name: str) -> None:
    function, bindings = INDEX[name]
    signature = inspect.signature(function.get_user_function())
    assert set(signature.parameters) == {b for b in bindings if b != "$return"}
    for pname, param in signature.parameters.items():
        annotation = param.annotation
        assert not isinstance(annotation, str), f"{name}.{pname}: string annotation"
        binding = bindings[pname]
        converter = _converter(binding["type"])
        if binding["direction"] == "OUT":
            assert typing_inspect.get_origin(annotation) is func.Out, f"{name}.{pname}"
            (inner,) = typing_inspect.get_args(annotation)
            if converter is None:
                assert _generic_output_ok(inner), f"{name}.{pname}: {inner}"
            else:
                assert converter.check_output_type_annotation(inner)
        else:
            assert converter is not None
            assert converter.check_input_type_annotation(annotation), f"{name}.{pname}"
    if "$return" in bindings:
        ret = signature.return_annotation
        assert _converter(bindings["$return"]["type"]).check_output_type_annotation(ret)


def test_builtin_generic_list_would_be_rejected_so_the_check_has_teeth() -> None:
    converter = _converter("eventHubTrigger")
    assert converter.check_input_type_annotation(typing.List[func.EventHubEvent])  # noqa: UP006
    assert not converter.check_input_type_annotation(typing.List[str])  # noqa: UP006
    assert not _generic_output_ok(typing.List[str])  # noqa: UP006


# --- configuration files agree with the code ----------------------------------------------------
def test_host_json_runs_on_functions_v4_with_the_event_hubs_choices() -> None:
    host = json.loads((REPO / "host.json").read_text())
    assert host["version"] == "2.0"
    assert host["extensionBundle"] == {
        "id": "Microsoft.Azure.Functions.ExtensionBundle",
        "version": "[4.*, 5.0.0)",
    }
    eh = host["extensions"]["eventHubs"]
    assert eh["prefetchCount"] >= eh["maxEventBatchSize"] > 0
    assert eh["batchCheckpointFrequency"] >= 1
    assert eh["initialOffsetOptions"]["type"] in {"fromStart", "fromEnd", "fromEnqueuedTime"}
    assert "Request" in host["logging"]["applicationInsights"]["samplingSettings"]["excludedTypes"]
    hours, minutes, seconds = (int(p) for p in host["functionTimeout"].split(":"))
    assert 0 < hours * 3600 + minutes * 60 + seconds <= 600  # Consumption plan maximum


def test_local_settings_example_lists_every_setting_the_bindings_and_code_read() -> None:
    example = json.loads((REPO / "local.settings.json.example").read_text())
    values = example["Values"]
    assert values["AzureWebJobsStorage"] == "UseDevelopmentStorage=true"
    assert "UseDevelopmentEmulator=true" in values["EventHubConnection"]
    assert values["FUNCTIONS_WORKER_RUNTIME"] == "python"
    expressions = {
        b[key]
        for _, bindings in INDEX.values()
        for b in bindings.values()
        for key in ("schedule", "eventHubName", "consumerGroup", "tableName")
        if key in b
    }
    referenced = {e.strip("%") for e in expressions if e.startswith("%")}
    assert referenced <= set(values)
    assert set(bms_settings.DEFAULTS) <= set(values)
    for name, default in bms_settings.DEFAULTS.items():
        assert values[name] == default, name
    identity = example["_identity_based_connections"]
    assert "EventHubConnection__fullyQualifiedNamespace" in identity


def test_funcignore_keeps_local_only_things_out_of_the_package() -> None:
    lines = {
        line.strip()
        for line in (REPO / ".funcignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for needed in (
        "tests/",
        "bench/",
        "bms_local/",
        "node_modules/",
        ".azurite/",
        "local.settings.json",
        ".venv/",
    ):
        assert needed in lines
    assert "bms_core/" not in lines


def test_requirements_txt_holds_only_what_runs_in_azure() -> None:
    text = (REPO / "requirements.txt").read_text().lower()
    for local_only in ("pytest", "ruff", "mypy", "qpid-proton", "hypothesis", "sqlglot"):
        assert local_only not in text
    assert "azure-functions" in text


def test_local_settings_example_loads_as_settings_and_scenario() -> None:
    values = json.loads((REPO / "local.settings.json.example").read_text())["Values"]
    loaded = bms_settings.Settings.from_env(values)
    assert loaded.scenario.slot_seconds == 10  # the schedules tick once per slot
    assert bms_settings.missing_required(values) == []


def test_indexing_imports_nothing_heavy() -> None:
    """Cold start: Faker, the Event Hubs and Tables SDKs, pyodbc and the generator stay unloaded."""
    import subprocess
    import sys

    from bench.cold_start import HEAVY

    code = (
        "import sys, function_app\n"
        "function_app.app.get_functions()\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
    assert "faker" in HEAVY and "azure.eventhub" in HEAVY and "pyodbc" in HEAVY


@pytest.mark.parametrize("name", ["emit_bookings", "emit_payments"])
def test_emitting_timers_retry_a_failed_tick_briefly(name: str) -> None:
    function, _ = INDEX[name]
    retry = function.get_settings_dict("retry_policy")
    assert retry is not None
    assert retry["strategy"] == "fixed_delay"
    assert int(retry["max_retry_count"]) >= 1 and retry["delay_interval"] == "00:00:03"
