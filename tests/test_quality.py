"""The quality gates run as part of the suite, so CI enforces them on every change."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - fixed commands from our own venv
        command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )


def test_layers_point_downward() -> None:
    """experience/systems -> process -> platform, never back (import-linter contracts)."""
    result = run(str(BIN / "lint-imports"))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(("ruff", "check", "src", "tests", "bench"), id="ruff-check"),
        pytest.param(("ruff", "format", "--check", "src", "tests", "bench"), id="ruff-format"),
        pytest.param(("mypy",), id="mypy-strict"),
    ],
)
def test_static_checks_pass(command: tuple[str, ...]) -> None:
    result = run(sys.executable, "-m", *command)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
