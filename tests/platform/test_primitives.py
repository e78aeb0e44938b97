"""Settings, ids and money: the conventions every other module relies on."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from channelhub.platform.config import DEFAULT_DATABASE_URL, Settings
from channelhub.platform.ids import has_prefix, new_id
from channelhub.platform.money import Money, minor_unit_exponent


def test_defaults_are_the_embedded_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CHANNELHUB_DATABASE_URL", "CHANNELHUB_BUS_URL"):
        monkeypatch.delenv(name, raising=False)

    settings = Settings(_env_file=None)  # type: ignore[call-arg]

    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.is_sqlite
    assert not settings.uses_nats


def test_settings_come_from_prefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHANNELHUB_DATABASE_URL", "postgresql+asyncpg://u@db/hub")
    monkeypatch.setenv("CHANNELHUB_BUS_URL", "nats://127.0.0.1:4222")

    settings = Settings(_env_file=None)  # type: ignore[call-arg]

    assert not settings.is_sqlite
    assert settings.uses_nats


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("database_url", "mysql://u@db/hub", id="unsupported-database"),
        pytest.param("bus_url", "kafka://broker:9092", id="unsupported-bus"),
        pytest.param("port", 70000, id="port-out-of-range"),
    ],
)
def test_invalid_settings_name_the_setting(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as error:
        Settings(_env_file=None, **{field: value})  # type: ignore[call-arg]
    assert error.value.errors()[0]["loc"] == (field,)


def test_ids_are_prefixed_and_sort_by_creation() -> None:
    ids = [new_id("prd") for _ in range(50)]

    assert all(has_prefix(i, "prd") for i in ids)
    assert len(set(ids)) == 50
    assert ids[0] < ids[-1]


def test_bad_id_prefix_is_refused() -> None:
    with pytest.raises(ValueError, match="2-5 lowercase letters"):
        new_id("Order")


@pytest.mark.parametrize(
    ("money", "text"),
    [
        pytest.param(Money(amount=1999, currency="EUR"), "19.99", id="cents"),
        pytest.param(Money(amount=1999, currency="JPY"), "1999", id="no-minor-unit"),
        pytest.param(Money(amount=1999, currency="BHD"), "1.999", id="three-decimals"),
        pytest.param(Money(amount=-50, currency="USD"), "-0.50", id="negative"),
    ],
)
def test_money_is_exact_in_each_currency(money: Money, text: str) -> None:
    assert str(money.as_decimal()) == text


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param({"amount": 10, "currency": "EURO"}, id="four-letters"),
        pytest.param({"amount": 10, "currency": "eur"}, id="lower-case"),
        pytest.param({"amount": 10, "currency": "ZZZ"}, id="not-iso"),
        pytest.param({"amount": 10.5, "currency": "EUR"}, id="float-amount"),
    ],
)
def test_invalid_money_is_refused(payload: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Money.model_validate(payload)


def test_minor_unit_exponents() -> None:
    assert [minor_unit_exponent(c) for c in ("EUR", "JPY", "KWD")] == [2, 0, 3]
