"""The sender's aiohttp transport against real loopback servers: what a receiver sees is
what httpx was asked to send, and what it answers is what the delivery log keeps."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from channelhub.platform.webhooks.transport import AiohttpTransport
from tests.fixtures.outside import free_port
from tests.fixtures.tls import self_signed


async def echo(request: web.Request) -> web.Response:
    body = await request.read()
    size = int(request.query.get("size", "0"))
    text = "x" * size if size else f"{request.method} {request.path_qs} {body.decode()}"
    return web.Response(
        status=int(request.query.get("status", "200")),
        text=text,
        headers={"retry-after": "7", "x-host-seen": request.headers["host"]},
    )


@pytest.fixture
async def receiver() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/{tail:.*}", echo)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=AiohttpTransport(max_connections=2)) as client:
        yield client


async def test_a_post_arrives_as_sent_and_its_answer_comes_back(
    client: httpx.AsyncClient, receiver: str
) -> None:
    response = await client.post(
        f"{receiver}/hooks?status=503",
        content=b'{"n": 1}',
        headers={"webhook-id": "msg_1", "host": "hooks.example:8443"},
    )

    assert response.status_code == 503
    assert response.text == 'POST /hooks?status=503 {"n": 1}'
    assert response.headers["retry-after"] == "7"
    assert response.headers["x-host-seen"] == "hooks.example:8443"


async def test_an_answer_left_unread_does_not_spoil_the_next_request(
    client: httpx.AsyncClient, receiver: str
) -> None:
    for _ in range(5):
        async with client.stream("POST", f"{receiver}/big?size=1000000", content=b"{}") as big:
            first = await anext(big.aiter_bytes())
            assert 0 < len(first) < 1_000_000
        small = await client.post(f"{receiver}/small", content=b"ok")
        assert small.text == "POST /small ok"


async def test_many_posts_share_the_pool_without_losing_any(
    client: httpx.AsyncClient, receiver: str
) -> None:
    answers = await asyncio.gather(
        *(client.post(f"{receiver}/n/{n}", content=str(n).encode()) for n in range(50))
    )

    assert sorted(a.text for a in answers) == sorted(f"POST /n/{n} {n}" for n in range(50))


async def test_an_unreachable_receiver_is_an_os_error(client: httpx.AsyncClient) -> None:
    with pytest.raises(OSError, match="Cannot connect"):
        await client.post(f"http://127.0.0.1:{free_port()}/hooks", content=b"{}")


async def test_a_pinned_https_request_names_the_original_host_and_checks_its_certificate(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    """The sender connects to the checked IP address; TLS must still ask for, and verify
    the certificate of, the endpoint's host name - a certificate nobody vouches for is
    refused."""
    names: list[str | None] = []
    context = self_signed(tmp_path, "hooks.example")
    context.sni_callback = lambda _sock, name, _ctx: names.append(name)
    app = web.Application()
    app.router.add_post("/hooks", echo)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=context).start()
    try:
        with pytest.raises(OSError, match="certificate"):
            await client.post(
                f"https://127.0.0.1:{port}/hooks",
                content=b"{}",
                extensions={"sni_hostname": "hooks.example"},
            )
    finally:
        await runner.cleanup()

    assert names == ["hooks.example"]
