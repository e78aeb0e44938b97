"""The published XSD: served as committed, and describing every field the answers carry."""

from __future__ import annotations

import types
from importlib import resources
from typing import Any, get_args

import httpx
import pytest
import xmlschema
from pydantic import BaseModel

from channelhub.experience.rest.routes.selfservice import Lookup, LookupResult
from channelhub.process.inventory.schemas import LocationAvailability, SkuAvailability
from channelhub.process.orders import schemas as orders
from channelhub.process.stores import schemas as stores
from tests.experience.xml.answers import SCHEMA

MODEL_OF_TYPE: dict[str, type[BaseModel]] = {
    "CustomerStatus": orders.CustomerStatus,
    "PickupView": orders.PickupView,
    "ShipmentView": orders.ShipmentView,
    "TrackingEventView": orders.TrackingEventView,
    "Action": orders.Action,
    "StoreOffer": orders.StoreOffer,
    "TimelineEntry": orders.TimelineItem,
    "StoreStatus": stores.StoreStatus,
    "TimeRange": stores.TimeRange,
    "Address": stores.Address,
    "ChannelLink": stores.ChannelLink,
    "OpeningHours": stores.OpeningHours,
    "WeeklyHours": stores.WeeklyHours,
    "HoursException": stores.HoursException,
    "SkuAvailability": SkuAvailability,
    "LocationAvailability": LocationAvailability,
    "Lookup": Lookup,
    "LookupResult": LookupResult,
}


def _nullable(annotation: Any) -> bool:
    return isinstance(annotation, types.UnionType) and type(None) in get_args(annotation)


def _fields(model: type[BaseModel]) -> list[tuple[str, bool]]:
    return [(name, _nullable(info.annotation)) for name, info in model.model_fields.items()]


def _elements(type_name: str) -> list[tuple[str, bool]]:
    xsd_type = SCHEMA.types[type_name]
    return [(e.local_name, e.min_occurs == 0) for e in xsd_type.content.iter_elements()]


@pytest.mark.parametrize("type_name", sorted(MODEL_OF_TYPE))
def test_each_xsd_type_has_the_fields_of_its_json_twin_in_order(type_name: str) -> None:
    """Element for field, in the same order, optional exactly where JSON may say null."""
    assert _elements(type_name) == _fields(MODEL_OF_TYPE[type_name])


def test_a_store_is_the_location_plus_its_status() -> None:
    assert _elements("Store") == [*_fields(stores.Location), ("status", False)]


async def test_the_schema_is_served_as_committed(client: httpx.AsyncClient) -> None:
    committed = resources.files("channelhub.experience.xml").joinpath("channelhub.xsd")

    answer = await client.get("/xml/v1/schema.xsd")
    again = await client.get(
        "/xml/v1/schema.xsd", headers={"If-None-Match": answer.headers["ETag"]}
    )

    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/xml"
    assert answer.content == committed.read_bytes()
    assert xmlschema.XMLSchema(answer.text).target_namespace == "https://channelhub.dev/xml/v1"
    assert again.status_code == 304
