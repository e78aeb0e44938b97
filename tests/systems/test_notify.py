"""The SMTP and provider transports against a real SMTP server and a stand-in provider."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from channelhub.process.notifications.transport import DeliveryError, Email, ProviderMessage
from channelhub.systems.notify import Notifier, SmtpServer
from tests.fixtures.notifications import PUBLIC_ADDRESS, Mailbox, html_of, text_of
from tests.fixtures.outside import free_port

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.fixture(autouse=True)
def _providers_resolve(dns: Callable[[str, str], None]) -> None:
    """sms.example resolves to a public address unless a test says otherwise."""


def email(**overrides: str) -> Email:
    fields = {
        "id": "ndl_1",
        "sender": "orders@northwind.example",
        "sender_name": "Northwind, Porto",
        "reply_to": "help@northwind.example",
        "to": "ana@example.com",
        "subject": "Your order NW-1 is on its way.",
        "text": "Hello,\nIt ships.\n",
        "html": "<p>It ships.</p>",
        "unsubscribe_url": "https://hub.example/v1/self-service/unsubscribe?token=t",
        "language": "en",
        **overrides,
    }
    return Email(**fields)


def smtp(port: int) -> SmtpServer:
    return SmtpServer.from_url(f"smtp://127.0.0.1:{port}", timeout_s=5)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param(
            "smtp://mailer:p%40ss@mail.example:2525",
            SmtpServer("mail.example", 2525, "mailer", "p@ss", False, None, 5),
            id="smtp-opportunistic-starttls",
        ),
        pytest.param(
            "smtp+starttls://mail.example",
            SmtpServer("mail.example", 587, None, None, False, True, 5),
            id="starttls-required",
        ),
        pytest.param(
            "smtps://u:p@mail.example",
            SmtpServer("mail.example", 465, "u", "p", True, False, 5),
            id="implicit-tls",
        ),
    ],
)
def test_smtp_urls(url: str, expected: SmtpServer) -> None:
    assert SmtpServer.from_url(url, timeout_s=5) == expected


def test_an_unknown_smtp_scheme_is_refused() -> None:
    with pytest.raises(ValueError, match="use smtp://"):
        SmtpServer.from_url("http://mail.example", timeout_s=5)


async def test_an_email_arrives_with_both_parts_and_its_headers(mailbox: Mailbox) -> None:
    async with httpx.AsyncClient() as http:
        reply = await Notifier(http, smtp(mailbox.port)).send_email(email())

    assert reply == "2.0.0 Ok: queued as Q1"
    (message,) = mailbox.messages
    assert message["From"] == '"Northwind, Porto" <orders@northwind.example>'
    assert message["Message-ID"] == "<ndl_1@northwind.example>"
    assert message["Reply-To"] == "help@northwind.example"
    assert message["List-Unsubscribe"] == (
        "<https://hub.example/v1/self-service/unsubscribe?token=t>"
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert (text_of(message), html_of(message)) == ("Hello,\nIt ships.\n", "<p>It ships.</p>\n")
    assert mailbox.envelopes == [("orders@northwind.example", ["ana@example.com"])]


@pytest.mark.parametrize(
    ("answer", "retry"),
    [
        pytest.param("451 4.3.0 Try later", True, id="4xx-retried"),
        pytest.param("554 5.7.1 Rejected", False, id="5xx-final"),
    ],
)
async def test_smtp_refusals_say_whether_to_retry(
    mailbox: Mailbox, answer: str, retry: bool
) -> None:
    mailbox.refuse_data.append(answer)
    async with httpx.AsyncClient() as http:
        with pytest.raises(DeliveryError) as caught:
            await Notifier(http, smtp(mailbox.port)).send_email(email())

    assert caught.value.retry is retry
    assert caught.value.reason == f"the SMTP server answered {answer}"
    assert mailbox.messages == []


async def test_an_unreachable_smtp_server_is_retried() -> None:
    async with httpx.AsyncClient() as http:
        with pytest.raises(DeliveryError) as caught:
            await Notifier(http, smtp(free_port())).send_email(email())

    assert caught.value.retry is True
    assert caught.value.reason.startswith("cannot reach the SMTP server")


async def test_without_smtp_email_is_unavailable() -> None:
    async with httpx.AsyncClient() as http:
        notifier = Notifier(http, None)

        assert notifier.email_unavailable() == "no SMTP server is configured (CHANNELHUB_SMTP_URL)"


def provider(*answers: httpx.Response | Exception) -> tuple[Notifier, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    queue = list(answers)

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = queue.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    http = httpx.AsyncClient(transport=httpx.MockTransport(handle))
    return Notifier(http, None), seen


MESSAGE = ProviderMessage(
    id="ndl_2", url="https://sms.example/send", secret=SECRET, payload={"text": "Olá"}
)


async def test_a_provider_message_is_signed_per_standard_webhooks() -> None:
    notifier, seen = provider(httpx.Response(200, json={"id": "m-7"}))

    assert await notifier.post(MESSAGE) == "m-7"

    (request,) = seen
    assert Webhook(SECRET).verify(request.content, dict(request.headers)) == {"text": "Olá"}
    assert request.headers["webhook-id"] == "ndl_2"
    await notifier.http.aclose()


@pytest.mark.parametrize(
    ("answer", "retry"),
    [
        pytest.param(httpx.Response(503, text="busy"), True, id="5xx-retried"),
        pytest.param(httpx.Response(429, text="slow down"), True, id="429-retried"),
        pytest.param(httpx.Response(400, text="bad number"), False, id="4xx-final"),
        pytest.param(httpx.ConnectError("refused"), True, id="unreachable-retried"),
    ],
)
async def test_provider_failures_say_whether_to_retry(
    answer: httpx.Response | Exception, retry: bool
) -> None:
    notifier, _ = provider(answer)

    with pytest.raises(DeliveryError) as caught:
        await notifier.post(MESSAGE)

    assert caught.value.retry is retry
    await notifier.http.aclose()


async def test_a_provider_request_goes_to_the_checked_address_under_its_own_name() -> None:
    notifier, seen = provider(httpx.Response(200, json={"id": "m-7"}))

    await notifier.post(MESSAGE)

    (request,) = seen
    assert (request.url.host, request.headers["host"]) == (PUBLIC_ADDRESS, "sms.example")
    await notifier.http.aclose()


@pytest.mark.parametrize(
    "address",
    [
        pytest.param("127.0.0.1", id="loopback"),
        pytest.param("10.0.0.5", id="private"),
        pytest.param("169.254.169.254", id="cloud-metadata"),
    ],
)
async def test_a_provider_name_now_pointing_inside_the_network_is_never_contacted(
    dns: Callable[[str, str], None], address: str
) -> None:
    dns("sms.example", address)  # public when saved, private now (a changed record)
    notifier, seen = provider(httpx.Response(200, json={"id": "m-7"}))

    with pytest.raises(DeliveryError) as caught:
        await notifier.post(MESSAGE)

    assert seen == []
    assert caught.value.retry is False
    assert caught.value.reason.startswith("the provider URL is refused: the URL points at a")
    await notifier.http.aclose()


async def test_a_tenant_that_allows_private_targets_reaches_its_own_network(
    dns: Callable[[str, str], None],
) -> None:
    dns("sms.example", "10.0.0.5")
    notifier, seen = provider(httpx.Response(200, json={"id": "m-7"}))

    message = ProviderMessage(
        id="ndl_2", url=MESSAGE.url, secret=SECRET, payload={}, allow_private=True
    )
    assert await notifier.post(message) == "m-7"
    assert [str(r.url) for r in seen] == ["https://sms.example/send"]
    await notifier.http.aclose()


async def test_a_provider_redirect_is_not_followed() -> None:
    notifier, seen = provider(
        httpx.Response(302, headers={"location": "http://169.254.169.254/latest/meta-data"}),
        httpx.Response(200, text="ami-id"),
    )

    with pytest.raises(DeliveryError) as caught:
        await notifier.post(MESSAGE)

    assert len(seen) == 1
    assert (caught.value.reason, caught.value.retry) == ("the provider answered 302", False)
    await notifier.http.aclose()


async def test_a_provider_answer_is_not_kept_beyond_its_message_id() -> None:
    failing, _ = provider(httpx.Response(400, text="internal: db=10.0.0.7 user=admin"))
    with pytest.raises(DeliveryError) as caught:
        await failing.post(MESSAGE)
    odd, _ = provider(httpx.Response(200, json={"id": {"nested": "x" * 5000}, "raw": "secret"}))

    assert caught.value.reason == "the provider answered 400"
    assert await odd.post(MESSAGE) == ""
    await failing.http.aclose()
    await odd.http.aclose()


@pytest.mark.parametrize(
    "to",
    [
        pytest.param("ana@example.com,admin@example.com", id="comma"),
        pytest.param("ana@example.com,admin", id="comma-local"),
        pytest.param("Ana <ana@example.com>", id="display-name"),
        pytest.param("ana@example.com admin@example.com", id="space"),
        pytest.param("ana@example.com;admin@example.com", id="semicolon"),
        pytest.param("team: ana@example.com, admin@example.com;", id="group"),
    ],
)
async def test_an_address_that_names_more_than_one_recipient_is_refused(
    mailbox: Mailbox, to: str
) -> None:
    async with httpx.AsyncClient() as http:
        with pytest.raises(DeliveryError) as caught:
            await Notifier(http, smtp(mailbox.port)).send_email(email(to=to))

    assert caught.value.retry is False
    assert caught.value.reason.startswith("the message cannot be written:")
    assert (mailbox.envelopes, mailbox.messages) == ([], [])


async def test_the_envelope_names_only_the_order_address(mailbox: Mailbox) -> None:
    async with httpx.AsyncClient() as http:
        await Notifier(http, smtp(mailbox.port)).send_email(email(to="ana@example.com"))

    assert mailbox.envelopes == [("orders@northwind.example", ["ana@example.com"])]
    (message,) = mailbox.messages
    assert message["Content-Language"] == "en"


async def _scripted_smtp(hang_up_on: str) -> AsyncIterator[int]:
    """An SMTP server that answers like a real one and hangs up when the client sends
    ``hang_up_on`` (a command, or "." for the end of the message)."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 mail.example ESMTP\r\n")
        in_data = False
        while line := await reader.readline():
            word = line.decode().strip()
            command = word.split(" ")[0].upper() if not in_data else word
            if command == hang_up_on or (in_data and word == "." and hang_up_on == "."):
                writer.close()
                return
            if in_data:
                continue
            reply = {
                "EHLO": b"250-mail.example\r\n250 8BITMIME\r\n",
                "DATA": b"354 go ahead\r\n",
                "QUIT": b"221 bye\r\n",
            }.get(command, b"250 OK\r\n")
            in_data = command == "DATA"
            writer.write(reply)
            await writer.drain()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()


@pytest.mark.parametrize(
    ("hang_up_on", "retry", "reason"),
    [
        pytest.param("EHLO", True, "cannot reach the SMTP server", id="at-ehlo-retried"),
        pytest.param("MAIL", True, "cannot reach the SMTP server", id="at-mail-retried"),
        pytest.param(
            ".",
            False,
            "the SMTP server went silent mid-send; outcome unknown",
            id="after-data-unknown",
        ),
    ],
)
async def test_only_a_connection_lost_after_data_is_an_unknown_outcome(
    hang_up_on: str, retry: bool, reason: str
) -> None:
    async for port in _scripted_smtp(hang_up_on):
        async with httpx.AsyncClient() as http:
            with pytest.raises(DeliveryError) as caught:
                await Notifier(http, smtp(port)).send_email(email())

        assert caught.value.retry is retry
        assert caught.value.reason.startswith(reason)
