"""Documentation that names code must keep up with the code."""

from __future__ import annotations

from pathlib import Path

import channelhub.experience.app  # noqa: F401 - registers every context's event types
from channelhub.platform.config import Settings
from channelhub.platform.events.catalog import event_types
from channelhub.platform.events.catalog_doc import render
from channelhub.process.reporting.exports import DATASETS

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_every_setting_is_documented() -> None:
    operations = (DOCS / "operations.md").read_text()

    undocumented = [
        name for name in Settings.model_fields if f"`CHANNELHUB_{name.upper()}`" not in operations
    ]

    assert undocumented == []


def test_every_event_type_is_documented() -> None:
    api = (DOCS / "api.md").read_text()

    shipped = [t for t in event_types() if t.context != "tests"]

    assert [t.name for t in shipped if f"`{t.name}`" not in api] == []


def test_the_event_catalogue_page_is_current() -> None:
    page = (DOCS / "events.md").read_text()

    assert page == render(), "regenerate: channelhub events catalogue > docs/events.md"


def test_every_event_type_has_an_example_that_its_schema_accepts() -> None:
    shipped = [t for t in event_types() if t.context not in ("tests", "bench")]

    assert [t.name for t in shipped if t.example() is None] == []
    for event_type in shipped:
        event_type.data_model.model_validate(event_type.example())


def test_every_export_column_is_documented() -> None:
    page = (DOCS / "exports.md").read_text()

    missing = [
        f"{dataset.name}.{column.name}"
        for dataset in DATASETS.values()
        for column in dataset.columns
        if f"| `{column.name}` | {column.type} | {column.description} |" not in page
    ]
    assert missing == []
