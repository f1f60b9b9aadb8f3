"""Faker pools: built once, lazily, deterministically; never imported by importing bms_core."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from bms_core.traffic.pools import EMAIL_DOMAINS, build_pools, json_safe, pools

ROOT = Path(__file__).resolve().parents[2]


def _modules_after(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys; print(sorted(sys.modules))"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def test_importing_bms_core_and_the_generator_does_not_import_faker() -> None:
    loaded = _modules_after(
        "import bms_core, bms_core.traffic.scenario, bms_core.traffic.orderid, "
        "bms_core.traffic.generator, "
        "bms_core.cli.generate"
    )
    assert "'bms_core.traffic.generator'" in loaded
    assert "faker" not in loaded


def test_faker_loads_when_the_first_order_is_built() -> None:
    loaded = _modules_after(
        "from bms_core.traffic import generator as g, scenario\n"
        "g.orders_in(scenario.Scenario(), 176441000)"
    )
    assert "'faker'" in loaded


def test_pools_are_built_once_and_identical_every_time() -> None:
    assert pools() is pools()
    assert build_pools() == pools()


def test_pool_entries_are_realistic_and_safe_to_write_unescaped() -> None:
    p = pools()
    assert len(p.first_names) >= 200 and len(p.last_names) >= 200
    assert all(re.fullmatch(r"\+91[6-9]\d{9}", phone) for phone in p.phones)
    for group in (p.first_names, p.last_names, p.venue_stems, p.artists, p.titles):
        assert all(json_safe(text) for text in group)
    assert EMAIL_DOMAINS == ("example.com", "example.net", "example.org")
