"""The catalogue of event types: each has a name, a description and a data schema.

Contexts declare their types in their ``events.py``; the outbox refuses undeclared ones,
so the published catalogue can never fall behind what is actually emitted.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

_TYPE_NAME = re.compile(r"^[a-z][a-z_]*(\.[a-z][a-z_]*)+$")
_REGISTRY: dict[str, EventType] = {}
EXAMPLES = Path(__file__).with_name("examples.json")


@functools.cache
def _examples() -> dict[str, Any]:
    if not EXAMPLES.exists():
        return {}
    examples: dict[str, Any] = json.loads(EXAMPLES.read_text())
    return examples


@dataclass(frozen=True)
class EventType:
    name: str
    context: str
    description: str
    data_model: type[BaseModel]

    @property
    def source(self) -> str:
        """The CloudEvents ``source``: the bounded context that emits this type."""
        return f"/channelhub/{self.context}"

    def json_schema(self) -> dict[str, Any]:
        return self.data_model.model_json_schema()

    def example(self) -> Any:
        """A real example of the event's ``data``: recorded from the test suite's stories
        into ``examples.json`` (see docs/events.md for how to refresh it); a test checks
        each one still validates against the schema."""
        return _examples().get(self.name)


def declare(name: str, *, context: str, description: str, data_model: type[BaseModel]) -> EventType:
    if not _TYPE_NAME.match(name):
        raise ValueError(f"event type {name!r} must be dotted lowercase, e.g. order.created")
    existing = _REGISTRY.get(name)
    if existing is not None and existing.data_model is not data_model:
        raise ValueError(f"event type {name!r} is declared twice with different schemas")
    event_type = EventType(
        name=name, context=context, description=description, data_model=data_model
    )
    _REGISTRY[name] = event_type
    return event_type


def event_types() -> list[EventType]:
    return sorted(_REGISTRY.values(), key=lambda t: t.name)
