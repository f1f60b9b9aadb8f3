"""The code stays clean: ruff clean, formatted, and mypy-strict on what is deployed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, check=False
    )


def test_ruff_check_is_clean() -> None:
    result = _run("ruff", "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_clean() -> None:
    result = _run("ruff", "format", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_mypy_strict_on_the_deployed_code() -> None:
    result = _run("mypy")  # files and strictness come from pyproject.toml
    assert result.returncode == 0, result.stdout + result.stderr


def _tracked(*suffixes: str) -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    return [REPO / path for path in listed if path.endswith(suffixes)]


def test_references_to_docs_name_files_and_sections_that_exist() -> None:
    """Code explains itself by pointing at ``docs/``; a pointer must lead somewhere."""
    cited = re.compile(r'(docs/[\w./-]+\.md)(?:, "([^"]+)")?')
    checked = 0
    for path in _tracked(".py", ".md", ".asaql", ".sql"):
        for match in cited.finditer(path.read_text(encoding="utf-8")):
            target = REPO / match.group(1)
            assert target.is_file(), f"{path.relative_to(REPO)} cites {match.group(1)}"
            if match.group(2):
                headings = re.findall(r"^#+ (.+)$", target.read_text(), re.MULTILINE)
                assert match.group(2) in headings, f"{path.relative_to(REPO)}: {match.group(0)}"
            checked += 1
    assert checked > 0
