"""``up``/``down``: the real-time local pipeline answers a burst over HTTP and stops cleanly."""

from __future__ import annotations

import json
import re
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bms_local.azurite import free_port
from bms_local.up import _alive, batch_line, read_state

pytestmark = [pytest.mark.slow, pytest.mark.eventhubs, pytest.mark.azurite]
REPO = Path(__file__).resolve().parents[2]
HTTP_TIMEOUT_S = 2.0


def _bms_local(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bms_local", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _ports() -> list[str]:
    return [
        "--http-port",
        str(free_port()),
        "--eventhubs-port",
        str(free_port()),
        "--blob-port",
        str(free_port()),
        "--queue-port",
        str(free_port()),
        "--table-port",
        str(free_port()),
    ]


def _post(url: str, body: dict[str, object]) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_burst_over_http_reaches_the_warehouse_and_down_stops_everything(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    ports = _ports()
    started = _bms_local(
        "up",
        "--detach",
        "--state-dir",
        str(state_dir),
        *ports,
        "--settings",
        str(tmp_path / "absent.json"),
        "--set",
        "BMS_PAYMENTS_SCHEDULE=*/2 * * * * *",
        "--set",
        "BMS_ORDERS_PER_MINUTE=6",
        "--set",
        "BMS_BURST_CHUNK_ORDERS=100",
        "--workers",
        "1",
        "--http-timeout",
        str(HTTP_TIMEOUT_S),
        "--set",
        "BMS_VALIDATION_SAMPLE_RATE=1",  # every row's latency is logged
    )
    assert started.returncode == 0, started.stderr
    state = read_state(state_dir)
    assert state is not None and state.ready
    pids = [state.pid, *state.children.values()]
    try:
        with urllib.request.urlopen(f"{state.http}/health", timeout=30) as response:
            assert response.status == 200
        status, body = _post(
            f"{state.http}/burst",
            {"orders": 12, "scenario": {"payment_delay_median_seconds": 1}},
        )
        assert status == 202, body
        burst_id = str(body["burst_id"])
        status, bad = _post(f"{state.http}/burst", {"orders": 0})
        assert status == 400 and bad["field"] == "orders"
        status, flash = _post(f"{state.http}/burst", {"orders": 300})
        assert status == 202 and flash["chunks"] == 3, flash
        progress: dict[str, object] = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and progress.get("chunks", {}) != {
            "total": 3,
            "done": 3,
            "failed": 0,
            "pending": 0,
        }:
            time.sleep(0.5)
            with urllib.request.urlopen(f"{state.http}/{flash['progress'][5:]}") as response:
                progress = json.loads(response.read())
        assert progress["chunks"] == {"total": 3, "done": 3, "failed": 0, "pending": 0}
        _twenty_concurrent_bursts_are_all_answered(state.http)
        _a_lying_content_length_is_answered_in_bounded_time(state.http)
        deadline = time.monotonic() + 120
        rows = 0
        while time.monotonic() < deadline and rows == 0:
            time.sleep(1)
            with sqlite3.connect(state.warehouse) as db:
                rows = db.execute(
                    "SELECT COUNT(*) FROM fact_seat_payment WHERE order_id LIKE ?",
                    (f"{burst_id}%",),
                ).fetchone()[0]
        assert rows > 0, "no joined row of the burst reached the warehouse"
        # the validator's batches are logged with the pipeline's latency (wall clock here)
        log_path = state_dir / "up.log"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "latency p50" not in log_path.read_text():
            time.sleep(1)
        log = log_path.read_text()
        assert re.search(r"validate_joined: \d+ rows.*latency p50 -?\d+\.\d s, p95", log), log
        assert "late-arrival" in log
    finally:
        stopped = _bms_local("down", "--state-dir", str(state_dir))
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in pids)
    assert read_state(state_dir) is None
    assert "nothing to stop" in _bms_local("down", "--state-dir", str(state_dir)).stdout


def _twenty_concurrent_bursts_are_all_answered(api: str) -> None:
    def burst(n: int) -> int:
        return _post(f"{api}/burst", {"orders": 300, "seed": n})[0]

    with ThreadPoolExecutor(20) as pool:
        statuses = list(pool.map(burst, range(20)))
    assert statuses == [202] * 20


def _a_lying_content_length_is_answered_in_bounded_time(api: str) -> None:
    """A body shorter than its Content-Length from a client that then stays silent: 408 when
    the socket timeout passes, and the burst is never run."""
    port = int(api.split(":")[2].split("/")[0])
    with socket.create_connection(("127.0.0.1", port), timeout=HTTP_TIMEOUT_S + 30) as sock:
        sock.sendall(b'POST /api/burst HTTP/1.1\r\nContent-Length: 100\r\n\r\n{"orders": 1')
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["error"]


def test_busy_port_is_named_with_the_option_to_change_it(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        ports = _ports()
        ports[ports.index("--http-port") + 1] = str(port)
        result = _bms_local("up", "--state-dir", str(tmp_path), *ports, timeout=60)
    assert result.returncode == 1
    assert f"port {port}" in result.stderr and "--http-port" in result.stderr


def test_a_batch_line_names_rows_findings_and_latency() -> None:
    summary = json.dumps(
        [
            {
                "rows": 120,
                "sampled": 30,
                "findings": 0,
                "latency_rows": 30,
                "latency_unknown": 0,
                "latency_p50_ms": 1200,
                "latency_p95_ms": 2500,
                "latency_p99_ms": 2900,
                "latency_max_ms": 3100,
            }
        ]
    )
    assert batch_line(summary) == (
        "validate_joined: 120 rows, 30 sampled, 0 findings; "
        "latency p50 1.2 s, p95 2.5 s, p99 2.9 s, max 3.1 s (30 rows)"
    )
