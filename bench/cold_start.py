"""Cold start: indexing ``function_app`` in a fresh interpreter against ``azure.functions`` alone.

Every cold start of a Functions worker imports ``function_app`` and indexes it, so what the app
adds on top of the library is paid on every scale-out. Each measurement runs in a new Python
process (nothing cached in ``sys.modules``); medians over ``--runs`` processes are reported, and
the run fails if a heavy module (Faker, the Event Hubs SDK, pyodbc, the Tables SDK, the
generator) was imported while indexing.

    .venv/bin/python -m bench.cold_start [--runs 15]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HEAVY = (
    "faker",
    "azure.eventhub",
    "pyodbc",
    "azure.data.tables",
    "proton",
    "bms_core.traffic.generator",
    "bms_core.traffic.pools",
)
TARGET_MS = 50.0

_PROBE = """
import json, sys, time
t0 = time.perf_counter()
{body}
elapsed = (time.perf_counter() - t0) * 1000
heavy = [m for m in {heavy!r} if m in sys.modules]
print(json.dumps({{"ms": elapsed, "heavy": heavy, "app_only": globals().get("split")}}))
"""

BASELINE = "import azure.functions"
APP = (
    "import azure.functions\n"
    "t1 = time.perf_counter()\n"
    "import function_app\n"
    "function_app.app.get_functions()\n"
    "split = (time.perf_counter() - t1) * 1000"
)


def measure(body: str) -> dict[str, object]:
    code = _PROBE.format(body=body, heavy=HEAVY)
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args(argv)
    base: list[float] = []
    app: list[float] = []
    own: list[float] = []
    heavy: set[str] = set()
    for _ in range(args.runs):  # interleaved, so machine load affects both alike
        base.append(float(measure(BASELINE)["ms"]))  # type: ignore[arg-type]
        probe = measure(APP)
        app.append(float(probe["ms"]))  # type: ignore[arg-type]
        own.append(float(probe["app_only"]))  # type: ignore[arg-type]
        heavy.update(probe["heavy"])  # type: ignore[arg-type]
    base_ms, app_ms = statistics.median(base), statistics.median(app)
    added = app_ms - base_ms
    print(f"import azure.functions alone:          median {base_ms:7.1f} ms ({args.runs} runs)")
    print(f"import function_app + index (6 funcs): median {app_ms:7.1f} ms")
    ratio = statistics.median(t / (t - o) for t, o in zip(app, own, strict=True))
    print(
        f"added by the app: {statistics.median(own):.1f} ms measured inside each process "
        f"(target < {TARGET_MS:.0f} ms); ratio {ratio:.3f}x of importing azure.functions; "
        f"difference of process medians {added:+.1f} ms (noisy on shared cores)"
    )
    print(f"heavy modules imported while indexing: {sorted(heavy) or 'none'}")
    if heavy:
        print("FAIL: heavy imports at indexing time", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
