"""Settings: typed, defaults outside the host, every bad value named."""

from __future__ import annotations

import pytest

from bms_core import settings as s
from bms_core.runtime import Runtime, current, running


def test_defaults_give_a_working_local_configuration() -> None:
    got = s.Settings.from_env({})
    assert got.bookings_schedule == "*/10 * * * * *"
    assert got.bookings_hub == "bookings" and got.joined_hub == "joined"
    assert got.validator_consumer_group == "validator"
    assert got.burst_max_orders == 1000
    assert got.validation_sample_rate == 0.1
    assert got.synapse_connection is None


def test_values_are_read_and_typed() -> None:
    got = s.Settings.from_env(
        {
            "BMS_VALIDATION_SAMPLE_RATE": "1",
            "BMS_BURST_MAX_ORDERS": "250",
            "BMS_MAX_CATCHUP_SLOTS": " 12 ",
            "BMS_SYNAPSE_CONNECTION": "Driver=SQLite3;Database=x.db",
        }
    )
    assert got.validation_sample_rate == 1.0
    assert got.burst_max_orders == 250
    assert got.max_catchup_slots == 12
    assert got.synapse_connection == "Driver=SQLite3;Database=x.db"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("BMS_VALIDATION_SAMPLE_RATE", "often", "number between 0 and 1, got 'often'"),
        ("BMS_VALIDATION_SAMPLE_RATE", "1.5", "between 0 and 1, got 1.5"),
        ("BMS_BURST_MAX_ORDERS", "ten", "whole number, got 'ten'"),
        ("BMS_BURST_MAX_ORDERS", "0", "between 1 and 100000, got 0"),
        ("BMS_MAX_CATCHUP_SLOTS", "-1", "between 1 and 8640"),
        ("BMS_BOOKINGS_SCHEDULE", "*/10 * * * *", "six-field NCRONTAB"),
        ("BMS_JOINED_HUB", "  ", "is empty"),
    ],
)
def test_a_bad_value_names_its_setting(name: str, value: str, message: str) -> None:
    with pytest.raises(s.SettingsError, match=message) as info:
        s.Settings.from_env({name: value})
    assert info.value.setting == name
    assert str(info.value).startswith(name)
    assert s.malformed({name: value}) == name


def test_connection_strings_never_show_in_repr() -> None:
    got = s.Settings.from_env({"EventHubConnection": "Endpoint=sb://x;SharedAccessKey=SECRET"})
    assert "SECRET" not in repr(got)


def test_missing_required_counts_identity_based_forms_as_present() -> None:
    full = {name: "x" for name in s.HOST_RESOLVED}
    assert s.missing_required(full) == ["EventHubConnection", "AzureWebJobsStorage"]
    full["EventHubConnection__fullyQualifiedNamespace"] = "ns.servicebus.windows.net"
    full["AzureWebJobsStorage"] = "UseDevelopmentStorage=true"
    assert s.missing_required(full) == []
    del full["BMS_JOINED_HUB"]
    assert s.missing_required(full) == ["BMS_JOINED_HUB"]


def test_manifest_store_takes_either_form_of_the_storage_setting() -> None:
    with pytest.raises(s.SettingsError, match="UseDevelopmentStorage=true") as info:
        s.Settings.from_env({}).require_storage()
    assert info.value.setting == "AzureWebJobsStorage"
    plain = s.Settings.from_env({"AzureWebJobsStorage": "UseDevelopmentStorage=true"})
    assert plain.require_storage().connection_string == "UseDevelopmentStorage=true"
    identity = s.Settings.from_env({"AzureWebJobsStorage__accountName": "acct"})
    assert identity.require_storage().table_endpoint == "https://acct.table.core.windows.net"
    wrong = s.Settings.from_env(
        {"AzureWebJobsStorage__accountName": "acct", "AzureWebJobsStorage__credential": "key"}
    )
    with pytest.raises(s.SettingsError, match="managedidentity") as info:
        wrong.require_storage()
    assert info.value.setting == "AzureWebJobsStorage__credential"


def test_a_runtime_reads_its_settings_once_and_keeps_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BMS_BURST_MAX_ORDERS", "5")
    with running(Runtime()):
        first = s.current()
        monkeypatch.setenv("BMS_BURST_MAX_ORDERS", "6")
        assert s.current() is first and first.burst_max_orders == 5
    with running(Runtime()):
        assert s.current().burst_max_orders == 6


def test_a_broken_setting_fails_every_use_until_it_is_fixed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BMS_BURST_MAX_ORDERS", "many")
    runtime = Runtime()
    for _ in range(2):
        with pytest.raises(s.SettingsError, match="BMS_BURST_MAX_ORDERS"):
            runtime.settings  # noqa: B018
    monkeypatch.setenv("BMS_BURST_MAX_ORDERS", "7")
    assert runtime.settings.burst_max_orders == 7


def test_each_thread_sees_the_runtime_it_runs_in() -> None:
    import threading

    mine, theirs = Runtime({}, clock=lambda: 1), Runtime({}, clock=lambda: 2)
    seen: list[int] = []
    started, release = threading.Event(), threading.Event()

    def other() -> None:
        with running(theirs):
            started.set()
            release.wait(5)
            seen.append(current().clock())

    thread = threading.Thread(target=other)
    with running(mine):
        thread.start()
        started.wait(5)
        seen.append(current().clock())
    release.set()
    thread.join(5)
    assert seen == [1, 2]
    assert current() is not mine and current() is not theirs


def test_scenario_comes_from_the_same_environment() -> None:
    got = s.Settings.from_env({"BMS_SEED": "42"})
    assert got.scenario.seed == 42
