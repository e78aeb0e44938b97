"""Where webhooks may be sent: http(s) URLs of public hosts, unless the tenant allowed
private networks (an endpoint on the merchant's own LAN, a test receiver on loopback).

The guard runs when an endpoint is saved and again before every request: the host name
is resolved, every address checked, and the request is sent to the checked address (the
``Host`` header and TLS server name keep the name), so a name that later points inside
the network (DNS rebinding, a changed record) is refused too.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import SplitResult, urlsplit, urlunsplit

import httpx
import idna

from channelhub.platform.errors import InvalidError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

_RESOLVED_TTL_S = 60.0
_RESOLVED_KEPT = 1024
_resolved: dict[str, tuple[float, tuple[Address, ...]]] = {}
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


class TargetRefused(InvalidError):
    code = "webhook_target_refused"


def parse_target(url: str, *, field: str = "url") -> SplitResult:
    """The URL's parts if it is an absolute http(s) URL with a host, else InvalidError."""
    try:
        parts = urlsplit(url)
        port = parts.port
        httpx.URL(url)
    except (ValueError, UnicodeError, httpx.InvalidURL) as exc:
        raise InvalidError(f"not a valid URL: {exc}", field=field) from exc
    if parts.scheme not in ("http", "https"):
        raise InvalidError("the URL must start with https:// (or http://)", field=field)
    if not parts.hostname:
        raise InvalidError("the URL has no host", field=field)
    if parts.username or parts.password:
        raise InvalidError(
            "credentials in the URL would be logged; sign with the endpoint secret instead",
            field=field,
        )
    if port == 0:
        raise InvalidError("port 0 is not a port", field=field)
    try:
        ipaddress.ip_address(parts.hostname)
    except ValueError:
        try:
            idna.encode(parts.hostname, uts46=True)
        except idna.IDNAError as exc:
            raise InvalidError(f"{parts.hostname} is not a valid host name", field=field) from exc
    return parts


def is_private(address: Address) -> bool:
    """Loopback, private, link-local (cloud metadata), shared, site-local, reserved or
    unspecified - including an IPv4 address inside an IPv6 one (mapped, 6to4, NAT64,
    IPv4-compatible)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address in _LOCAL_NAT64 or address.is_site_local:
            return True
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and (address in _NAT64 or address in _IPV4_COMPATIBLE):
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return is_private(embedded)
    return not address.is_global or address.is_multicast


async def resolve(host: str) -> tuple[Address, ...]:
    """Every address ``host`` stands for (an IP literal stands for itself); cached a minute.
    OSError when it stands for none."""
    try:
        return (ipaddress.ip_address(host.strip("[]")),)
    except ValueError:
        pass
    now = time.monotonic()
    cached = _resolved.get(host)
    if cached is not None and cached[0] > now:
        return cached[1]
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except UnicodeError as exc:
        raise OSError(f"{host} is not a valid host name") from exc
    addresses = tuple(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos)
    if len(_resolved) >= _RESOLVED_KEPT:
        _resolved.clear()
    _resolved[host] = (now + _RESOLVED_TTL_S, addresses)
    return addresses


@dataclass(frozen=True)
class Pinned:
    """A request target pinned to the address that was checked: the URL names the IP,
    ``Host`` and the TLS server name keep the original host."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    extensions: dict[str, Any] = field(default_factory=dict)


async def pin(url: str, *, allow_private: bool) -> Pinned:
    """Where to send a request for ``url``: with ``allow_private``, the URL as it is;
    otherwise its host resolved once, every address checked, and the request sent to the
    first of them - so what was checked is what is connected to (no DNS rebinding between
    the check and the connection). TargetRefused or OSError when it may not or cannot be
    reached."""
    if allow_private:
        return Pinned(url)
    parts = parse_target(url)
    host = parts.hostname or ""
    address = (await _public_addresses(host))[0]
    netloc = f"[{address}]" if address.version == 6 else str(address)
    if parts.port is not None:
        netloc += f":{parts.port}"
    host_header = f"{host}:{parts.port}" if parts.port is not None else host
    extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
    return Pinned(
        urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, "")),
        {"host": host_header},
        extensions,
    )


async def check_target(url: str, *, allow_private: bool, field: str = "url") -> None:
    """Refuse (TargetRefused) a URL whose host is or resolves to a private address, unless
    ``allow_private``. A name that does not resolve now is accepted at save time (DNS may
    not be set up yet) and fails its deliveries until it does."""
    parts = parse_target(url, field=field)
    if allow_private:
        return
    try:
        await _public_addresses(parts.hostname or "", field=field)
    except OSError:
        return


async def _public_addresses(host: str, *, field: str | None = None) -> tuple[Address, ...]:
    """What ``host`` resolves to, if none of it is private (else TargetRefused; OSError when
    it does not resolve)."""
    if host.rstrip(".").lower() == "localhost" or host.lower().endswith(".localhost"):
        raise TargetRefused(_PRIVATE, field=field)
    addresses = await resolve(host)
    if not addresses or any(is_private(address) for address in addresses):
        raise TargetRefused(_PRIVATE, field=field)
    return addresses


_PRIVATE = (
    "the URL points at a private, loopback or link-local address; an admin can allow "
    "private targets for this tenant (PUT /v1/webhook-settings)"
)
