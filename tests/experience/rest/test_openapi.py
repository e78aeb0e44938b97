"""The published OpenAPI document is complete enough to generate a client from."""

from __future__ import annotations

from typing import Any

import httpx


async def openapi(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


async def test_openapi_is_3_1_with_every_operation_described(client: httpx.AsyncClient) -> None:
    document = await openapi(client)

    assert document["openapi"].startswith("3.1")
    undocumented = [
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if not operation.get("description") or not operation.get("summary")
    ]
    assert undocumented == []


async def test_every_field_and_parameter_is_described(client: httpx.AsyncClient) -> None:
    document = await openapi(client)

    missing = [
        f"{name}.{field}"
        for name, schema in document["components"]["schemas"].items()
        for field, spec in schema.get("properties", {}).items()
        if not spec.get("description")
    ]
    missing += [
        f"{path} {parameter['name']}"
        for path, operations in document["paths"].items()
        for operation in operations.values()
        for parameter in operation.get("parameters", [])
        if not parameter.get("description") and not parameter.get("schema", {}).get("description")
    ]
    assert missing == []


async def test_errors_are_documented_as_problem_json(client: httpx.AsyncClient) -> None:
    document = await openapi(client)

    create = document["paths"]["/v1/products"]["post"]

    assert set(create["responses"]) >= {"201", "400", "401", "403", "409", "422", "503"}
    assert "application/problem+json" in create["responses"]["422"]["content"]
    assert "HTTPValidationError" not in document["components"]["schemas"]
