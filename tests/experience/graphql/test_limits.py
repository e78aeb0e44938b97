"""Requests that are too big, too deep, too costly or simply wrong get GraphQL errors with
a code, never a 500 and never a long wait."""

from __future__ import annotations

import httpx
import pytest

from channelhub.experience.graphql.limits import MAX_ALIASES, MAX_COST, MAX_DEPTH, MAX_TOKENS
from channelhub.hub import Hub
from tests.experience.graphql.conftest import graphql, statements
from tests.fixtures.hub import TenantKeys, http_client

STATUS_PAGE = (
    "query($n: Int!) { orders(first: $n) { edges { node { "
    "status { code headline nextStep eta etaText language } } } } }"
)
PER_ORDER = 12
"""Per order: the page's own 1, the edge, the node, the status (3) and its six fields."""


async def test_the_deepest_query_the_schema_allows_runs(client: httpx.AsyncClient) -> None:
    deepest = (
        "{ orders { edges { node { status { actions { stores { status { today { opens } } } } "
        "} } } } }"
    )

    answer = await graphql(client, deepest)

    assert answer.body == {"data": {"orders": {"edges": []}}}


async def test_an_over_deep_query_is_refused_before_it_runs(client: httpx.AsyncClient) -> None:
    nested = "{ orders { edges { node " + "{ status " * MAX_DEPTH + "}" * MAX_DEPTH + " } } }"

    answer = await graphql(client, nested)

    assert answer.data is None
    assert "QUERY_TOO_DEEP" in answer.codes


@pytest.mark.parametrize(
    ("page", "refused"),
    [
        pytest.param(MAX_COST // PER_ORDER, False, id="within"),
        pytest.param(MAX_COST // PER_ORDER + 1, True, id="over"),
    ],
)
async def test_a_page_of_statuses_costs_by_its_size(
    client: httpx.AsyncClient, page: int, refused: bool
) -> None:
    answer = await graphql(client, STATUS_PAGE, {"n": page})

    if refused:
        assert answer.data is None
        assert answer.codes == ["QUERY_TOO_COSTLY"]
        assert answer.body["errors"][0]["extensions"]["cost"] == PER_ORDER * page
    else:
        assert answer.body == {"data": {"orders": {"edges": []}}}


async def test_a_literal_page_size_counts_too(client: httpx.AsyncClient) -> None:
    answer = await graphql(
        client,
        "{ orders(first: 100) { edges { node { status { code } "
        "timeline { edges { cursor } } } } } }",
    )

    assert answer.codes == ["QUERY_TOO_COSTLY"]


async def test_too_many_aliases_are_refused(client: httpx.AsyncClient) -> None:
    fields = " ".join(f"a{i}: myOrder {{ id }}" for i in range(MAX_ALIASES + 1))

    answer = await graphql(client, "{ " + fields + " }")

    assert answer.data is None
    assert answer.codes == ["TOO_MANY_ALIASES"]


async def test_a_document_with_too_many_tokens_is_refused(client: httpx.AsyncClient) -> None:
    answer = await graphql(client, "{ " + "__typename " * MAX_TOKENS + "}")

    assert answer.data is None
    assert answer.codes == ["QUERY_TOO_LARGE"]


@pytest.mark.parametrize(
    ("query", "variables", "code", "field"),
    [
        pytest.param(
            "{ orders { edges { node { id }", None, "GRAPHQL_PARSE_FAILED", None, id="syntax"
        ),
        pytest.param(
            "{ orders { total } }", None, "GRAPHQL_VALIDATION_FAILED", None, id="unknown-field"
        ),
        pytest.param(
            "{ ...Missing }", None, "GRAPHQL_VALIDATION_FAILED", None, id="unknown-fragment"
        ),
        pytest.param(
            "query($n: Int!) { orders(first: $n) { edges { cursor } } }",
            {"n": "ten"},
            "BAD_USER_INPUT",
            None,
            id="variable-type",
        ),
        pytest.param(
            "query($id: ID!) { order(id: $id) { id } }",
            {},
            "BAD_USER_INPUT",
            None,
            id="variable-missing",
        ),
        pytest.param(
            "{ orders(first: 0) { edges { cursor } } }",
            None,
            "BAD_USER_INPUT",
            "first",
            id="page-size",
        ),
        pytest.param(
            '{ orders(after: "nonsense") { edges { cursor } } }',
            None,
            "BAD_USER_INPUT",
            "after",
            id="cursor",
        ),
        pytest.param(
            '{ availability(skus: ["TENT-1"], salesChannelId: "sch_x", latitude: 10) { sku } }',
            None,
            "BAD_USER_INPUT",
            "latitude",
            id="half-a-point",
        ),
        pytest.param(
            "mutation { chooseClosureOption(input: {option: teleport}) { errors { code } } }",
            None,
            "GRAPHQL_VALIDATION_FAILED",
            None,
            id="unknown-enum",
        ),
    ],
)
async def test_bad_input_is_a_coded_graphql_error(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, object] | None,
    code: str,
    field: str | None,
) -> None:
    answer = await graphql(client, query, variables)

    assert answer.status_code == 200
    assert set(answer.codes) == {code}
    assert answer.body["errors"][0].get("extensions", {}).get("field") == field


@pytest.mark.parametrize(
    ("send", "status_code"),
    [
        pytest.param(
            {"content": b"{not json", "headers": {"content-type": "application/json"}},
            400,
            id="not-json",
        ),
        pytest.param({"json": {"variables": {}}}, 400, id="no-query"),
        pytest.param({"json": {"query": '{ order(id: "ord_\\u0000") { id } }'}}, 400, id="nul"),
        pytest.param(
            {
                "json": {"query": "{ __typename }", "variables": {"x": "y" * 11 * 1024 * 1024}}
            },  # over 10 MiB
            413,
            id="too-large",
        ),
    ],
)
async def test_what_is_not_a_graphql_request_gets_a_4xx_with_errors(
    client: httpx.AsyncClient, send: dict[str, object], status_code: int
) -> None:
    response = await client.post("/graphql", **send)  # type: ignore[arg-type]

    assert response.status_code == status_code
    assert response.headers["content-type"] == "application/json"
    assert response.json()["errors"][0]["message"]


async def test_queries_work_over_get_but_mutations_do_not(client: httpx.AsyncClient) -> None:
    query = await client.get("/graphql", params={"query": "{ orders { edges { cursor } } }"})
    ide = await client.get("/graphql", headers={"Accept": "text/html"})
    mutation = await client.get(
        "/graphql",
        params={
            "query": "mutation { startReturn(input: {items: [], reason: other}) "
            "{ errors { code } } }"
        },
    )

    assert query.status_code == 200
    assert query.json() == {"data": {"orders": {"edges": []}}}
    assert mutation.status_code == 400
    assert ide.status_code == 200
    assert "graphiql" in ide.text.lower()
    assert mutation.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_a_refused_operation_reads_nothing(hub: Hub, tenant: TenantKeys) -> None:
    """The limits are checked before the request's session opens: not even the API key is
    looked up."""
    async with http_client(hub, tenant.admin_key) as client:
        with statements(hub) as seen:
            answer = await graphql(client, STATUS_PAGE, {"n": 100})

    assert answer.codes == ["QUERY_TOO_COSTLY"]
    assert seen == []
