"""``python -m bms_local eventhubs``: run the local Event Hubs emulator in the foreground.

Prints one line when it is ready to accept connections, ``eventhubs ready: <connection string>``,
and nothing else on stdout, so scripts can wait for it and read the connection string. Stops
cleanly (connections closed, data folder flushed) on SIGTERM or Ctrl-C.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from types import FrameType

from bms_core.names import LOCAL_EVENTHUBS_PORT

HELP = "Run the local Event Hubs emulator (AMQP 1.0 on 127.0.0.1) for the azure-eventhub SDK."
SAMPLE_CONFIG = Path(__file__).resolve().parent.parent / "eventhubs" / "Config.json"
READY_PREFIX = "eventhubs ready: "


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from bms_local.eventhubs.server import HANDSHAKE_TIMEOUT_S

    parser.add_argument(
        "--config",
        type=Path,
        default=SAMPLE_CONFIG,
        help="Config.json in Microsoft's emulator format (default: the project's hubs, "
        "bms_local/eventhubs/Config.json)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=LOCAL_EVENTHUBS_PORT,
        help="TCP port (default 5672; 0 = any free)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow binding an address other than loopback (no TLS: trusted networks only)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="folder to persist events in (default: memory only)",
    )
    parser.add_argument(
        "--retention-hours",
        type=float,
        default=24.0,
        help="drop events older than this (default 24; an entity's MessageRetentionInHours wins)",
    )
    parser.add_argument(
        "--max-events-per-partition",
        type=int,
        default=None,
        help="also drop the oldest events beyond this many per partition (default: no limit)",
    )
    parser.add_argument(
        "--handshake-timeout",
        type=float,
        default=HANDSHAKE_TIMEOUT_S,
        help="close connections that have not finished the AMQP handshake (protocol header, "
        f"SASL, open) after this many seconds (default {HANDSHAKE_TIMEOUT_S:g})",
    )
    parser.add_argument(
        "--sas-key",
        default=None,
        help="verify clients' SAS tokens against this key (default: accept any token)",
    )


def run(args: argparse.Namespace) -> int:
    from bms_local.azurite import PortBusy, check_port_free
    from bms_local.eventhubs import BindRefused, ConfigError, EventHubsServer, load_config

    try:
        config = load_config(args.config)
        if args.retention_hours is not None and args.retention_hours <= 0:
            raise ConfigError("--retention-hours must be positive")
        if args.max_events_per_partition is not None and args.max_events_per_partition < 1:
            raise ConfigError("--max-events-per-partition must be at least 1")
        if not args.handshake_timeout > 0:
            raise ConfigError("--handshake-timeout must be positive")
        if args.port and args.host in ("127.0.0.1", "localhost"):
            check_port_free(args.port, "the Event Hubs emulator", "--port")
        server = EventHubsServer(
            config,
            host=args.host,
            port=args.port,
            allow_remote=args.allow_remote,
            data_dir=args.data_dir,
            retention_hours=args.retention_hours,
            max_events_per_partition=args.max_events_per_partition,
            sas_key=args.sas_key,
            handshake_timeout_s=args.handshake_timeout,
        )
    except (ConfigError, BindRefused, PortBusy) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(
            f"error: cannot listen on {args.host}:{args.port} (--host/--port): {exc}",
            file=sys.stderr,
        )
        return 2

    def stop(signum: int, frame: FrameType | None) -> None:
        server.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    hubs = ", ".join(f"{h.name}({h.partition_count})" for h in config.hubs)
    print(f"serving hubs {hubs} on {args.host}:{server.port}", file=sys.stderr)
    print(f"{READY_PREFIX}{server.connection_string}", flush=True)
    server.serve_forever()
    print("eventhubs emulator stopped", file=sys.stderr)
    return 0
