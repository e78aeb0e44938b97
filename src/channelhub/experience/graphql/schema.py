"""The GraphQL schema: queries, mutations, limits, error codes and the unit of work."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from functools import partial

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    MaxAliasesLimiter,
    MaxTokensLimiter,
    SchemaExtension,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

from channelhub.experience.graphql.context import Context
from channelhub.experience.graphql.errors import INTERNAL, UNEXPECTED, log_unexpected
from channelhub.experience.graphql.limits import (
    MAX_ALIASES,
    MAX_TOKENS,
    QueryLimits,
)
from channelhub.experience.graphql.mutations import Mutation
from channelhub.experience.graphql.queries import Query
from channelhub.experience.graphql.types.common import DATETIME, MINOR_UNITS, MinorUnits
from channelhub.platform.db.database import is_connection_error


class UnitOfWork(SchemaExtension):
    """Opens the request's session once the document is known to be valid and within the
    limits: a read session for a query, one write transaction for a mutation, committed
    before the answer is sent. A failed commit answers with an error and no data."""

    async def on_execute(self) -> AsyncIterator[None]:
        context = self.execution_context.context
        assert isinstance(context, Context)
        write = self.execution_context.operation_type is OperationType.MUTATION
        try:
            async with context.unit_of_work(write=write):
                yield
        except Exception as exc:
            unavailable = is_connection_error(exc)
            raise GraphQLError(
                "the database is unavailable; retry shortly" if unavailable else UNEXPECTED,
                original_error=exc,
                extensions={"code": "UNAVAILABLE" if unavailable else INTERNAL},
            ) from exc


class Schema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        log_unexpected(errors)


schema = Schema(
    query=Query,
    mutation=Mutation,
    config=StrawberryConfig(scalar_map={MinorUnits: MINOR_UNITS, datetime: DATETIME}),
    extensions=[
        partial(MaxTokensLimiter, max_token_count=MAX_TOKENS),
        partial(MaxAliasesLimiter, max_alias_count=MAX_ALIASES),
        QueryLimits,
        UnitOfWork,
    ],
)
