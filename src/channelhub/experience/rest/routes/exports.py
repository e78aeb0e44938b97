"""BI exports: datasets as CSV or Parquet, streamed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime

from channelhub.experience.rest.deps import PrincipalDep, get_hub
from channelhub.experience.rest.schemas import READ_ERRORS
from channelhub.process.reporting import exports
from channelhub.process.reporting.exports import ExportFormat

router = APIRouter(prefix="/v1", tags=["exports"])


@router.get(
    "/exports/{dataset}",
    responses={
        200: {
            "description": "The dataset as a file (`content-disposition: attachment`).",
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/vnd.apache.parquet": {
                    "schema": {"type": "string", "format": "binary"}
                },
            },
        },
        **READ_ERRORS,
    },
    response_class=StreamingResponse,
    summary="Export a dataset",
)
async def export(
    dataset: Annotated[
        str, Path(description="orders, tickets, vouchers, redemptions or loyalty_ledger.")
    ],
    request: Request,
    principal: PrincipalDep,
    format: Annotated[ExportFormat, Query(description="csv or parquet.")] = ExportFormat.csv,
    since: Annotated[
        AwareDatetime | None, Query(description="Rows created from this time (inclusive).")
    ] = None,
    until: Annotated[
        AwareDatetime | None, Query(description="Rows created before this time.")
    ] = None,
) -> StreamingResponse:
    """Every row of the dataset created in the range, streamed as it is read (pages of
    5,000 rows, each read on its own): `orders` (needs `orders:read`), `tickets`
    (`helpdesk:read`), `vouchers` and `redemptions` (`promotions:read`), and
    `loyalty_ledger` (`loyalty:read`). CSV is UTF-8 with a header, ISO 8601 UTC times and
    empty cells for nulls; Parquet is zstd-compressed with typed columns, one row group per
    page, and each column's description in its metadata. No personal data: e-mail
    addresses come as `customer_email_sha256`."""
    hub = get_hub(request)
    wanted = exports.request_for(principal, dataset, since, until)

    async def body() -> AsyncIterator[bytes]:
        async for chunk, _ in exports.stream(hub.db, wanted, format):
            if chunk:
                yield chunk

    name = exports.file_name(wanted, format)
    return StreamingResponse(
        body(),
        media_type=exports.MEDIA_TYPES[format],
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )
