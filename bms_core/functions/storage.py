"""How code outside the bindings reaches Azure Storage: the host's own connection setting.

The Functions host reads ``AzureWebJobsStorage`` in one of two forms, and so does this module:

* a connection string (``AzureWebJobsStorage``; locally ``UseDevelopmentStorage=true`` for
  Azurite), used as it is;
* identity-based: ``AzureWebJobsStorage__tableServiceUri`` / ``__queueServiceUri`` (or
  ``__accountName``, from which the public-cloud endpoints
  ``https://<account>.table.core.windows.net`` and ``.queue.`` follow), with
  ``__credential=managedidentity`` and, for a user-assigned identity, ``__clientId``. Without
  ``__credential`` the host uses the developer's sign-in (Azure CLI, VS Code ...), which is
  what :class:`azure.identity.DefaultAzureCredential` tries.

A plain connection string wins when both forms are present, as in the host. The SDK and
``azure-identity`` are imported only when a client is built (cold start).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from bms_core import names

MANAGED_IDENTITY: Final = "managedidentity"
"""The host's value of ``<connection>__credential`` for a managed identity."""


class StorageSettingError(ValueError):
    """The storage connection is absent or incomplete; ``setting`` names what to set."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(f"{setting}: {message}")
        self.setting = setting


@dataclass(frozen=True)
class StorageConnection:
    """One storage account as the host would reach it: a connection string or an identity."""

    connection_string: str | None = field(default=None, repr=False)
    table_endpoint: str | None = None
    credential_kind: str | None = None
    queue_endpoint: str | None = None
    client_id: str | None = None

    @classmethod
    def from_env(
        cls, env: Mapping[str, str], name: str = names.STORAGE_CONNECTION_SETTING
    ) -> StorageConnection:
        """The connection ``name`` describes in ``env``; absent or incomplete raises
        :class:`StorageSettingError` naming the setting."""

        def get(suffix: str) -> str | None:
            return (env.get(name + suffix) or "").strip() or None

        plain = get("")
        if plain:
            return cls(connection_string=plain)
        endpoint = get("__tableServiceUri")
        account = get("__accountName")
        if endpoint is None and account is not None:
            endpoint = f"https://{account}.table.core.windows.net"
        queues = get("__queueServiceUri")
        if queues is None and account is not None:
            queues = f"https://{account}.queue.core.windows.net"
        if endpoint is None:
            raise StorageSettingError(
                name,
                "is not set: give a connection string (locally UseDevelopmentStorage=true) or "
                f"{name}__accountName / {name}__tableServiceUri for a managed identity",
            )
        kind = get("__credential")
        if kind is not None and kind.lower() != MANAGED_IDENTITY:
            raise StorageSettingError(
                name + "__credential", f"must be {MANAGED_IDENTITY!r} or absent, got {kind!r}"
            )
        return cls(
            table_endpoint=endpoint.rstrip("/"),
            credential_kind=kind.lower() if kind else None,
            client_id=get("__clientId"),
            queue_endpoint=queues.rstrip("/") if queues else None,
        )

    @property
    def uses_identity(self) -> bool:
        return self.connection_string is None

    def credential(self) -> Any:
        """The token credential of the identity form (``None`` for a connection string)."""
        if not self.uses_identity:
            return None
        if self.credential_kind == MANAGED_IDENTITY:
            from azure.identity import ManagedIdentityCredential

            return ManagedIdentityCredential(client_id=self.client_id)
        from azure.identity import DefaultAzureCredential

        return DefaultAzureCredential(managed_identity_client_id=self.client_id)

    def table_client(self, table: str) -> Any:
        """A ``TableClient`` for ``table`` on this account (no request is made here)."""
        from azure.data.tables import TableClient

        if self.connection_string is not None:
            return TableClient.from_connection_string(self.connection_string, table_name=table)
        return TableClient(
            endpoint=str(self.table_endpoint), table_name=table, credential=self.credential()
        )

    def created_table(self, table: str) -> Any:
        """A ``TableClient`` for ``table``, the table created first if it is missing."""
        from azure.core.exceptions import ResourceExistsError

        client = self.table_client(table)
        with contextlib.suppress(ResourceExistsError):
            client.create_table()
        return client

    def queue_client(self, queue: str, **options: Any) -> Any:
        """A ``QueueClient`` for ``queue`` on this account (no request is made here);
        ``options`` go to the client (e.g. ``message_encode_policy``)."""
        from azure.storage.queue import QueueClient

        if self.connection_string is not None:
            return QueueClient.from_connection_string(self.connection_string, queue, **options)
        if self.queue_endpoint is None:
            raise StorageSettingError(
                names.STORAGE_CONNECTION_SETTING + "__queueServiceUri",
                "is not set: the burst queue needs it, or "
                f"{names.STORAGE_CONNECTION_SETTING}__accountName",
            )
        return QueueClient(
            account_url=self.queue_endpoint,
            queue_name=queue,
            credential=self.credential(),
            **options,
        )


class CreatedTable:
    """One table of a storage account, for a store that keeps rows in it: the client is made,
    and the table created if missing, on first use and once, whichever thread asks first."""

    def __init__(self, connection: str | StorageConnection, table: str) -> None:
        if isinstance(connection, str):
            connection = StorageConnection(connection_string=connection)
        self.connection = connection
        self.name = table
        self._client: Any = None
        self._lock = threading.Lock()

    def client(self) -> Any:
        """The ``TableClient`` (the first call makes one request: creating the table)."""
        with self._lock:
            if self._client is None:
                self._client = self.connection.created_table(self.name)
            return self._client
