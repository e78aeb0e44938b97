"""Liveness, readiness, metrics and problem-type documentation (no API key needed)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

from channelhub.experience.rest.deps import get_hub
from channelhub.experience.rest.problems import PROBLEM_TYPES, problem_response
from channelhub.experience.rest.schemas import problem_responses
from channelhub.platform.errors import NotFoundError

router = APIRouter(tags=["operations"])


class Liveness(BaseModel):
    status: Literal["ok"] = Field(description="Always ok while the process serves requests.")


class Check(BaseModel):
    name: str = Field(description="The dependency checked: database or bus.")
    ok: bool = Field(description="Whether it answered in time.")
    detail: str = Field(description="What it is, or why it failed.")


class Readiness(BaseModel):
    status: Literal["ready", "unavailable"] = Field(description="ready when every check is ok.")
    checks: list[Check] = Field(description="One entry per dependency.")


@router.get("/healthz", summary="Liveness")
async def healthz() -> Liveness:
    """Answers while the process is alive; checks nothing else (use /readyz for that)."""
    return Liveness(status="ok")


@router.get(
    "/readyz",
    summary="Readiness",
    responses={503: {"description": "A dependency is down; the body says which."}},
)
async def readyz(request: Request) -> Response:
    """Checks the database and the event bus, each within the configured time budget.
    200 when both answer; 503 problem+json naming the failing one otherwise."""
    hub = get_hub(request)
    timeout = hub.settings.health_timeout_s

    async def check(name: str, probe: Awaitable[None], detail: str) -> Check:
        try:
            await asyncio.wait_for(probe, timeout)
        except Exception as exc:
            return Check(name=name, ok=False, detail=str(exc) or type(exc).__name__)
        return Check(name=name, ok=True, detail=detail)

    checks = [
        await check("database", hub.db.ping(), hub.db.engine.dialect.name),
        await check("bus", hub.bus.ping(), hub.bus.name),
    ]
    if all(c.ok for c in checks):
        return Response(
            Readiness(status="ready", checks=checks).model_dump_json(),
            media_type="application/json",
        )
    failing = ", ".join(f"{c.name} ({c.detail})" for c in checks if not c.ok)
    return problem_response(
        request,
        503,
        f"not ready: {failing}",
        headers={"Retry-After": "5"},
        extra={"checks": [c.model_dump() for c in checks]},
    )


@router.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
async def metrics() -> Response:
    """Request counts and latencies, events published and handled, outbox backlog and
    commit-to-handle lag, in the Prometheus text format."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


class ProblemType(BaseModel):
    type: str = Field(description="The problem type URI.")
    title: str = Field(description="Short summary.")
    description: str = Field(description="What it means and what to do.")


@router.get(
    "/problems/{slug}", summary="Explain a problem type", responses=problem_responses(404, 422)
)
async def explain_problem(
    slug: Annotated[str, Path(description="The last part of a problem's type URI.")],
) -> ProblemType:
    """Every error's `type` points here: what the problem means and how to resolve it."""
    if slug not in PROBLEM_TYPES:
        raise NotFoundError(f"no problem type {slug!r}")
    title, description = PROBLEM_TYPES[slug]
    return ProblemType(type=f"/problems/{slug}", title=title, description=description)
