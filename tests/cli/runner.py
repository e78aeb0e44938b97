"""Running ``channelhub`` in-process, the way a user would see it."""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import structlog
from typer.testing import CliRunner

from channelhub.cli import app

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def sqlite_url(directory: Path) -> str:
    return f"sqlite+aiosqlite:///{directory / 'channelhub.db'}"


@dataclass(frozen=True)
class Outcome:
    """What a user sees: the exit code and the two streams (colour codes removed)."""

    code: int
    stdout: str
    stderr: str


@dataclass
class Cli:
    """Runs ``channelhub ARGS`` in-process against one database."""

    database_url: str

    def __call__(self, *args: str, env: Mapping[str, str] | None = None) -> Outcome:
        variables = {
            "CHANNELHUB_DATABASE_URL": self.database_url,
            "COLUMNS": "200",  # rich wraps at 80 columns otherwise; ids must stay whole
            **(env or {}),
        }
        # Each verb configures structlog and the root logger to write to *its* stderr, which
        # CliRunner closes afterwards; put both back so later tests can still log.
        structlog_config = structlog.get_config()
        root = logging.getLogger()
        handlers, level = root.handlers[:], root.level
        try:
            result = CliRunner().invoke(app, list(args), env=variables)
        finally:
            structlog.configure(**structlog_config)
            root.handlers[:] = handlers
            root.setLevel(level)
        stderr = result.stderr
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            # CliRunner catches what the real command would print as a traceback.
            stderr += "".join(traceback.format_exception(result.exception))
        return Outcome(
            code=result.exit_code, stdout=_ANSI.sub("", result.stdout), stderr=_ANSI.sub("", stderr)
        )
