"""Azurite fixtures: the storage emulator from the repo's npm dependency, one per test session.

Started through :func:`bms_local.azurite.start_azurite` (the one way the repo runs Azurite) on
free loopback ports, so several sessions on one machine never collide, with an empty temporary
workspace. Tests should use their own table or container names.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bms_local.azurite import Azurite, start_azurite


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    """A running Azurite: ``.connection_string`` (account-key form), ``.blob_port``,
    ``.table_port``, ``.queue_port``; stopped at the end of the session."""
    location = Path(tempfile.mkdtemp(prefix="bms-azurite-"))
    service = start_azurite(location, blob_port=0, queue_port=0, table_port=0)
    try:
        yield service
    finally:
        service.stop()
        shutil.rmtree(location, ignore_errors=True)


@pytest.fixture
def azurite_env(azurite: Azurite, monkeypatch: pytest.MonkeyPatch) -> Azurite:
    """``azurite`` with ``AzureWebJobsStorage`` pointing at it for the test's duration."""
    monkeypatch.setitem(os.environ, "AzureWebJobsStorage", azurite.connection_string)
    return azurite
