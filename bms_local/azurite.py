"""Azurite, the storage emulator from the npm registry, started and stopped from Python.

The repo's ``package.json`` pins Azurite; ``npm ci`` puts it in ``node_modules/.bin``. The demo,
``python -m bms_local up`` and the test session all start it through :func:`start_azurite`, so
there is one way to run it: on loopback, chosen ports (0 picks free ones), a data folder, and
readiness checked by connecting to every service port.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bms_core.names import AZURITE_BLOB_PORT, AZURITE_QUEUE_PORT, AZURITE_TABLE_PORT

REPO_ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = "devstoreaccount1"
# Azurite's documented, public development key (not a secret: it is the same for everyone).
ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


class PortBusy(RuntimeError):
    """A port the user asked for is taken; the message names it and the option to change it."""


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def check_port_free(port: int, what: str, option: str) -> None:
    """Raise :class:`PortBusy` naming ``what`` and the ``option`` that changes it."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            raise PortBusy(
                f"port {port} for {what} is already in use on 127.0.0.1; stop what uses it "
                f"or choose another with {option}"
            ) from exc


def _connects(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


@dataclass
class Azurite:
    """A running Azurite process and how to reach it."""

    process: subprocess.Popen[bytes]
    blob_port: int
    queue_port: int
    table_port: int
    location: Path

    @property
    def connection_string(self) -> str:
        """The full form (not ``UseDevelopmentStorage=true``), valid for any ports."""
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint=http://127.0.0.1:{self.blob_port}/{ACCOUNT};"
            f"QueueEndpoint=http://127.0.0.1:{self.queue_port}/{ACCOUNT};"
            f"TableEndpoint=http://127.0.0.1:{self.table_port}/{ACCOUNT};"
        )

    def stop(self, timeout_s: float = 10.0) -> None:
        stop_process(self.process, timeout_s)


def stop_process(process: subprocess.Popen[Any], timeout_s: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after ``timeout_s``; reaped either way."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def azurite_command() -> str:
    """Path of the Azurite launcher; a clear error when ``npm ci`` has not been run."""
    local = REPO_ROOT / "node_modules" / ".bin" / "azurite"
    if local.exists():
        return str(local)
    found = shutil.which("azurite")
    if found:
        return found
    raise FileNotFoundError(
        "Azurite is not installed: run 'npm ci' in the repository root (or 'make setup')"
    )


def start_azurite(
    location: Path,
    *,
    blob_port: int = AZURITE_BLOB_PORT,
    queue_port: int = AZURITE_QUEUE_PORT,
    table_port: int = AZURITE_TABLE_PORT,
    timeout_s: float = 30.0,
) -> Azurite:
    """Start Azurite on loopback; a port of 0 picks a free one. Returns once all ports answer."""
    ports = {}
    for name, port, option in (
        ("blob", blob_port, "--blob-port"),
        ("queue", queue_port, "--queue-port"),
        ("table", table_port, "--table-port"),
    ):
        if port == 0:
            port = free_port()
        else:
            check_port_free(port, f"Azurite {name}", option)
        ports[name] = port
    location.mkdir(parents=True, exist_ok=True)
    log = open(location / "azurite.log", "ab")  # noqa: SIM115 - handed to the child process
    process = subprocess.Popen(
        [
            azurite_command(),
            "--silent",
            "--skipApiVersionCheck",
            "--disableTelemetry",
            "--location",
            str(location),
            "--blobPort",
            str(ports["blob"]),
            "--queuePort",
            str(ports["queue"]),
            "--tablePort",
            str(ports["table"]),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    log.close()
    azurite = Azurite(process, ports["blob"], ports["queue"], ports["table"], location)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = (location / "azurite.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"Azurite exited with code {process.returncode}: {tail}")
        if all(_connects(p) for p in ports.values()):
            return azurite
        time.sleep(0.1)
    azurite.stop()
    raise TimeoutError(f"Azurite did not answer on ports {ports} within {timeout_s:.0f} s")
