"""Your tenant and its API keys (admin scope)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from channelhub.experience.rest.deps import PrincipalDep, SessionDep
from channelhub.experience.rest.schemas import READ_ERRORS, WRITE_ERRORS
from channelhub.platform.auth import service as auth
from channelhub.platform.auth.scopes import ADMIN
from channelhub.process.access import RESOURCES

router = APIRouter(prefix="/v1", tags=["access"])


class Tenant(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str = Field(description="Tenant id (ten_...).")
    slug: str = Field(description="Unique URL-safe name.")
    name: str = Field(description="Display name of the merchant.")
    created_at: datetime = Field(description="When the tenant was created (UTC).")


class ApiKey(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str = Field(description="Key id (key_...); use it to revoke the key.")
    name: str = Field(description="What the key is for.")
    display_prefix: str = Field(description="First characters of the secret, to recognise it.")
    scopes: list[str] = Field(description="What the key may do.")
    created_at: datetime = Field(description="When the key was created (UTC).")
    revoked_at: datetime | None = Field(description="When the key was revoked, if it was.")


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, description="What the key is for.")
    scopes: list[str] = Field(
        min_length=1,
        description="admin, or <resource>:read / <resource>:write for resources: "
        + ", ".join(sorted(RESOURCES)),
        examples=[["catalog:read"]],
    )


class IssuedApiKey(ApiKey):
    secret: str = Field(description="The key itself. Shown only in this response: store it now.")


@router.get("/tenant", responses=READ_ERRORS, summary="Your tenant")
async def get_tenant(session: SessionDep, principal: PrincipalDep) -> Tenant:
    """The tenant (merchant) the API key belongs to. Any valid key may read it."""
    return Tenant.model_validate(await auth.get_tenant(session, principal.tenant_id))


@router.get("/api-keys", responses=READ_ERRORS, summary="List API keys")
async def list_api_keys(session: SessionDep, principal: PrincipalDep) -> list[ApiKey]:
    """Every key of your tenant, revoked ones included; secrets are never shown. Needs `admin`."""
    principal.require(ADMIN)
    return [ApiKey.model_validate(k) for k in await auth.list_keys(session, principal.tenant_id)]


@router.post("/api-keys", status_code=201, responses=WRITE_ERRORS, summary="Create an API key")
async def create_api_key(
    data: ApiKeyCreate, session: SessionDep, principal: PrincipalDep, response: Response
) -> IssuedApiKey:
    """Create a key with the given scopes. The secret is in this response only; channelhub
    keeps just its hash. Not idempotent by design: no copy of the secret is kept to replay,
    so a retried request creates a second key (revoke the one you did not receive).
    Needs `admin`."""
    principal.require(ADMIN)
    issued = await auth.issue_key(
        session, principal.tenant_id, name=data.name, scopes=data.scopes, resources=RESOURCES
    )
    response.headers["Cache-Control"] = "no-store"
    return IssuedApiKey(**ApiKey.model_validate(issued.key).model_dump(), secret=issued.secret)


@router.delete("/api-keys/{key_id}", responses=WRITE_ERRORS, summary="Revoke an API key")
async def revoke_api_key(
    key_id: Annotated[str, Path(description="Key id (key_...).")],
    session: SessionDep,
    principal: PrincipalDep,
) -> ApiKey:
    """Revoke a key: it stops working at once. Revoking twice is harmless. Needs `admin`."""
    principal.require(ADMIN)
    return ApiKey.model_validate(await auth.revoke_key(session, principal.tenant_id, key_id))
