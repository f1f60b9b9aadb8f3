"""Import cost of bms_core (target < 50 ms) and the one-off cost of building the Faker pools.

Each figure comes from fresh interpreters (``python -X importtime``), median over ``--runs``:
``import bms_core`` (what every cold start pays), ``import bms_core.traffic.generator`` (what a
timer pays before its first slot), and, as the baseline in the same run, ``import faker`` — what
every cold start would pay if Faker were imported at module level as in the original scripts.
The pools are built once per process on first use; their build cost is timed in a fresh
process with and without the Faker import.

    .venv/bin/python -m bench.import_cost [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET_MS = 50.0

_POOLS = """
import json, time
t0 = time.perf_counter()
import faker
t1 = time.perf_counter()
from bms_core.traffic.pools import build_pools, pools
pools()
t2 = time.perf_counter()
build_pools()
t3 = time.perf_counter()
from bms_core.traffic.catalog import catalog
from bms_core.traffic.scenario import Scenario
catalog(Scenario())
t4 = time.perf_counter()
print(json.dumps({"faker_import": t1 - t0, "first": t2 - t1, "rebuild": t3 - t2,
                  "catalog": t4 - t3}))
"""


def import_ms(module: str) -> float:
    """Cumulative import time of ``module`` in a fresh interpreter, in ms."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    for line in done.stderr.splitlines():
        parts = [p.strip() for p in line.removeprefix("import time:").split("|")]
        if len(parts) == 3 and parts[2] == module:
            return int(parts[1]) / 1000
    raise RuntimeError(f"no importtime line for {module}")


def median_ms(module: str, runs: int) -> float:
    return statistics.median(import_ms(module) for _ in range(runs))


def pool_costs(runs: int) -> dict[str, float]:
    samples = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-c", _POOLS], cwd=REPO, capture_output=True, text=True, check=True
        )
        samples.append(json.loads(done.stdout))
    return {k: statistics.median(s[k] for s in samples) * 1000 for k in samples[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    core = median_ms("bms_core", args.runs)
    generator = median_ms("bms_core.traffic.generator", args.runs)
    faker = median_ms("faker", args.runs)
    pools = pool_costs(max(3, args.runs // 2))
    print(
        f"import bms_core:           {core:7.1f} ms  (target < {TARGET_MS:.0f} ms: "
        f"{'met' if core < TARGET_MS else 'NOT met'})"
    )
    print(
        f"import bms_core.traffic.generator: {generator:7.1f} ms  (msgspec and the stdlib included)"
    )
    print(
        f"import faker (baseline):   {faker:7.1f} ms  -> bms_core is {faker / core:,.0f}x "
        f"cheaper, the generator {faker / generator:,.1f}x"
    )
    print(
        f"pools, first use:          {pools['first']:7.1f} ms  (+ {pools['faker_import']:.1f} ms "
        f"importing Faker; a rebuild alone {pools['rebuild']:.1f} ms)"
    )
    print(f"catalog of the default scenario: {pools['catalog']:.1f} ms (once per scenario)")


if __name__ == "__main__":
    main()
