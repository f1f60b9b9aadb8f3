"""``python -m bms_local up`` / ``down``: the local pipeline in real time, on the wall clock.

``up`` starts, in this order: Azurite and the Event Hubs emulator (child processes), the
reference stream job (consuming ``bookings`` and ``payments`` with consumer group ``asa``,
writing the SQLite warehouse and the ``joined`` hub), the validator (``joined`` with consumer
group ``validator``), the timer functions on their NCRONTAB schedules, and an HTTP server
with the Functions host's routes (``POST /api/burst``, ``GET /api/health``;
:mod:`bms_local.functions_http` says how it reads requests and which limits it keeps). All
handlers are the real ones from ``function_app.py``, run by :class:`bms_local.host.LocalHost`.

It records what it started in ``<state-dir>/up.json``; ``down`` stops exactly those processes
(checking each one's command line first) and nothing else.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bms_core import names
from bms_core.joined import latency
from bms_local.azurite import check_port_free
from bms_local.functions_http import SOCKET_TIMEOUT_S

STATE_FILE = "up.json"
VALIDATOR_BATCH = 256


@dataclass
class UpOptions:
    state_dir: Path = Path(".bms_local")
    http_port: int = 7071
    http_timeout_s: float = SOCKET_TIMEOUT_S
    """Seconds an HTTP client has to send its request (the socket timeout of the routes)."""
    eventhubs_port: int = names.LOCAL_EVENTHUBS_PORT
    blob_port: int = names.AZURITE_BLOB_PORT
    queue_port: int = names.AZURITE_QUEUE_PORT
    table_port: int = names.AZURITE_TABLE_PORT
    settings: dict[str, str] = field(default_factory=dict)
    """Extra app settings (``BMS_*``), e.g. from ``local.settings.json``."""
    workers: int | None = None
    """Queue-trigger worker processes (``None``: one per core)."""


@dataclass
class UpState:
    """What ``up`` started; ``down`` reads it."""

    pid: int
    children: dict[str, int]
    http: str
    eventhubs: str
    storage: str
    warehouse: str
    started_ms: int
    ready: bool = False


def state_path(state_dir: Path) -> Path:
    return state_dir / STATE_FILE


def read_state(state_dir: Path) -> UpState | None:
    path = state_path(state_dir)
    if not path.exists():
        return None
    return UpState(**json.loads(path.read_text()))


def _write_state(state_dir: Path, state: UpState) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    tmp = state_path(state_dir).with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(state), indent=2))
    tmp.replace(state_path(state_dir))


def local_settings(path: Path = Path("local.settings.json")) -> dict[str, str]:
    """``BMS_*`` values of a local.settings.json, as ``func start`` would load them."""
    if not path.exists():
        return {}
    values = json.loads(path.read_text()).get("Values", {})
    return {k: str(v) for k, v in values.items() if k.startswith("BMS_") and v != ""}


class _Stack:
    """The running parts, stopped in reverse order."""

    def __init__(self) -> None:
        self.stop_event = threading.Event()
        self._closers: list[Any] = []

    def on_stop(self, closer: Any) -> None:
        self._closers.append(closer)

    def stop(self) -> None:
        self.stop_event.set()
        for closer in reversed(self._closers):
            with contextlib.suppress(Exception):
                closer()
        self._closers.clear()


def run_up(options: UpOptions, *, announce: Any = print) -> None:
    """Start everything, serve until SIGTERM / Ctrl-C, then stop everything."""
    from bms_local.azurite import start_azurite
    from bms_local.services import start_emulator_process

    for port, what, option in (
        (options.http_port, "the Functions HTTP routes", "--http-port"),
        (options.eventhubs_port, "the Event Hubs emulator", "--eventhubs-port"),
        (options.blob_port, "Azurite blob", "--blob-port"),
        (options.queue_port, "Azurite queue", "--queue-port"),
        (options.table_port, "Azurite table", "--table-port"),
    ):
        if port:
            check_port_free(port, what, option)
    state_dir = options.state_dir
    state_dir.mkdir(parents=True, exist_ok=True)
    existing = read_state(state_dir)
    if existing is not None and _alive(existing.pid) and existing.pid != os.getpid():
        raise RuntimeError(
            f"bms_local up is already running (pid {existing.pid}); "
            "run 'python -m bms_local down' first"
        )
    stack = _Stack()
    signal.signal(signal.SIGTERM, lambda *_: stack.stop_event.set())
    try:
        azurite = start_azurite(
            state_dir / "azurite",
            blob_port=options.blob_port,
            queue_port=options.queue_port,
            table_port=options.table_port,
        )
        stack.on_stop(azurite.stop)
        emulator = start_emulator_process(
            port=options.eventhubs_port,
            data_dir=state_dir / "eventhubs",
            log_path=state_dir / "eventhubs.log",
        )
        stack.on_stop(emulator.stop)
        from bms_core.functions.settings import DEFAULTS

        env = {
            **DEFAULTS,  # what local.settings.json.example holds
            **options.settings,
            names.EVENTHUB_CONNECTION_SETTING: emulator.connection_string,
            names.STORAGE_CONNECTION_SETTING: azurite.connection_string,
        }
        warehouse_path = state_dir / "warehouse.sqlite"
        state = UpState(
            pid=os.getpid(),
            children={"azurite": azurite.process.pid, "eventhubs": emulator.process.pid},
            http=f"http://127.0.0.1:{options.http_port}/api",
            eventhubs=emulator.connection_string,
            storage=azurite.connection_string,
            warehouse=str(warehouse_path),
            started_ms=int(time.time() * 1000),
        )
        _write_state(state_dir, state)
        _start_parts(stack, options, env, warehouse_path, announce)
        state.ready = True
        _write_state(state_dir, state)
        announce(
            "bms_local up: ready\n"
            f"  functions   {state.http}/burst (POST), {state.http}/burst/<burst_id> (GET), "
            f"{state.http}/health (GET)\n"
            f"  eventhubs   {emulator.connection_string}\n"
            f"  storage     {azurite.connection_string}\n"
            f"  warehouse   {warehouse_path}\n"
            "Stop with Ctrl-C or 'python -m bms_local down'.\n"
            "validate_joined logs each batch's latency. " + latency.EXPLANATION
        )
        while not stack.stop_event.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
        with contextlib.suppress(FileNotFoundError):
            state_path(state_dir).unlink()


def _start_parts(
    stack: _Stack, options: UpOptions, env: dict[str, str], warehouse_path: Path, announce: Any
) -> None:
    """The parts that run the app, each built once on ``env`` (the app settings)."""
    from bms_local.host import LocalHost
    from bms_local.sending import close_producers

    host = LocalHost(env=env)
    settings = host.runtime.settings
    eventhubs = env[names.EVENTHUB_CONNECTION_SETTING]
    stack.on_stop(host.close)
    stack.on_stop(close_producers)
    _start_stream_job(stack, env, settings, warehouse_path)
    _start_validator(stack, host, eventhubs, settings, announce)
    _start_timers(stack, host)
    _start_queue_workers(stack, env, options.workers)
    _start_http(stack, host, options.http_port, options.http_timeout_s)


def _start_queue_workers(stack: _Stack, env: dict[str, str], workers: int | None) -> None:
    from bms_local.queues import start_workers

    running = start_workers(env, workers)
    stack.on_stop(running.stop)


def _start_stream_job(
    stack: _Stack, env: dict[str, str], settings: Any, warehouse_path: Path
) -> None:
    from bms_local.pipeline import pack_rows
    from bms_local.sending import EventHubSink
    from bms_local.stream_job import StreamJob
    from bms_local.stream_job.sources import run_eventhubs
    from bms_local.warehouse import Warehouse

    def job_loop() -> None:
        job = StreamJob()
        warehouse = Warehouse(warehouse_path)
        sink = EventHubSink(env=env)

        def on_pair(pair: Any) -> None:
            rows = pair.seat_rows()
            warehouse.insert_seat_rows(rows)
            warehouse.insert_order_rows([pair.order_row()])
            sink.send(settings.joined_hub, pack_rows(rows, job.partition_count))

        try:
            run_eventhubs(
                job,
                env[names.EVENTHUB_CONNECTION_SETTING],
                on_pair,
                bookings_hub=settings.bookings_hub,
                payments_hub=settings.payments_hub,
                stop=stack.stop_event,
            )
        finally:
            warehouse.close()

    thread = threading.Thread(target=job_loop, name="stream-job", daemon=True)
    thread.start()
    stack.on_stop(lambda: thread.join(timeout=15))


def _start_validator(
    stack: _Stack, host: Any, eventhubs: str, settings: Any, announce: Any
) -> None:
    from bms_local.pipeline import HubReader, function_events

    reader = HubReader(eventhubs, settings.joined_hub, settings.validator_consumer_group)
    stack.on_stop(reader.close)

    def loop() -> None:
        while not stack.stop_event.is_set():
            batch = reader.take_available(0.5)[:VALIDATOR_BATCH]
            if not batch:
                continue
            events = function_events(batch)
            with contextlib.suppress(Exception):  # the host logs and retries; keep serving
                invocation = host.eventhub("validate_joined", events)
                announce(batch_line(invocation.outputs.get("summary")))

    thread = threading.Thread(target=loop, name="validator", daemon=True)
    thread.start()


def batch_line(summary: str | None) -> str:
    """One log line per validator batch: rows, findings and the latency figures."""
    (row,) = json.loads(summary or "[{}]")
    return (
        f"validate_joined: {row.get('rows', 0)} rows, {row.get('sampled', 0)} sampled, "
        f"{row.get('findings', 0)} findings; {latency.describe(row)}"
    )


def _start_timers(stack: _Stack, host: Any) -> None:
    from bms_local.ncrontab import parse_schedule

    timers = [
        (name, parse_schedule(host.setting(entry.trigger["schedule"])))
        for name, entry in host.functions.items()
        if entry.trigger["type"] == "timerTrigger"
    ]

    def loop(name: str, schedule: Any) -> None:
        last: int | None = None
        now = int(time.time() * 1000)
        due = schedule.next_after(now)
        while not stack.stop_event.wait(max(due - time.time() * 1000, 0) / 1000):
            following = schedule.next_after(due)
            with contextlib.suppress(Exception):  # a failed tick is retried by the next one
                host.timer(name, last_ms=last, next_ms=following)
            last, due = due, following

    for name, schedule in timers:
        threading.Thread(target=loop, args=(name, schedule), name=name, daemon=True).start()


def _start_http(stack: _Stack, host: Any, port: int, timeout_s: float) -> None:
    from bms_local.functions_http import FunctionsHttpServer, json_error

    lock = threading.Lock()

    def dispatch(
        route: str, method: str, body: bytes, params: dict[str, str], headers: dict[str, str]
    ) -> tuple[int, bytes, dict[str, str]] | None:
        match = host.match_route(route)
        if match is None:
            return None
        function, route_params = match
        methods = [m.upper() for m in host.functions[function].trigger.get("methods") or []]
        if methods and method not in methods:
            return 404, json_error(404, "method not routed"), {}
        with lock:
            response = host.http(
                function,
                method=method,
                body=body,
                params=params,
                headers=headers,
                route_params=route_params,
            ).result
        return response.status_code, response.get_body(), dict(response.headers)

    server = FunctionsHttpServer(("127.0.0.1", port), dispatch, timeout_s=timeout_s)
    thread = threading.Thread(target=server.serve_forever, name="http", daemon=True)
    thread.start()
    stack.on_stop(server.server_close)
    stack.on_stop(server.shutdown)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


_EXPECTED = {"up": "bms_local", "azurite": "azurite", "eventhubs": "bms_local"}


def run_down(state_dir: Path, *, timeout_s: float = 20.0) -> str:
    """Stop what ``up`` recorded in ``state_dir`` (only processes that are still ours)."""
    state = read_state(state_dir)
    if state is None:
        return f"nothing to stop: no {state_path(state_dir)}"
    processes = {"up": state.pid, **state.children}
    stopped = []
    for role in ("up", *state.children):
        pid = processes[role]
        if not _alive(pid) or _EXPECTED.get(role, "") not in _cmdline(pid):
            continue
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while _alive(pid) and time.monotonic() < deadline:
            _reap(pid)
            time.sleep(0.1)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
        stopped.append(f"{role} (pid {pid})")
    with contextlib.suppress(FileNotFoundError):
        state_path(state_dir).unlink()
    return "stopped " + ", ".join(stopped) if stopped else "nothing was running"


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)
