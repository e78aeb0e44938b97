"""How big a GraphQL request may be: page sizes, depth, aliases, tokens and an estimated
cost. An operation over a limit is refused before anything runs, with a GraphQL error whose
``extensions.code`` names the limit, so a heavy query fails fast instead of timing out.

The cost estimate: every field costs 1, a few fields that run queries of their own per
parent cost more (``FIELD_WEIGHTS``), and a field taking ``first`` costs its page size
times what is selected in it (the default page size when ``first`` is left out).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLNamedType,
    GraphQLObjectType,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    VariableNode,
    get_named_type,
)
from strawberry.extensions import SchemaExtension

from channelhub.platform.db.pagination import PageRequest
from channelhub.platform.errors import InvalidError

DEFAULT_PAGE = 20
"""Items per page when ``first`` is left out."""
MAX_PAGE = 100
"""The largest ``first`` a list accepts."""
MAX_DEPTH = 10
"""Deepest nesting of fields (introspection fields are not counted). The deepest query
the schema allows today nests 9 (orders > edges > node > status > actions > stores >
status > today > opens); the limit guards the day a type refers back to its parent."""
MAX_ALIASES = 15
"""Aliases per document."""
MAX_TOKENS = 2_000
"""Tokens (names, punctuation) per document."""
MAX_COST = 1_000
"""Highest estimated cost of one operation."""
FIELD_WEIGHTS: Mapping[tuple[str, str], int] = {
    ("Order", "status"): 3,
    ("CustomerOrder", "status"): 3,
    ("Order", "timeline"): 5,
    ("Query", "availability"): 10,
    ("Mutation", "chooseClosureOption"): 10,
    ("Mutation", "startReturn"): 10,
}
"""Fields that cost more than 1: each runs queries of its own per parent object (the
customer status is decided order by order) or does heavy work."""
COST_CODE = "QUERY_TOO_COSTLY"
DEPTH_CODE = "QUERY_TOO_DEEP"


def page_request(first: int, after: str | None) -> PageRequest:
    """A page of ``first`` items after the cursor ``after``, or a BAD_USER_INPUT error
    naming the argument at fault."""
    if not 1 <= first <= MAX_PAGE:
        raise InvalidError(f"first must be between 1 and {MAX_PAGE}", field="first")
    try:
        return PageRequest.from_cursor(after, first)
    except InvalidError as exc:
        raise InvalidError(exc.detail, field="after") from exc


class QueryLimits(SchemaExtension):
    """Refuses an operation nested deeper than ``MAX_DEPTH`` or whose estimated cost
    exceeds ``MAX_COST``. The rule is made per operation because a page size may come from
    a variable. Depth is counted on the document as written, so an unknown field or
    fragment is reported by GraphQL's own rules, never tripped over here."""

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        context.validation_rules = (
            *context.validation_rules,
            _limits_rule(context.variables or {}),
        )
        yield


def _limits_rule(variables: Mapping[str, Any]) -> type[ValidationRule]:
    class LimitsRule(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_args: object) -> None:
            root = self.context.schema.get_root_type(node.operation)
            cost, depth = _Estimate(self.context, variables).selections(
                node.selection_set, root, frozenset()
            )
            if depth > MAX_DEPTH:
                self.report_error(
                    GraphQLError(
                        f"the query nests {depth} levels deep, over the limit of {MAX_DEPTH}",
                        node,
                        extensions={"code": DEPTH_CODE, "depth": depth, "maxDepth": MAX_DEPTH},
                    )
                )
            elif cost > MAX_COST:
                self.report_error(
                    GraphQLError(
                        f"the query's estimated cost is {cost}, over the limit of {MAX_COST}; "
                        "ask for smaller pages (first) or fewer fields",
                        node,
                        extensions={"code": COST_CODE, "cost": cost, "maxCost": MAX_COST},
                    )
                )

    return LimitsRule


class _Estimate:
    """Walks an operation through its fragments: (estimated cost, depth)."""

    def __init__(self, context: ValidationContext, variables: Mapping[str, Any]) -> None:
        self.context = context
        self.variables = variables

    def selections(
        self,
        selection_set: SelectionSetNode,
        parent: GraphQLNamedType | None,
        seen: frozenset[str],
    ) -> tuple[int, int]:
        cost = depth = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                field_cost, field_depth = self.field(selection, parent, seen)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self.context.schema.get_type(condition.name.value) if condition else parent
                field_cost, field_depth = self.selections(selection.selection_set, target, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.context.get_fragment(name)
                if fragment is None or name in seen:
                    continue
                target = self.context.schema.get_type(fragment.type_condition.name.value)
                field_cost, field_depth = self.selections(
                    fragment.selection_set, target, seen | {name}
                )
            else:
                continue
            cost += field_cost
            depth = max(depth, field_depth)
        return cost, depth

    def field(
        self, node: FieldNode, parent: GraphQLNamedType | None, seen: frozenset[str]
    ) -> tuple[int, int]:
        """Introspection fields count 1 and no depth: tools ask for the schema deeply."""
        name = node.name.value
        if name.startswith("__"):
            return 1, 0
        definition = parent.fields.get(name) if isinstance(parent, GraphQLObjectType) else None
        inner_cost = inner_depth = 0
        if node.selection_set is not None:
            inner_type = get_named_type(definition.type) if definition is not None else None
            inner_cost, inner_depth = self.selections(node.selection_set, inner_type, seen)
        if definition is None or parent is None:
            return 1 + inner_cost, 1 + inner_depth
        size = self.page_size(node) if "first" in definition.args else 1
        weight = FIELD_WEIGHTS.get((parent.name, name), 1)
        return size * (weight + inner_cost), 1 + inner_depth

    def page_size(self, node: FieldNode) -> int:
        for argument in node.arguments or ():
            if argument.name.value != "first":
                continue
            value = argument.value
            if isinstance(value, IntValueNode):
                return max(1, int(value.value))
            if isinstance(value, VariableNode):
                given = self.variables.get(value.name.value)
                if isinstance(given, int) and not isinstance(given, bool):
                    return max(1, given)
                return MAX_PAGE
        return DEFAULT_PAGE
