"""The README's two set-up commands are the contract with a new user and with CI."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Set up", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)\n```", section, flags=re.DOTALL)


def test_readme_has_exactly_two_setup_commands() -> None:
    commands = setup_commands()

    assert len(commands) == 2
    assert "channelhub serve --demo" in commands[0]
    assert commands[1].rsplit("&&", 1)[-1].split()[0] == ".venv/bin/pytest"


def test_ci_runs_the_readme_test_command() -> None:
    ci_script = (ROOT / ".ci" / "run").read_text()

    assert setup_commands()[1] in ci_script.splitlines()
