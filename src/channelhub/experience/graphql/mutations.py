"""The self-service mutations: what a shopper (with their X-Order-Token) or an agent (with
an API key holding `orders:write`) may do about an order.

Each mutation runs in a savepoint of the request's transaction: when it answers with
errors in its payload, nothing it wrote is kept.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import strawberry
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.experimental import pydantic as from_pydantic
from strawberry.types import Info

from channelhub.experience.graphql.context import Context
from channelhub.experience.graphql.errors import TYPED_KINDS, MutationError
from channelhub.experience.graphql.types.common import render
from channelhub.experience.graphql.types.orders import Return
from channelhub.experience.graphql.types.status import CustomerStatus
from channelhub.platform.auth.principal import Principal
from channelhub.platform.errors import ChannelhubError, InvalidError, UnauthenticatedError
from channelhub.platform.i18n import negotiate
from channelhub.process.orders import closures, returns, schemas, status
from channelhub.process.orders.repository import OrderNotFound

T = TypeVar("T")

ORDER_ID = (
    "The order (ord_...). Required with an API key; with an X-Order-Token it may be left "
    "out, and if given must be the token's order."
)
LANGUAGE = "Language of the status texts; default: Accept-Language, then the order's."


@from_pydantic.input(
    model=schemas.PostalAddress,
    all_fields=True,
    name="PostalAddressInput",
    description="A postal address.",
)
class PostalAddressInput:
    pass


@from_pydantic.input(
    model=schemas.ItemRequest,
    all_fields=True,
    name="ReturnItemInput",
    description="Units of one order line to send back.",
)
class ReturnItemInput:
    pass


@strawberry.input(description="What the customer chose after their pickup store closed.")
class ChooseClosureOptionInput:
    option: schemas.ClosureOption = strawberry.field(
        description="ship_home (free delivery home), other_store, or cancel (full refund)."
    )
    order_id: strawberry.ID | None = strawberry.field(default=None, description=ORDER_ID)
    location: str | None = strawberry.field(
        default=None, description="The other store (id or code), for other_store."
    )
    shipping_address: PostalAddressInput | None = strawberry.field(
        default=None, description="Where to ship, for ship_home (default: the order's address)."
    )
    language: str | None = strawberry.field(default=None, description=LANGUAGE)


@strawberry.input(description="Items the customer wants to send back, and why.")
class StartReturnInput:
    items: list[ReturnItemInput] = strawberry.field(description="Which lines, how many units.")
    reason: schemas.ReturnReason = strawberry.field(description="Why, from the fixed list.")
    note: str = strawberry.field(default="", description="The customer's own words.")
    order_id: strawberry.ID | None = strawberry.field(default=None, description=ORDER_ID)
    language: str | None = strawberry.field(default=None, description=LANGUAGE)


@strawberry.type(description="The order's status after the choice, or why it was refused.")
class ChooseClosureOptionPayload:
    status: CustomerStatus | None = strawberry.field(
        description="The order's new status; null when the choice was refused."
    )
    errors: list[MutationError] = strawberry.field(
        description="Empty on success; otherwise why nothing was changed."
    )


@strawberry.type(description="The return requested and the order's status, or why not.")
class StartReturnPayload:
    return_: Return | None = strawberry.field(
        name="return", description="The return requested; null when it was refused."
    )
    status: CustomerStatus | None = strawberry.field(
        description="The order's new status; null when the return was refused."
    )
    errors: list[MutationError] = strawberry.field(
        description="Empty on success; otherwise why nothing was changed."
    )


def _plain(value: Any) -> Any:
    """An input object as the dict Pydantic validates (``None`` stays ``None``)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value


async def _caller(context: Context, order_id: strawberry.ID | None) -> tuple[Principal, str]:
    """Who acts on which order: an API key's holder on the order named, or the shopper on
    their token's order."""
    if context.has_api_key:
        principal = await context.principal()
        if order_id is None:
            raise InvalidError("orderId is required with an API key", field="order_id")
        return principal, str(order_id)
    if context.has_order_token:
        shopper = await context.shopper()
        if order_id is not None and str(order_id) != shopper.order_id:
            raise OrderNotFound(f"no order {order_id!r}", field="order_id")
        return shopper.principal, shopper.order_id
    raise UnauthenticatedError(
        "send an API key (Authorization: Bearer <key>) or the order token (X-Order-Token)"
    )


async def _attempt(
    context: Context,
    order_id: strawberry.ID | None,
    work: Callable[[AsyncSession, Principal, str], Awaitable[T]],
) -> T | list[MutationError]:
    """``work``'s answer, or the typed errors of a request that could not be done (with
    what ``work`` wrote undone). Who is calling and whether they may are top-level errors."""
    try:
        principal, order = await _caller(context, order_id)
        async with context.savepoint() as session:
            return await work(session, principal, order)
    except ValidationError as exc:
        return MutationError.of_validation(exc)
    except ChannelhubError as exc:
        if exc.kind not in TYPED_KINDS:
            raise
        return [MutationError.of(exc)]


def _language(context: Context, language: str | None) -> str | None:
    return negotiate(language) if language else context.accept_language


@strawberry.type(description="The self-service actions on an order.")
class Mutation:
    @strawberry.mutation(
        description="For an order whose pickup store closed: ship home (free), pick up at "
        "another offered store, or cancel with a full refund. An option not offered now is "
        "the error option_unavailable; an order waiting for no such decision is "
        "no_choice_pending. With an API key, needs `orders:write`."
    )
    async def choose_closure_option(
        self, info: Info[Context, None], input: ChooseClosureOptionInput
    ) -> ChooseClosureOptionPayload | None:
        async def choose(
            session: AsyncSession, principal: Principal, order_id: str
        ) -> schemas.CustomerStatus:
            choice = schemas.ClosureChoice.model_validate(
                {
                    "option": input.option,
                    "location": input.location,
                    "shipping_address": _plain(input.shipping_address),
                }
            )
            await closures.choose(session, principal, order_id, choice)
            return await status.customer_status(
                session, principal, order_id, language=_language(info.context, input.language)
            )

        answer = await _attempt(info.context, input.order_id, choose)
        if isinstance(answer, list):
            return ChooseClosureOptionPayload(status=None, errors=answer)
        return ChooseClosureOptionPayload(status=render(CustomerStatus, answer), errors=[])

    @strawberry.mutation(
        description="Ask to return items that reached the customer, within the return "
        "window. More units than can be returned is the error invalid naming "
        "items.<i>.quantity; an order with nothing returnable is nothing_returnable. With an "
        "API key, needs `orders:write`."
    )
    async def start_return(
        self, info: Info[Context, None], input: StartReturnInput
    ) -> StartReturnPayload | None:
        async def start(
            session: AsyncSession, principal: Principal, order_id: str
        ) -> tuple[schemas.Return, schemas.CustomerStatus]:
            data = schemas.ReturnCreate.model_validate(
                {
                    "items": [_plain(item) for item in input.items],
                    "reason": input.reason,
                    "note": input.note,
                }
            )
            created = await returns.request_return(session, principal, order_id, data)
            after = await status.customer_status(
                session, principal, order_id, language=_language(info.context, input.language)
            )
            return created, after

        answer = await _attempt(info.context, input.order_id, start)
        if isinstance(answer, list):
            return StartReturnPayload(return_=None, status=None, errors=answer)
        created, after = answer
        return StartReturnPayload(
            return_=render(Return, created),
            status=render(CustomerStatus, after),
            errors=[],
        )
