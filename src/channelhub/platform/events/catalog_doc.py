"""docs/events.md: the event catalogue as a page, made from the declarations themselves.

    channelhub events catalogue > docs/events.md

A test fails when the page and the code disagree.
"""

from __future__ import annotations

import json
from itertools import groupby

from channelhub.platform.events.catalog import EventType, event_types

_HEADER = """\
# Event catalogue

Every event channelhub emits, by the context that emits it. Each is delivered in the
CloudEvents 1.0 envelope (`specversion`, `id`, `source`, `type`, `subject`, `time`,
`datacontenttype`, `data`) plus `tenant` and `sequence` (gap-free per subject). The same
envelope is the body of every outbound webhook (see [webhooks](webhooks.md)) and of
`GET /v1/events`. The JSON Schema of each type's `data` is served at `GET /v1/event-types`.

The examples are real: recorded from the test suite's stories (refresh them with
`CHANNELHUB_TEST_RECORD_EVENT_EXAMPLES=src/channelhub/platform/events/examples.json
pytest`, then regenerate this page with `channelhub events catalogue > docs/events.md`).

Generated from the code; do not edit by hand.
"""


def _section(event_type: EventType) -> str:
    example = event_type.example()
    lines = [
        f"### `{event_type.name}`",
        "",
        event_type.description,
        "",
        f"Data: `{event_type.data_model.__name__}`.",
        "",
    ]
    if example is not None:
        lines += [
            "<details><summary>Example data</summary>",
            "",
            "```json",
            json.dumps(example, indent=2, sort_keys=True),
            "```",
            "",
            "</details>",
            "",
        ]
    return "\n".join(lines)


def render() -> str:
    shipped = sorted(
        (t for t in event_types() if t.context not in ("tests", "bench")),
        key=lambda t: (t.context, t.name),
    )
    parts = [_HEADER]
    for context, types in groupby(shipped, key=lambda t: t.context):
        parts.append(f"## {context}\n")
        parts.extend(_section(t) for t in types)
    return "\n".join(parts)
