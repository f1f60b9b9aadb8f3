"""``python -m bms_core`` has the deployed commands and never reaches for the local stack;
``python -m bms_local`` registers and lists its own."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=120
    )


def test_deployed_commands_run_without_importing_bms_local() -> None:
    script = """
import os, sys
from bms_core.cli import COMMANDS, main
try:
    main(["--help"])
except SystemExit:
    pass
argv = ["generate", "--orders", "3", "--seed", "1", "--start", "2026-11-29T18:30:00Z"]
assert main([*argv, "--out", os.devnull]) == 0
print(sorted(COMMANDS))
print(sorted(m for m in sys.modules if m.split(".")[0] == "bms_local"))
"""
    done = _run("-c", script)
    assert done.returncode == 0, done.stderr
    commands, local_modules = done.stdout.strip().splitlines()[-2:]
    assert commands == "['generate', 'publish', 'schemas', 'sql', 'tail']"
    assert local_modules == "[]"


def test_deployed_help_lists_only_deployed_commands() -> None:
    done = _run("-m", "bms_core", "--help")
    assert done.returncode == 0, done.stderr
    listed = re.findall(r"^ {4}(\w+)", done.stdout, re.MULTILINE)
    assert listed == ["generate", "schemas", "publish", "tail", "sql"]


def test_local_help_lists_the_local_commands() -> None:
    done = _run("-m", "bms_local", "--help")
    assert done.returncode == 0, done.stderr
    listed = re.findall(r"^ {4}(\w+)", done.stdout, re.MULTILINE)
    assert listed == ["eventhubs", "job", "demo", "up", "down"]


@pytest.mark.parametrize("path", sorted((REPO / "bms_core").rglob("*.py")), ids=str)
def test_no_deployed_module_imports_or_names_a_local_module(path: Path) -> None:
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert not any(a.name.split(".")[0] == "bms_local" for a in node.names), node.lineno
        elif isinstance(node, ast.ImportFrom):
            assert (node.module or "").split(".")[0] != "bms_local", node.lineno
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
        ):
            assert "bms_local." not in node.value, node.lineno


def test_the_deployed_package_leaves_bms_local_out() -> None:
    patterns = (REPO / ".funcignore").read_text().splitlines()
    assert "bms_local/" in patterns
