"""The storage connection in both of the host's forms: a connection string (against a real
Azurite) and a managed identity (the endpoint and credential built from the settings)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from azure.data.tables import TableClient
from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

from bms_core import bursts, settings
from bms_core.storage import StorageConnection, StorageSettingError

MANIFEST = bursts.BurstManifest("bstorage0001", 7, 2, 1_767_225_600_000, {}, 1, 2, 2, 2, 0)


@pytest.mark.azurite
def test_connection_string_form_reaches_azurite(azurite: Any) -> None:
    connection = StorageConnection.from_env({"AzureWebJobsStorage": azurite.connection_string})
    assert not connection.uses_identity and connection.credential() is None
    store = bursts.ManifestStore(connection, table="storage" + uuid.uuid4().hex[:12])
    store.put(MANIFEST)
    assert store.get(MANIFEST.burst_id, MANIFEST.anchor_ms) == MANIFEST


def test_connection_string_wins_over_the_identity_form() -> None:
    connection = StorageConnection.from_env(
        {
            "AzureWebJobsStorage": "UseDevelopmentStorage=true",
            "AzureWebJobsStorage__accountName": "a",
        }
    )
    assert connection.connection_string == "UseDevelopmentStorage=true"
    assert connection.table_endpoint is None


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> dict[str, dict[str, Any]]:
    """azure-identity's real credential classes, with the keyword arguments they were given."""
    seen: dict[str, dict[str, Any]] = {}

    class RecordingManaged(ManagedIdentityCredential):
        def __init__(self, **kwargs: Any) -> None:
            seen["ManagedIdentityCredential"] = kwargs
            super().__init__(**kwargs)

    class RecordingDefault(DefaultAzureCredential):
        def __init__(self, **kwargs: Any) -> None:
            seen["DefaultAzureCredential"] = kwargs
            super().__init__(**kwargs)

    monkeypatch.setattr("azure.identity.ManagedIdentityCredential", RecordingManaged)
    monkeypatch.setattr("azure.identity.DefaultAzureCredential", RecordingDefault)
    return seen


def test_user_assigned_identity_from_the_host_settings(recorded: dict[str, Any]) -> None:
    env = {
        "AzureWebJobsStorage__accountName": "stbms",
        "AzureWebJobsStorage__credential": "managedidentity",
        "AzureWebJobsStorage__clientId": "11111111-2222-3333-4444-555555555555",
    }
    client = StorageConnection.from_env(env).table_client("bmsbursts")
    assert isinstance(client, TableClient)
    assert client.url == "https://stbms.table.core.windows.net"
    assert client.account_name == "stbms" and client.table_name == "bmsbursts"
    assert isinstance(client.credential, ManagedIdentityCredential)
    assert recorded["ManagedIdentityCredential"] == {
        "client_id": "11111111-2222-3333-4444-555555555555"
    }


def test_table_service_uri_wins_over_the_account_name(recorded: dict[str, Any]) -> None:
    env = {
        "AzureWebJobsStorage__accountName": "ignored",
        "AzureWebJobsStorage__tableServiceUri": "https://stbms.table.core.chinacloudapi.cn/",
        "AzureWebJobsStorage__credential": "managedidentity",
    }
    client = StorageConnection.from_env(env).table_client("bmsbursts")
    assert client.url == "https://stbms.table.core.chinacloudapi.cn"
    assert recorded["ManagedIdentityCredential"] == {"client_id": None}


def test_without_credential_setting_the_developer_sign_in_is_used(
    recorded: dict[str, Any],
) -> None:
    client = StorageConnection.from_env({"AzureWebJobsStorage__accountName": "stbms"}).table_client(
        "bmsbursts"
    )
    assert isinstance(client.credential, DefaultAzureCredential)
    assert "ManagedIdentityCredential" not in recorded


def test_manifest_store_builds_its_client_from_the_identity_form(
    recorded: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    created: list[str] = []
    monkeypatch.setattr(TableClient, "create_table", lambda self: created.append(self.url))
    env = {
        "AzureWebJobsStorage__accountName": "stbms",
        "AzureWebJobsStorage__credential": "managedidentity",
        "AzureWebJobsStorage__clientId": "cid",
    }
    manifest_store = bursts.ManifestStore(settings.Settings.from_env(env).require_storage())
    client = manifest_store._table()
    assert created == ["https://stbms.table.core.windows.net"]
    assert client.table_name == "bmsbursts"
    assert recorded["ManagedIdentityCredential"] == {"client_id": "cid"}


@pytest.mark.parametrize(
    ("env", "setting"),
    [
        ({}, "AzureWebJobsStorage"),
        ({"AzureWebJobsStorage__clientId": "cid"}, "AzureWebJobsStorage"),
        (
            {"AzureWebJobsStorage__accountName": "a", "AzureWebJobsStorage__credential": "secret"},
            "AzureWebJobsStorage__credential",
        ),
    ],
)
def test_an_incomplete_setting_is_named(env: dict[str, str], setting: str) -> None:
    with pytest.raises(StorageSettingError) as info:
        StorageConnection.from_env(env)
    assert info.value.setting == setting
