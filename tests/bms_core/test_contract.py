"""The published JSON Schemas match the contract, and every generated event validates."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from bms_core.cli.schemas import DEFAULT_DIR, rendered, stale_files
from bms_core.contract import decode_event, encode, json_schemas
from bms_core.timefmt import parse_iso
from bms_core.traffic import generator as g
from bms_core.traffic.scenario import Scenario

ROOT = Path(__file__).resolve().parents[2]
START = parse_iso("2026-11-29T06:30:00Z")


def _validators() -> dict[str, jsonschema.protocols.Validator]:
    out = {}
    for kind in ("booking", "payment"):
        schema = json.loads((DEFAULT_DIR / f"{kind}.v1.schema.json").read_text(encoding="utf-8"))
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        out[kind] = cls(schema)
    return out


def test_committed_schema_files_are_what_the_contract_generates() -> None:
    assert DEFAULT_DIR == ROOT / "schemas"
    assert set(rendered()) == set(json_schemas()) == {p.name for p in DEFAULT_DIR.glob("*.json")}
    assert stale_files(DEFAULT_DIR) == []


def test_schemas_check_fails_on_a_stale_file_and_write_fixes_it(tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bms_core", "schemas", *args, "--dir", str(tmp_path)],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )

    assert run("--check").returncode == 1
    assert run("--write").returncode == 0
    assert run("--check").returncode == 0
    (tmp_path / "payment.v1.schema.json").write_text("{}", encoding="utf-8")
    failed = run("--check")
    assert failed.returncode == 1
    assert "payment.v1.schema.json is missing or stale" in failed.stderr


def test_every_generated_event_validates_against_the_committed_schema() -> None:
    validators = _validators()
    scenario = Scenario(seed=8, duplicate_rate=0.05)
    events = list(g.stream(scenario, START, 1500))
    events += g.burst_to_send(scenario, "bzz2k4m7q5a", 200, START)
    events += g.burst_payments_to_send(
        scenario, "bzz2k4m7q5a", 200, START, START - 1000, START + 2_000_000
    )
    kinds = set()
    for e in events:
        data = json.loads(e.body)
        validators[e.kind].validate(data)
        assert data["kind"] == e.kind
        assert encode(decode_event(e.body)) == e.body
        kinds.add((e.kind, data.get("payment_status")))
    assert kinds == {("booking", None), ("payment", "Success"), ("payment", "Failed")}


def test_malformed_events_fail_the_schema() -> None:
    validators = _validators()
    scenario = Scenario(seed=8, duplicate_rate=0, malformed_rate=0.5)
    bad = [e for e in g.stream(scenario, START, 300) if e.event_id is None]
    assert bad
    for e in bad:
        try:
            data = json.loads(e.body)
        except ValueError:
            continue
        with pytest.raises(jsonschema.ValidationError):
            validators[e.kind].validate(data)
