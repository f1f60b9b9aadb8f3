"""``python -m bms_local up``: the local pipeline in real time (wall-clock timers, HTTP routes)."""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from bms_core import names

HELP = (
    "Start Azurite, the Event Hubs emulator, the reference stream job, the validator, the "
    "timer functions, the queue triggers and the HTTP routes (POST /api/burst, "
    "GET /api/burst/{burst_id}, GET /api/health) on the wall clock."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from bms_local.functions_http import SOCKET_TIMEOUT_S

    parser.add_argument("--state-dir", type=Path, default=Path(".bms_local"))
    parser.add_argument("--http-port", type=int, default=7071, help="Functions routes (7071)")
    parser.add_argument(
        "--http-timeout",
        type=float,
        default=SOCKET_TIMEOUT_S,
        help="seconds an HTTP client has to send its request before it gets 408 and is closed "
        f"(default {SOCKET_TIMEOUT_S:g})",
    )
    parser.add_argument("--eventhubs-port", type=int, default=names.LOCAL_EVENTHUBS_PORT)
    parser.add_argument("--blob-port", type=int, default=names.AZURITE_BLOB_PORT)
    parser.add_argument("--queue-port", type=int, default=names.AZURITE_QUEUE_PORT)
    parser.add_argument("--table-port", type=int, default=names.AZURITE_TABLE_PORT)
    parser.add_argument(
        "--settings",
        type=Path,
        default=Path("local.settings.json"),
        help="read BMS_* app settings from this file if it exists (connections are always local)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an app setting for the handlers, e.g. --set BMS_ORDERS_PER_MINUTE=60",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="processes running the queue triggers (bursts' chunks); default: one per core",
    )
    parser.add_argument(
        "--detach", action="store_true", help="run in the background; stop with 'down'"
    )


def run(args: argparse.Namespace) -> int:
    from bms_local.azurite import PortBusy
    from bms_local.up import UpOptions, local_settings, run_up

    settings = local_settings(args.settings)
    for item in args.set:
        name, sep, value = item.partition("=")
        if not sep or not name:
            print(f"--set needs NAME=VALUE, got {item!r}", file=sys.stderr)
            return 2
        settings[name] = value
    if args.workers is not None and args.workers < 1:
        print(f"--workers must be at least 1, got {args.workers}", file=sys.stderr)
        return 2
    if args.detach:
        return _detach(args)
    options = UpOptions(
        state_dir=args.state_dir,
        http_port=args.http_port,
        http_timeout_s=args.http_timeout,
        eventhubs_port=args.eventhubs_port,
        blob_port=args.blob_port,
        queue_port=args.queue_port,
        table_port=args.table_port,
        settings=settings,
        workers=args.workers,
    )
    try:
        run_up(options, announce=lambda text: print(text, flush=True))
    except (PortBusy, RuntimeError) as exc:
        print(f"bms_local up: {exc}", file=sys.stderr)
        return 1
    return 0


def _detach(args: argparse.Namespace) -> int:
    from bms_local.up import read_state

    argv = [a for a in sys.argv[1:] if a != "--detach"]
    if not argv or argv[0] != "up":
        argv = ["up", *argv]
    args.state_dir.mkdir(parents=True, exist_ok=True)
    log_path = args.state_dir / "up.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "bms_local", *argv],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        state = read_state(args.state_dir)
        if state is not None and state.pid == process.pid and state.ready:
            print(
                f"bms_local up: running in the background (pid {process.pid}); "
                f"routes {state.http}; log {log_path}; stop with 'python -m bms_local down'"
            )
            return 0
        if process.poll() is not None:
            print(log_path.read_text(errors="replace")[-2000:], file=sys.stderr)
            print(f"bms_local up: exited with code {process.returncode}", file=sys.stderr)
            return 1
        time.sleep(0.2)
    print(f"bms_local up: not ready after 90 s; see {log_path}", file=sys.stderr)
    return 1
