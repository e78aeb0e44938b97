"""The webhook sender's HTTP/1.1 transport: httpx's interface over aiohttp's connections.

A webhook POST is the sender's hottest path. httpx's own transport (httpcore over anyio)
spends about 0.45 ms of CPU per request on a loopback receiver; aiohttp's C-accelerated
client does the same in about 0.07 ms, and under httpx's client about 0.2 ms. The sender
keeps httpx's request and response types (so tests route it with ``httpx.MockTransport``)
and sends through this transport.

It understands the one request extension the sender uses, ``sni_hostname`` (the TLS
server name and certificate host of a request pinned to an IP address). Redirects are
never followed (the sender's client does not ask for them); the environment's proxies are
never used.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import httpx

_CHUNK = 16 * 1024


class _ResponseStream(httpx.AsyncByteStream):
    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._response.content.iter_chunked(_CHUNK):
            yield chunk

    async def aclose(self) -> None:
        # A body read to its end gives the connection back to the pool; one left unread
        # (an answer too long to be worth reading) closes it.
        if self._response.content.at_eof():
            self._response.release()
        else:
            self._response.close()


class AiohttpTransport(httpx.AsyncBaseTransport):
    """One connection pool of at most ``max_connections`` keep-alive connections."""

    def __init__(self, *, max_connections: int) -> None:
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._max_connections),
                trust_env=False,
                auto_decompress=False,
                timeout=aiohttp.ClientTimeout(total=None),
            )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        sni_hostname = request.extensions.get("sni_hostname")
        response = await self._client().request(
            request.method,
            str(request.url),
            data=await request.aread(),
            headers=list(request.headers.multi_items()),
            allow_redirects=False,
            server_hostname=sni_hostname if isinstance(sni_hostname, str) else None,
        )
        return httpx.Response(
            response.status,
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.raw_headers],
            stream=_ResponseStream(response),
            extensions={"http_version": b"HTTP/1.1"},
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
