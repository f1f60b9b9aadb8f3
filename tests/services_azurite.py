"""Azurite fixtures: the storage emulator from the repo's npm dependency, one per test session.

Azurite listens on ports the OS picks (``--blobPort 0`` ...) and prints the ports it got, so
several developers' sessions on one machine never collide. Use the ``azurite`` fixture's
``connection_string`` with any Azure Storage SDK; each test should use its own table or
container names (or clear what it wrote).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
AZURITE_BIN = REPO / "node_modules" / ".bin" / "azurite"
ACCOUNT = "devstoreaccount1"
# The well-known, public development-storage key (documented by Microsoft for Azurite).
ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
_LISTENING = re.compile(
    r"Azurite (Blob|Queue|Table) service is successfully listening at \S+:(\d+)"
)
STARTUP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Azurite:
    """A running Azurite: its ports and a full account-key connection string."""

    blob_port: int
    queue_port: int
    table_port: int
    location: Path

    @property
    def connection_string(self) -> str:
        host = "http://127.0.0.1"
        return (
            "DefaultEndpointsProtocol=http;"
            f"AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint={host}:{self.blob_port}/{ACCOUNT};"
            f"QueueEndpoint={host}:{self.queue_port}/{ACCOUNT};"
            f"TableEndpoint={host}:{self.table_port}/{ACCOUNT};"
        )


def start_azurite(location: Path) -> tuple[subprocess.Popen[str], Azurite]:
    """Start Azurite on OS-chosen ports; returns once all three services listen."""
    if not AZURITE_BIN.exists():
        raise RuntimeError(f"{AZURITE_BIN} is missing: run 'npm ci' in {REPO}")
    proc = subprocess.Popen(
        [
            str(AZURITE_BIN),
            "--silent",
            "--skipApiVersionCheck",
            "--disableTelemetry",
            "--location",
            str(location),
            "--blobHost",
            "127.0.0.1",
            "--queueHost",
            "127.0.0.1",
            "--tableHost",
            "127.0.0.1",
            "--blobPort",
            "0",
            "--queuePort",
            "0",
            "--tablePort",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    ports: dict[str, int] = {}
    output: list[str] = []
    done = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            output.append(line)
            match = _LISTENING.search(line)
            if match:
                ports[match.group(1)] = int(match.group(2))
                if len(ports) == 3:
                    done.set()
        done.set()

    threading.Thread(target=read, name="azurite-stdout", daemon=True).start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not done.wait(0.05):
        if time.monotonic() > deadline:
            break
    if len(ports) != 3:
        stop_azurite(proc)
        raise RuntimeError("Azurite did not start:\n" + "".join(output[-40:]))
    return proc, Azurite(ports["Blob"], ports["Queue"], ports["Table"], location)


def stop_azurite(proc: subprocess.Popen[str]) -> None:
    """Stop the Azurite process this session started (and only that one)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    """A fresh Azurite with an empty temporary workspace for the whole test session."""
    location = Path(tempfile.mkdtemp(prefix="bms-azurite-"))
    proc, service = start_azurite(location)
    try:
        yield service
    finally:
        stop_azurite(proc)
        shutil.rmtree(location, ignore_errors=True)


@pytest.fixture
def azurite_env(azurite: Azurite, monkeypatch: pytest.MonkeyPatch) -> Azurite:
    """``azurite`` with ``AzureWebJobsStorage`` pointing at it for the test's duration."""
    monkeypatch.setitem(os.environ, "AzureWebJobsStorage", azurite.connection_string)
    return azurite
