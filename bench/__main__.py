"""``python -m bench`` (``make bench``): run every benchmark, one after another.

Each benchmark prints its own figures next to a baseline measured in the same run; the
recorded results and the commands live in bench/README.md.
"""

from __future__ import annotations

import subprocess
import sys

BENCHMARKS = (
    "import_cost",
    "cold_start",
    "generator",
    "functions",
    "stream_job",
    "eventhubs",
    "demo",
    "flash",
)


def main() -> int:
    failed = []
    for name in BENCHMARKS:
        print(f"\n=== bench.{name} ===", flush=True)
        if subprocess.call([sys.executable, "-m", f"bench.{name}"]) != 0:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
