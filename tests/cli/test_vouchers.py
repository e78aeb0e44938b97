"""``vouchers generate`` and ``vouchers import``: codes in bulk from the command line."""

from __future__ import annotations

from pathlib import Path

from tests.cli.runner import Cli, api_get, api_post, create_acme


def voucher_campaign(cli: Cli, key: str) -> str:
    body = {"name": "Winter", "type": "vouchers", "effect": {"kind": "percentage", "percent": 10}}
    campaign_id: str = api_post(cli.database_url, "/v1/campaigns", key, body)["id"]
    return campaign_id


def codes_of(cli: Cli, key: str, campaign_id: str) -> list[str]:
    codes: list[str] = []
    cursor = None
    while True:
        params = {
            "campaign_id": campaign_id,
            "limit": 200,
            **({"cursor": cursor} if cursor else {}),
        }
        page = api_get(cli.database_url, "/v1/vouchers", key, **params).json()
        codes += [item["code"] for item in page["data"]]
        cursor = page.get("next_cursor")
        if not cursor:
            return codes


def test_generate_makes_exactly_the_codes_asked_for_in_chunks(cli: Cli) -> None:
    _, key = create_acme(cli)
    campaign_id = voucher_campaign(cli, key)

    outcome = cli(
        "vouchers",
        "generate",
        "-n",
        "12000",
        "-c",
        campaign_id,
        "-t",
        "acme",
        "--pattern",
        "WIN-######",
    )

    assert (outcome.code, outcome.stderr) == (0, ""), outcome
    assert outcome.stdout == f"12000 codes generated for {campaign_id}\n"
    codes = codes_of(cli, key, campaign_id)
    assert len(codes) == len(set(codes)) == 12000
    assert all(code.startswith("WIN-") and len(code) == 10 for code in codes)


def test_generate_refuses_a_pattern_too_small_before_writing_anything(cli: Cli) -> None:
    _, key = create_acme(cli)
    campaign_id = voucher_campaign(cli, key)

    outcome = cli(
        "vouchers",
        "generate",
        "-n",
        "100",
        "-c",
        campaign_id,
        "-t",
        "acme",
        "--pattern",
        "AB####",
        "--charset",
        "XY",
    )
    bad = cli("vouchers", "generate", "-n", "1", "-c", campaign_id, "-t", "acme", "--pattern", "A")

    assert outcome.code != 0
    assert "the pattern makes 16 codes at most" in outcome.stderr
    assert bad.code == 2
    assert "pattern" in bad.stderr
    assert codes_of(cli, key, campaign_id) == []


def test_import_reads_a_csv_and_names_a_bad_line(cli: Cli, tmp_path: Path) -> None:
    _, key = create_acme(cli)
    campaign_id = voucher_campaign(cli, key)
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_text("code,max_redemptions\nGIFT-001,1\ngift-002,5\n", encoding="utf-8")
    bad.write_text("code\nGIFT-003\nno spaces allowed\n", encoding="utf-8")

    imported = cli("vouchers", "import", str(good), "-c", campaign_id, "-t", "acme")
    again = cli("vouchers", "import", str(good), "-c", campaign_id, "-t", "acme")
    refused = cli("vouchers", "import", str(bad), "-c", campaign_id, "-t", "acme")

    assert imported.stdout == f"2 codes imported for {campaign_id}, 0 skipped (already there)\n"
    assert again.stdout == f"0 codes imported for {campaign_id}, 2 skipped (already there)\n"
    assert refused.code != 0
    assert "line 3" in refused.stderr
    assert sorted(codes_of(cli, key, campaign_id)) == ["GIFT-001", "GIFT-002"]
