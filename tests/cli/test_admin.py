"""``channelhub tenants`` and ``channelhub keys``: output, exit codes, and what each verb
changes."""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from channelhub.platform.auth.principal import Principal
from tests.cli.runner import (
    Cli,
    Outcome,
    create_acme,
    created_tenant,
    principal_of,
    table_rows,
)


def issued_key(outcome: Outcome, scopes: str) -> tuple[str, str]:
    """(key id, secret) from the output of ``keys create``."""
    assert (outcome.code, outcome.stderr) == (0, ""), outcome
    match = re.fullmatch(
        rf"key (key_\w+) \({re.escape(scopes)}\)\nsecret \(shown once\): (chk_\S+)\n",
        outcome.stdout,
    )
    assert match is not None, outcome.stdout
    return match[1], match[2]


# --- tenants -------------------------------------------------------------------------------


def test_tenants_create_prints_the_id_and_an_admin_key_once(cli: Cli) -> None:
    tenant_id, admin_key = create_acme(cli)

    [key_row] = table_rows(cli("keys", "list", "--tenant", "acme").stdout)
    assert key_row[1:4] == ["admin", admin_key[:12] + "...", "admin"]
    assert principal_of(cli.database_url, admin_key) == Principal(
        tenant_id=tenant_id, key_id=key_row[0], scopes=frozenset({"admin"})
    )


def test_tenants_create_without_an_admin_key_issues_none(cli: Cli) -> None:
    outcome = cli("tenants", "create", "Shop", "--slug", "shop", "--no-admin-key")

    assert (outcome.code, outcome.stderr) == (0, "")
    assert re.fullmatch(r"tenant shop created: ten_\w+\n", outcome.stdout), outcome.stdout
    assert table_rows(cli("keys", "list", "--tenant", "shop").stdout) == []


def test_tenants_list_shows_every_tenant(cli: Cli) -> None:
    acme_id, _ = create_acme(cli)
    shop_id, _ = created_tenant(cli("tenants", "create", "Shop & Co", "--slug", "shop"), "shop")

    outcome = cli("tenants", "list")

    assert outcome.code == 0
    rows = table_rows(outcome.stdout)
    assert [row[:3] for row in rows] == [
        [acme_id, "acme", "Acme"],
        [shop_id, "shop", "Shop & Co"],
    ]
    assert all(datetime.fromisoformat(row[3]).utcoffset() is not None for row in rows)


@pytest.mark.parametrize(
    ("args", "code", "error"),
    [
        pytest.param(
            ["Acme again", "--slug", "acme"],
            4,
            "a tenant with slug 'acme' exists (slug)",
            id="slug-taken",
        ),
        pytest.param(
            ["Other", "--slug", "Not A Slug"],
            2,
            "slug must be 1-63 lowercase letters, digits or inner hyphens (slug)",
            id="slug-malformed",
        ),
        pytest.param(["  ", "--slug", "blank"], 2, "a tenant needs a name (name)", id="name-blank"),
    ],
)
def test_tenants_create_refusal_is_one_error_line_and_changes_nothing(
    cli: Cli, args: list[str], code: int, error: str
) -> None:
    create_acme(cli)
    before = cli("tenants", "list").stdout

    outcome = cli("tenants", "create", *args)

    assert (outcome.code, outcome.stdout, outcome.stderr) == (code, "", f"error: {error}\n")
    assert cli("tenants", "list").stdout == before


def test_names_are_listed_verbatim(cli: Cli) -> None:
    created_tenant(cli("tenants", "create", "Acme [beta]", "--slug", "acme"), "acme")
    issued_key(cli("keys", "create", "-t", "acme", "-s", "admin", "--name", "shop [eu]"), "admin")

    tenants = table_rows(cli("tenants", "list").stdout)
    keys = table_rows(cli("keys", "list", "--tenant", "acme").stdout)

    assert [row[2] for row in tenants] == ["Acme [beta]"]
    assert [row[1] for row in keys] == ["admin", "shop [eu]"]


# --- keys ----------------------------------------------------------------------------------


def test_keys_create_prints_a_secret_that_authenticates_with_its_scopes(cli: Cli) -> None:
    tenant_id, _ = create_acme(cli)

    outcome = cli("keys", "create", "--tenant", "acme", "-s", "catalog:write", "-s", "catalog:read")

    key_id, secret = issued_key(outcome, "catalog:read, catalog:write")
    assert principal_of(cli.database_url, secret) == Principal(
        tenant_id=tenant_id, key_id=key_id, scopes=frozenset({"catalog:read", "catalog:write"})
    )


def test_keys_create_refuses_an_unknown_scope_naming_it(cli: Cli) -> None:
    create_acme(cli)
    before = cli("keys", "list", "--tenant", "acme").stdout

    outcome = cli("keys", "create", "--tenant", "acme", "--scope", "catalog:delete")

    assert (outcome.code, outcome.stdout) == (2, "")
    [line] = outcome.stderr.splitlines()
    assert line.startswith(
        "error: unknown scope 'catalog:delete'; known: admin, catalog:read|write"
    )
    assert line.endswith(" (scopes)")
    assert cli("keys", "list", "--tenant", "acme").stdout == before


def test_keys_create_for_an_unknown_tenant_exits_3(cli: Cli) -> None:
    create_acme(cli)

    outcome = cli("keys", "create", "--tenant", "acne", "--scope", "catalog:read")

    assert (outcome.code, outcome.stdout, outcome.stderr) == (
        3,
        "",
        "error: no tenant 'acne' (tenant)\n",
    )


def test_keys_list_shows_every_key_but_never_a_secret(cli: Cli) -> None:
    _, admin_key = create_acme(cli)
    key_id, secret = issued_key(
        cli("keys", "create", "-t", "acme", "-s", "events:read", "--name", "storefront"),
        "events:read",
    )

    outcome = cli("keys", "list", "--tenant", "acme")

    assert outcome.code == 0
    rows = table_rows(outcome.stdout)
    assert [[row[1], row[2], row[3], row[5]] for row in rows] == [
        ["admin", admin_key[:12] + "...", "admin", ""],
        ["storefront", secret[:12] + "...", "events:read", ""],
    ]
    assert rows[1][0] == key_id
    assert admin_key not in outcome.stdout
    assert secret not in outcome.stdout


def test_keys_revoke_makes_the_key_stop_authenticating(cli: Cli) -> None:
    tenant_id, admin_key = create_acme(cli)
    key_id, secret = issued_key(
        cli("keys", "create", "--tenant", "acme", "--scope", "catalog:read"), "catalog:read"
    )

    outcome = cli("keys", "revoke", key_id, "--tenant", tenant_id)

    assert (outcome.code, outcome.stderr) == (0, "")
    match = re.fullmatch(rf"key {key_id} revoked at (.+)\n", outcome.stdout)
    assert match is not None, outcome.stdout
    assert principal_of(cli.database_url, secret) is None
    admin = principal_of(cli.database_url, admin_key)
    assert admin is not None
    assert admin.tenant_id == tenant_id
    revoked_at = datetime.fromisoformat(match[1]).isoformat(timespec="seconds")
    revoked = {row[0]: row[5] for row in table_rows(cli("keys", "list", "-t", "acme").stdout)}
    assert revoked == {admin.key_id: "", key_id: revoked_at}
    # Revoking again is a harmless no-op: the key keeps its first revocation time.
    again = cli("keys", "revoke", key_id, "--tenant", "acme")
    assert (again.code, again.stdout) == (0, outcome.stdout)


def test_keys_revoke_refuses_another_tenants_key(cli: Cli) -> None:
    create_acme(cli)
    created_tenant(cli("tenants", "create", "Rival", "--slug", "rival"), "rival")
    key_id, secret = issued_key(
        cli("keys", "create", "--tenant", "acme", "--scope", "catalog:read"), "catalog:read"
    )

    outcome = cli("keys", "revoke", key_id, "--tenant", "rival")

    assert (outcome.code, outcome.stdout, outcome.stderr) == (
        3,
        "",
        f"error: no API key '{key_id}' in this tenant (key_id)\n",
    )
    principal = principal_of(cli.database_url, secret)
    assert principal is not None
    assert principal.key_id == key_id
