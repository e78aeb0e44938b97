"""``channelhub stock import``: streams a file, reports bad rows by line, loads the rest."""

from __future__ import annotations

from pathlib import Path

from tests.cli.runner import SECRET, Cli, api_get


def stock_of(cli: Cli, key: str, sku: str) -> dict[str, int]:
    levels = api_get(cli.database_url, f"/v1/stock/{sku}", key).json()
    return {level["location_code"]: level["on_hand"] for level in levels}


def test_csv_import_loads_good_rows_and_reports_bad_ones(cli: Cli, tmp_path: Path) -> None:
    [key] = set(SECRET.findall(cli("demo").stdout))
    csv_file = tmp_path / "stock.csv"
    csv_file.write_text(
        "sku,location,on_hand,version\n"
        "TENT-2P-GRN,WH-LIS,10,2\n"
        "NOPE,WH-LIS,5,2\n"
        "TENT-2P-SND,WH-LIS,-3,2\n"
        "LAMP-400-BLK,ST-PORTO,7,2\n"
        "TENT-2P-GRN,WH-LIS,99,1\n"
    )

    outcome = cli("stock", "import", str(csv_file), "--tenant", "default")

    assert outcome.code == 2
    assert outcome.stdout.splitlines()[-1] == (
        "5 rows: 2 applied, 1 ignored as out of date, 2 rejected"
    )
    assert sorted(outcome.stderr.splitlines()) == [
        "line 3: sku: no SKU 'NOPE' in the catalog",
        "line 4: on_hand: Input should be greater than or equal to 0",
    ]
    assert stock_of(cli, key, "TENT-2P-GRN")["WH-LIS"] == 10
    assert stock_of(cli, key, "LAMP-400-BLK")["ST-PORTO"] == 7
    assert stock_of(cli, key, "TENT-2P-SND")["WH-LIS"] == 25


def test_jsonl_import_with_deltas(cli: Cli, tmp_path: Path) -> None:
    [key] = set(SECRET.findall(cli("demo").stdout))
    jsonl = tmp_path / "moves.jsonl"
    jsonl.write_text(
        '{"sku": "SOCK-MER-S", "location": "WH-LIS", "on_hand_delta": -5, "reason": "count"}\n'
        "\n"
        "not json\n"
        '{"sku": "SOCK-MER-S", "location": "WH-LIS", "on_hand_delta": 2}\n'
    )
    before = stock_of(cli, key, "SOCK-MER-S")["WH-LIS"]

    outcome = cli("stock", "import", str(jsonl), "--tenant", "default")

    assert outcome.code == 2
    assert outcome.stderr.splitlines() == ["line 3: not valid JSON: Expecting value"]
    assert stock_of(cli, key, "SOCK-MER-S")["WH-LIS"] == before - 3


def test_clean_import_exits_0(cli: Cli, tmp_path: Path) -> None:
    cli("demo")
    csv_file = tmp_path / "ok.csv"
    csv_file.write_text("sku,location,safety_stock\nTENT-2P-GRN,WH-LIS,2\n")

    outcome = cli("stock", "import", str(csv_file), "--tenant", "default")

    assert (outcome.code, outcome.stderr) == (0, "")
    assert (
        outcome.stdout.splitlines()[-1] == "1 rows: 1 applied, 0 ignored as out of date, 0 rejected"
    )


def test_unknown_columns_are_refused_before_loading(cli: Cli, tmp_path: Path) -> None:
    cli("demo")
    csv_file = tmp_path / "odd.csv"
    csv_file.write_text("sku,where,on_hand\nTENT-2P-GRN,WH-LIS,2\n")

    outcome = cli("stock", "import", str(csv_file), "--tenant", "default")

    assert outcome.code == 2
    assert outcome.stderr.startswith("error: unknown CSV columns: where;")
