"""The local services as child processes: the Event Hubs emulator (and Azurite, via
:mod:`bms_local.azurite`).

The emulator runs in its own process, as it would on a developer's machine, so its socket loop
does not share the interpreter lock with the SDK clients and handlers of the caller.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from bms_local.azurite import stop_process
from bms_local.cli.eventhubs import READY_PREFIX


@dataclass
class EmulatorProcess:
    process: subprocess.Popen[str]
    connection_string: str

    @property
    def port(self) -> int:
        endpoint = self.connection_string.split(";", 1)[0]
        return int(endpoint.rsplit(":", 1)[1])

    def stop(self, timeout_s: float = 10.0) -> None:
        stop_process(self.process, timeout_s)


def start_emulator_process(
    *,
    port: int = 0,
    data_dir: Path | None = None,
    log_path: Path | None = None,
    timeout_s: float = 30.0,
) -> EmulatorProcess:
    """Run ``python -m bms_local eventhubs`` and wait for its ready line."""
    command = [sys.executable, "-m", "bms_local", "eventhubs", "--port", str(port)]
    if data_dir is not None:
        command += ["--data-dir", str(data_dir)]
    stderr = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=stderr,
        stdin=subprocess.DEVNULL,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    if log_path:
        stderr.close()  # type: ignore[union-attr]
    line: list[str] = []
    reader = threading.Thread(
        target=lambda: line.append(process.stdout.readline() if process.stdout else ""),
        daemon=True,
    )
    reader.start()
    reader.join(timeout_s)
    text = line[0].strip() if line else ""
    if not text.startswith(READY_PREFIX):
        process.kill()
        process.wait()
        raise RuntimeError(
            f"the Event Hubs emulator did not start (exit code {process.returncode}); "
            f"it printed {text!r}"
        )
    return EmulatorProcess(process, text[len(READY_PREFIX) :])
