"""``export``: a dataset to a file, the same rows as the API."""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow.parquet as pq

from tests.cli.runner import Cli, api_post, create_acme


def vouchers_made(cli: Cli, key: str, count: int) -> None:
    campaign = api_post(
        cli.database_url,
        "/v1/campaigns",
        key,
        {"name": "CLI export", "type": "vouchers", "effect": {"kind": "free_shipping"}},
    )
    api_post(
        cli.database_url,
        f"/v1/campaigns/{campaign['id']}/voucher-batches",
        key,
        {"count": count, "code": {"prefix": "CLI-", "length": 8}},
    )


def test_export_writes_csv_and_parquet_files(cli: Cli, tmp_path: Path) -> None:
    _, key = create_acme(cli)
    vouchers_made(cli, key, 12)
    as_csv, as_parquet = tmp_path / "v.csv", tmp_path / "v.parquet"

    first = cli("export", "vouchers", "-t", "acme", "-o", str(as_csv))
    second = cli("export", "vouchers", "-t", "acme", "-f", "parquet", "-o", str(as_parquet))

    assert (first.code, first.stderr) == (0, ""), first
    assert first.stdout == f"12 rows of vouchers written to {as_csv}\n"
    with as_csv.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 12
    assert all(row["code"].startswith("CLI-") for row in rows)
    assert second.code == 0
    assert pq.read_table(as_parquet).num_rows == 12


def test_export_refuses_an_unknown_dataset_and_writes_nothing(cli: Cli, tmp_path: Path) -> None:
    create_acme(cli)
    target = tmp_path / "x.csv"

    outcome = cli("export", "salaries", "-t", "acme", "-o", str(target))

    assert outcome.code == 2
    assert "no dataset 'salaries'" in outcome.stderr
    assert not target.exists()
