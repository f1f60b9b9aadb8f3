"""``python -m bms_local eventhubs``: ready line, SDK traffic, clean stop on
SIGTERM, data folder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from azure.eventhub import EventData, EventHubProducerClient

from bms_core.names import PAYMENTS_HUB
from bms_local.cli.eventhubs import READY_PREFIX

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.eventhubs


def _start(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "bms_local", "eventhubs", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env=env,
    )


def _ready(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith(READY_PREFIX), line + (process.stderr.read() if process.stderr else "")
    return line[len(READY_PREFIX) :].strip()


def test_ready_line_serves_the_sdk_and_sigterm_stops_cleanly(tmp_path: Path) -> None:
    process = _start("--data-dir", str(tmp_path))
    try:
        connection_string = _ready(process)
        assert connection_string.endswith(";UseDevelopmentEmulator=true")
        assert "Endpoint=sb://127.0.0.1:" in connection_string
        producer = EventHubProducerClient.from_connection_string(
            connection_string, eventhub_name=PAYMENTS_HUB, retry_total=0
        )
        with producer:
            producer.send_event(EventData(b"kept"), partition_id="1")
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(20)
    assert code == 0
    assert (tmp_path / PAYMENTS_HUB / "1.log").stat().st_size > 0


def test_bad_config_names_the_field(tmp_path: Path) -> None:
    config = tmp_path / "Config.json"
    config.write_text(
        '{"UserConfig": {"NamespaceConfig": [{"Type": "EventHub", "Name": "ns",'
        ' "Entities": [{"Name": "h", "PartitionCount": "zero"}]}]}}'
    )
    process = _start("--config", str(config))
    _, stderr = process.communicate(timeout=20)
    assert process.returncode == 2
    assert "Entities[0].PartitionCount" in stderr
