"""What every ``channelhub`` verb shares: settings, the schema check, and how a failure
reaches the user.

Exit codes are the contract in docs/operations.md: 0 success, 1 unexpected failure, 2 invalid
input or settings, 3 not found, 4 conflict, 5 not allowed, 6 precondition failed, 69
database or bus unreachable; an expected error is one ``error:`` line on stderr.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.runner import HEAD, Cli, create_acme
from tests.fixtures.outside import free_port

# --- schema check --------------------------------------------------------------------------


@pytest.mark.postgres
def test_admin_verbs_refuse_an_unmigrated_postgresql_database(postgresql_empty_url: str) -> None:
    cli = Cli(postgresql_empty_url)

    outcome = cli("tenants", "create", "Acme", "--slug", "acme")

    assert outcome.stderr == (
        f"error: the database schema is at nothing, this version needs {HEAD}: "
        "run `channelhub migrate` first\n"
    )
    assert cli("migrate", "--check").stdout == f"database at nothing; newest is {HEAD}\n"
    assert outcome.code == 6


# --- error lines ---------------------------------------------------------------------------


def test_an_error_about_bracketed_input_is_one_error_line(cli: Cli) -> None:
    create_acme(cli)

    outcome = cli("keys", "list", "--tenant", "[/]")

    assert (outcome.code, outcome.stdout, outcome.stderr) == (
        3,
        "",
        "error: no tenant '[/]' (tenant)\n",
    )


def test_a_long_error_stays_one_line_in_80_columns(cli: Cli) -> None:
    create_acme(cli)

    outcome = cli(
        "keys", "create", "--tenant", "acme", "--scope", "catalog:delete", env={"COLUMNS": "80"}
    )

    assert outcome.code == 2
    [line] = outcome.stderr.splitlines()
    assert line.startswith("error: unknown scope 'catalog:delete'; known: admin, ")


# --- settings and reachability -------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value", "error"),
    [
        pytest.param(
            "CHANNELHUB_DATABASE_URL",
            "mysql://x",
            "Value error, use sqlite+aiosqlite:///path.db or postgresql+asyncpg://user@host/db",
            id="database-url",
        ),
        pytest.param(
            "CHANNELHUB_BUS_URL",
            "amqp://rabbit",
            "Value error, use memory:// (in-process) or nats://host:4222 (JetStream)",
            id="bus-url",
        ),
        pytest.param(
            "CHANNELHUB_PORT",
            "eighty",
            "Input should be a valid integer, unable to parse string as an integer",
            id="port",
        ),
    ],
)
def test_bad_settings_exit_2_naming_the_variable(
    cli: Cli, tmp_path: Path, variable: str, value: str, error: str
) -> None:
    outcome = cli("tenants", "list", env={variable: value})

    assert (outcome.code, outcome.stdout, outcome.stderr) == (
        2,
        "",
        f"error: {variable}: {error}\n",
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "verb", [["tenants", "list"], ["migrate"]], ids=["tenants-list", "migrate"]
)
def test_an_unreachable_database_exits_69(verb: list[str]) -> None:
    port = free_port()  # nothing listens there once the probe is closed
    cli = Cli(f"postgresql+asyncpg://postgres@127.0.0.1:{port}/channelhub")

    outcome = cli(*verb)

    assert (outcome.code, outcome.stdout) == (69, "")
    [line] = outcome.stderr.splitlines()
    assert line.startswith(f"error: cannot reach the database at 127.0.0.1:{port}/channelhub: ")
    assert "Errno 111" in line


def test_a_sqlite_file_that_cannot_be_created_exits_69(tmp_path: Path) -> None:
    cli = Cli(f"sqlite+aiosqlite:///{tmp_path / 'missing-dir' / 'channelhub.db'}")

    outcome = cli("tenants", "list")

    assert (outcome.code, outcome.stdout) == (69, "")
    assert outcome.stderr.splitlines()[0] == (
        f"error: cannot reach the database at {tmp_path / 'missing-dir' / 'channelhub.db'}: "
        "(sqlite3.OperationalError) unable to open database file"
    )
    assert not (tmp_path / "missing-dir").exists()
