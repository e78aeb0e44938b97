"""What every connector shares: signatures, payload parsing, money and time from the
outside world, and calls to outside APIs with retries, back-off and a circuit breaker."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol, TypeVar, runtime_checkable

import httpx
from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState
from sqlalchemy.ext.asyncio import AsyncSession
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from channelhub.platform.inbox.models import InboxRecord
from channelhub.platform.inbox.processor import Park, Retry
from channelhub.platform.inbox.store import Delivery, Receiver, SignatureInvalid, body_digest
from channelhub.platform.money import minor_unit_exponent
from channelhub.platform.retry_after import retry_after_s
from channelhub.process.connections.service import ConnectionContext

T = TypeVar("T")


@runtime_checkable
class Connector(Protocol):
    """One kind of system of record: how its deliveries are verified and applied."""

    @property
    def receiver(self) -> Receiver:
        """How its deliveries are signed and identified."""

    async def handle(
        self, session: AsyncSession, ctx: ConnectionContext, record: InboxRecord, api: Api
    ) -> str:
        """Apply a stored delivery; returns what it did, in one line."""


def header(headers: Mapping[str, str], name: str) -> str:
    """A header by case-insensitive name, or ""."""
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), "")


def digest(secret: str, body: bytes) -> bytes:
    return hmac.new(secret.encode(), body, hashlib.sha256).digest()


def check_base64_hmac(secret: str, body: bytes, given: str, what: str) -> None:
    """Verify a base64 HMAC-SHA256 of the raw body (Shopify, WooCommerce, AfterShip)."""
    expected = base64.b64encode(digest(secret, body)).decode()
    if not given or not hmac.compare_digest(expected.encode(), given.strip().encode()):
        raise SignatureInvalid(f"the {what} signature is missing or does not match")


def check_shared_value(secret: str, given: str, what: str) -> None:
    """Verify a shared secret echoed in a header (BigCommerce, UPS)."""
    if not given or not hmac.compare_digest(secret.encode(), given.encode()):
        raise SignatureInvalid(f"the {what} credential is missing or does not match")


def json_body(record: InboxRecord) -> Any:
    """The delivery's JSON, or Park with the parse error."""
    try:
        return json.loads(record.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Park(f"the body is not valid JSON: {exc}") from exc


def field(payload: Mapping[str, Any], *path: str | int) -> Any:
    """``payload[a][b]...``, or Park naming what is missing."""
    value: Any = payload
    for step in path:
        try:
            value = value[step]
        except (KeyError, IndexError, TypeError) as exc:
            where = ".".join(str(p) for p in path)
            raise Park(f"the payload has no {where}") from exc
    return value


def minor_units(amount: str | int | float | None, currency: str) -> int:
    """A decimal amount as the outside world writes it ("249.00") in minor units."""
    if amount is None or amount == "":
        return 0
    try:
        value = Decimal(str(amount)).scaleb(minor_unit_exponent(currency))
    except (InvalidOperation, ValueError) as exc:
        raise Park(f"{amount!r} is not an amount") from exc
    if value != value.to_integral_value():
        raise Park(f"{amount!r} has more decimals than {currency} allows")
    return int(value)


def timestamp(value: str | None) -> datetime | None:
    """An ISO 8601 time with an offset, as UTC; a time without one is taken as UTC."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise Park(f"{value!r} is not an ISO 8601 time") from exc
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def event_delivery(body: bytes, id_key: str, topic_key: str) -> Delivery:
    """The id and topic a JSON event names; a body that is no such event is still stored
    (by its digest, topic ``unknown``) and parked when processed."""
    try:
        event = json.loads(body)
        return Delivery(str(event[id_key]), str(event[topic_key]))
    except (ValueError, KeyError, TypeError):
        return Delivery(body_digest(body), "unknown")


def unsupported(topic: str) -> Park:
    return Park(f"unsupported topic {topic!r}: stored, not applied")


class ApiError(Exception):
    """An outside API answered with an error that retrying will not fix."""


def _retry_after(response: httpx.Response) -> float | None:
    return retry_after_s(response.headers.get("Retry-After"), datetime.now(UTC))


class Throttled(Exception):
    """The outside API asks us to slow down (429, or its own throttle signal)."""

    def __init__(self, after_s: float | None) -> None:
        super().__init__(f"throttled; retry after {after_s} s")
        self.after_s = after_s


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, Throttled | httpx.TransportError):
        return True
    return isinstance(exc, httpx.HTTPStatusError) and exc.response.status_code >= 500


class Api:
    """Calls to outside systems: retried with exponential back-off and jitter (honouring
    Retry-After), and behind a circuit breaker per connection that opens after repeated
    failures, so one system that is down costs nothing but a fast refusal."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        attempts: int = 4,
        retry_base_s: float = 0.5,
        max_wait_s: float = 30.0,
        breaker_threshold: int = 5,
        breaker_ttl_s: float = 30.0,
    ) -> None:
        self.client = client
        self.attempts = attempts
        self.retry_base_s = retry_base_s
        self.max_wait_s = max_wait_s
        # A refusal of a bad request (ApiError) says nothing about the system's health.
        self._breakers = AsyncCircuitBreakerFactory(
            default_threshold=breaker_threshold, default_ttl=breaker_ttl_s, exclude=[ApiError]
        )

    def _wait(self, state: Any) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, Throttled) and exc.after_s is not None:
            return min(exc.after_s, self.max_wait_s)
        backoff = wait_exponential_jitter(
            multiplier=self.retry_base_s, max=self.max_wait_s, jitter=self.retry_base_s
        )
        return float(backoff(state))

    async def call(self, breaker: str, request: Callable[[], Awaitable[T]]) -> T:
        """Run ``request`` (which raises Throttled / httpx errors) with retries, inside the
        breaker named ``breaker``. Raises Retry when the system stays unavailable."""
        try:
            async with await self._breakers.get_breaker(breaker):
                async for attempt in AsyncRetrying(
                    stop=stop_after_attempt(self.attempts),
                    wait=self._wait,
                    retry=retry_if_exception(_transient),
                    reraise=True,
                ):
                    with attempt:
                        return await request()
        except OpenedState as exc:
            raise Retry(f"{breaker}: circuit open after repeated failures", after_s=30) from exc
        except Throttled as exc:
            raise Retry(f"{breaker}: still throttled", after_s=exc.after_s) from exc
        except (httpx.TransportError, httpx.HTTPStatusError) as exc:
            raise Retry(f"{breaker}: {exc}") from exc
        raise AssertionError("unreachable: AsyncRetrying either returns or raises")

    async def send(self, breaker: str, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One HTTP request with the policy above; 429 is throttling, 5xx retried, other
        4xx raised as ApiError with the body's first 300 characters."""

        async def attempt() -> httpx.Response:
            response = await self.client.request(method, url, **kwargs)
            if response.status_code == 429:
                raise Throttled(_retry_after(response))
            if response.status_code >= 500:
                response.raise_for_status()
            if response.status_code >= 400:
                raise ApiError(f"{method} {url}: {response.status_code} {response.text[:300]}")
            return response

        return await self.call(breaker, attempt)
