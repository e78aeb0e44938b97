"""The tenant's schema for customer metadata: which keys exist, their types, their allowed
values, which are required, and whether other keys are accepted.

The schema is checked when metadata is written (PATCH of a customer's metadata): each key
given must fit it, and a required key may not be missing afterwards. It is never applied
to what is stored already: changing the schema rewrites no customer, and a value stored
before that no longer fits stays until it is written again. A tenant without a schema
accepts any key, as before schemas existed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.auth.principal import Principal
from channelhub.platform.clock import Clock, utc_now
from channelhub.platform.errors import InvalidError
from channelhub.process.customers import schemas
from channelhub.process.customers.models import CustomerMetadataSchema

READ = "customers:read"
WRITE = "customers:write"


def _is_date(value: object) -> bool:
    if not isinstance(value, str) or len(value) != 10:
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_FITS = {
    schemas.MetadataType.string: lambda v: isinstance(v, str),
    schemas.MetadataType.integer: lambda v: isinstance(v, int) and not isinstance(v, bool),
    schemas.MetadataType.number: _is_number,
    schemas.MetadataType.boolean: lambda v: isinstance(v, bool),
    schemas.MetadataType.date: _is_date,
}
_EXPECTED = {
    schemas.MetadataType.string: "a string",
    schemas.MetadataType.integer: "an integer",
    schemas.MetadataType.number: "a number",
    schemas.MetadataType.boolean: "true or false",
    schemas.MetadataType.date: "a date, YYYY-MM-DD",
}


def same_value(a: object, b: object) -> bool:
    """Equal as JSON values: true is not 1, 1 is 1.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return a == b


def _problem(field: schemas.MetadataField, value: object) -> str | None:
    """Why ``value`` does not fit ``field``, or None."""
    if not _FITS[field.type](value):
        return f"{field.key} takes {_EXPECTED[field.type]}"
    if field.values is not None and not any(same_value(value, v) for v in field.values):
        allowed = ", ".join(repr(v) for v in field.values)
        return f"{field.key} takes one of {allowed}"
    return None


def _pointer(*parts: str | int) -> str:
    """A JSON pointer (keys never hold ``/`` or ``~``: the key pattern refuses them)."""
    return "#/" + "/".join(str(part) for part in parts)


async def _load(session: AsyncSession, tenant_id: str) -> schemas.MetadataSchema:
    row = await session.get(CustomerMetadataSchema, tenant_id)
    if row is None:
        return schemas.MetadataSchema(fields=[], additional=True, updated_at=None)
    return schemas.MetadataSchema(
        fields=[schemas.MetadataField.model_validate(f) for f in row.fields["fields"]],
        additional=row.additional,
        updated_at=row.updated_at,
    )


async def get_schema(session: AsyncSession, principal: Principal) -> schemas.MetadataSchema:
    """The tenant's schema; with none set, the one that accepts anything."""
    principal.require(READ)
    return await _load(session, principal.tenant_id)


async def put_schema(
    session: AsyncSession,
    principal: Principal,
    data: schemas.MetadataSchemaUpdate,
    *,
    clock: Clock = utc_now,
) -> schemas.MetadataSchema:
    """Replace the tenant's schema. Each key once; listed values of the field's type."""
    principal.require(WRITE)
    seen: set[str] = set()
    for index, field in enumerate(data.fields):
        if field.key in seen:
            raise InvalidError(
                f"{field.key} is described twice", field=_pointer("fields", index, "key")
            )
        seen.add(field.key)
        for position, value in enumerate(field.values or []):
            if not _FITS[field.type](value):
                raise InvalidError(
                    f"{field.key} is {field.type}: {value!r} is not {_EXPECTED[field.type]}",
                    field=_pointer("fields", index, "values", position),
                )
    row = await session.get(CustomerMetadataSchema, principal.tenant_id)
    if row is None:
        row = CustomerMetadataSchema(tenant_id=principal.tenant_id)
        session.add(row)
    row.fields = {"fields": [field.model_dump(mode="json") for field in data.fields]}
    row.additional = data.additional
    row.updated_at = clock()
    await session.flush()
    return schemas.MetadataSchema(**data.model_dump(), updated_at=row.updated_at)


async def check_metadata(
    session: AsyncSession,
    tenant_id: str,
    merged: Mapping[str, Any],
    update: Mapping[str, Any],
) -> None:
    """Refuse (422, pointing at ``/metadata/<key>``) an update that does not fit the
    tenant's schema: a key given with the wrong type or a value not listed, a key not
    described when no others are accepted, a required key removed or still missing in
    ``merged`` (the metadata after the update)."""
    schema = await _load(session, tenant_id)
    described = {field.key: field for field in schema.fields}
    for key, value in update.items():
        where = _pointer("metadata", key)
        field = described.get(key)
        if field is None:
            if not schema.additional:
                raise InvalidError(
                    f"{key} is not in the customer metadata schema, which accepts no other keys",
                    field=where,
                )
        elif value is not None and (problem := _problem(field, value)) is not None:
            raise InvalidError(problem, field=where)
    for field in schema.fields:
        if field.required and field.key not in merged:
            raise InvalidError(
                f"{field.key} is required by the customer metadata schema",
                field=_pointer("metadata", field.key),
            )
