"""The one settings class. Nothing else in channelhub reads ``os.environ``."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///channelhub.db"
IN_PROCESS_BUS_URL = "memory://"


class LogFormat(StrEnum):
    console = "console"
    json = "json"


class Settings(BaseSettings):
    """Runtime configuration, read from ``CHANNELHUB_*`` environment variables (or ``.env``)."""

    model_config = SettingsConfigDict(
        env_prefix="CHANNELHUB_", env_file=".env", extra="ignore", frozen=True
    )

    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        description="SQLAlchemy URL. Default: a SQLite file in the working directory; "
        "postgresql+asyncpg://user@host/db selects PostgreSQL.",
    )
    bus_url: str = Field(
        IN_PROCESS_BUS_URL,
        description="Event bus. memory:// is the in-process bus (embedded default); "
        "nats://host:4222 selects NATS JetStream.",
    )
    bootstrap_admin_key: SecretStr | None = Field(
        None,
        description="On the first start of an empty database, this becomes the default "
        "tenant's admin API key instead of a generated one (for automated set-ups).",
    )
    encryption_key: SecretStr | None = Field(
        None,
        description="Fernet key(s) that encrypt connection credentials and webhook secrets "
        "at rest; comma-separated, the first encrypts (rotation). Make one with `channelhub "
        "connections new-key`. Needed before any connection can be created.",
    )
    secret_key: SecretStr | None = Field(
        None,
        description="Signs shoppers' order links (self-service). Default: a key generated "
        "once and kept in the database. Changing it invalidates the links sent so far.",
    )
    rate_limit_storage_url: str = Field(
        "memory://",
        description="Where self-service rate limits count: memory:// (per process) or a "
        "shared store the `limits` library supports, e.g. redis://host:6379 (needs "
        "`pip install limits[redis]`).",
    )
    host: str = Field("127.0.0.1", description="Address `channelhub serve` binds to.")
    port: Annotated[int, Field(ge=1, le=65535)] = Field(8000, description="HTTP port.")
    http_keep_alive_s: Annotated[int, Field(ge=1)] = Field(
        75,
        description="How long an idle HTTP connection is kept open; keep it longer than "
        "your load balancer's idle timeout (60 s on AWS ALB).",
    )
    forwarded_allow_ips: str = Field(
        "127.0.0.1",
        description="Addresses of the reverse proxies whose X-Forwarded-For and "
        "X-Forwarded-Proto are believed (comma-separated, or * behind a private network "
        "only): rate limits count the shopper's address and https is recognised behind "
        "a TLS-terminating proxy.",
    )
    portal_live_streams: Annotated[int, Field(ge=0)] = Field(
        500,
        description="Live-update streams of the self-service portal one process keeps open "
        "at most (each re-reads its order every 2 s); 0 turns live updates off.",
    )
    workers: Annotated[int, Field(ge=1, le=64)] = Field(
        1,
        description="API processes `channelhub serve` runs on one port (PostgreSQL only: "
        "SQLite has a single writer). Each also relays events and runs the consumers and "
        "jobs. About one per CPU core.",
    )
    log_level: str = Field("info", description="debug, info, warning or error.")
    log_format: LogFormat = Field(LogFormat.console, description="console or json.")

    db_pool_size: Annotated[int, Field(ge=1)] = Field(10, description="PostgreSQL pool size.")
    sqlite_busy_timeout_ms: Annotated[int, Field(ge=0)] = Field(
        5000, description="How long a SQLite writer waits for the lock before failing."
    )

    relay_batch_size: Annotated[int, Field(ge=1, le=10_000)] = Field(
        200, description="Outbox rows the relay publishes per round."
    )
    relay_poll_interval_s: Annotated[float, Field(gt=0)] = Field(
        0.5,
        description="How often the relay looks for outbox rows written by other processes "
        "(rows committed in this process wake it at once).",
    )
    relay_gather_s: Annotated[float, Field(ge=0, le=1)] = Field(
        0.02,
        description="Under a steady stream of commits the relay starts a round at most this "
        "often, so that events committed close together share one round's transactions "
        "(0: a round per wake).",
    )
    relay_claim_timeout_s: Annotated[float, Field(gt=0)] = Field(
        30.0,
        description="Lease on a batch the relay is publishing; a relay that dies mid-batch "
        "leaves it to be republished (and de-duplicated) after this long.",
    )
    outbox_retention_hours: Annotated[int, Field(ge=1)] = Field(
        24 * 30, description="Published events are kept this long (event log, replays)."
    )
    consumer_max_deliveries: Annotated[int, Field(ge=1)] = Field(
        8, description="Attempts at handling one event before it is dead-lettered."
    )
    consumer_retry_base_s: Annotated[float, Field(gt=0)] = Field(
        1.0, description="First retry delay of a failing consumer; doubles each attempt."
    )
    nats_stream: str = Field("CHANNELHUB", description="JetStream stream name.")
    nats_subject_prefix: str = Field("channelhub", description="Subject prefix for events.")
    nats_duplicate_window_s: Annotated[float, Field(gt=0)] = Field(
        600,
        description="JetStream de-duplication window on Nats-Msg-Id (must exceed the "
        "longest relay outage you want covered without consumer-side de-duplication).",
    )
    max_request_body_bytes: Annotated[int, Field(ge=1024)] = Field(
        10 * 1024 * 1024, description="Larger request bodies are refused with 413."
    )
    idempotency_ttl_hours: Annotated[int, Field(ge=1)] = Field(
        24, description="How long an Idempotency-Key and its response are remembered."
    )
    reservation_expiry_interval_s: Annotated[float, Field(gt=0)] = Field(
        5.0, description="How often lapsed reservations are looked for and released."
    )
    inbox_max_attempts: Annotated[int, Field(ge=1)] = Field(
        8, description="Attempts at applying an inbound delivery before it is parked."
    )
    inbox_retry_base_s: Annotated[float, Field(gt=0)] = Field(
        5.0, description="First retry delay of a delivery whose system was unreachable; doubles."
    )
    outbound_timeout_s: Annotated[float, Field(gt=0)] = Field(
        10.0, description="Time limit of each call to a connected system's API."
    )
    outbound_retry_base_s: Annotated[float, Field(gt=0)] = Field(
        0.5,
        description="First back-off of a failed call to a connected system (doubles, with "
        "jitter, up to 4 attempts; a Retry-After answer is honoured instead).",
    )
    push_interval_s: Annotated[float, Field(gt=0)] = Field(
        1.0,
        description="How often stock changes are pushed to connected storefronts; changes of "
        "one SKU within this window are pushed once.",
    )
    webhook_timeout_s: Annotated[float, Field(gt=0, le=120)] = Field(
        15.0,
        description="Overall time limit of each webhook request: resolving, connecting, "
        "sending and the whole answer (a failed attempt when exceeded).",
    )
    webhook_retry_schedule_s: list[Annotated[float, Field(ge=0)]] = Field(
        [5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0],
        min_length=0,
        max_length=20,
        description="Waits before each retry of a failed webhook (JSON list of seconds; "
        "the first attempt is immediate). Each wait varies by +-20 %; a longer Retry-After "
        "is honoured. Default: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.",
    )
    webhook_max_in_flight: Annotated[int, Field(ge=1, le=256)] = Field(
        8,
        description="Requests in flight to one webhook endpoint per process; a slow "
        "endpoint uses up only its own.",
    )
    webhook_disable_after_hours: Annotated[float, Field(gt=0)] = Field(
        120.0,
        description="An endpoint whose every attempt failed for this long is disabled "
        "(event endpoint.disabled); what it had waiting is held until it is enabled.",
    )
    health_timeout_s: Annotated[float, Field(gt=0)] = Field(
        2.0, description="Time budget of each /readyz dependency check."
    )
    smtp_url: SecretStr | None = Field(
        None,
        description="The SMTP server customer e-mails go through: smtp://user:password@host:port "
        "(STARTTLS when the server offers it), smtp+starttls:// (STARTTLS required) or "
        "smtps://host:465 (TLS). Unset: no e-mails (each is recorded as suppressed).",
    )
    smtp_timeout_s: Annotated[float, Field(gt=0)] = Field(
        30.0, description="Time limit of each SMTP conversation."
    )
    public_url: str = Field(
        "http://127.0.0.1:8000",
        description="The hub's address as customers' browsers and mail clients reach it: the "
        "base of the one-click unsubscribe links in e-mails.",
    )
    notification_poll_interval_s: Annotated[float, Field(gt=0)] = Field(
        1.0,
        description="How often customer notices scheduled by other processes are looked for "
        "(one scheduled in this process is delivered at once).",
    )
    notification_max_attempts: Annotated[int, Field(ge=1)] = Field(
        5,
        description="Attempts at a message whose SMTP server or provider failed in a way "
        "known not to have delivered it, before it is recorded as failed.",
    )
    notification_retry_base_s: Annotated[float, Field(gt=0)] = Field(
        60.0, description="First retry delay of a failed customer message; doubles."
    )
    notification_claim_timeout_s: Annotated[float, Field(gt=0)] = Field(
        300.0,
        description="Lease on a notice being delivered; longer than a send can take. A "
        "message still being sent when it runs out is recorded as failed, never sent twice.",
    )
    helpdesk_smtp_listen: str = Field(
        "",
        pattern=r"^(|\[?[0-9A-Za-z.:-]+\]?:[0-9]{1,5})$",
        description="host:port the built-in SMTP server receives helpdesk mail on (e.g. "
        "0.0.0.0:25 behind your MX, or 127.0.0.1:2525 for a relay that forwards to it). "
        "Empty: no SMTP server (mail can still come by IMAP polling or the connection's hook).",
    )
    helpdesk_smtp_hostname: str = Field(
        "channelhub", description="The name the built-in SMTP server greets with."
    )
    helpdesk_max_message_bytes: Annotated[int, Field(ge=1024)] = Field(
        36 * 1024 * 1024,
        description="Largest e-mail the SMTP server accepts (bigger: refused with 552, so the "
        "sender gets a bounce instead of a silent loss).",
    )
    helpdesk_max_attachment_bytes: Annotated[int, Field(ge=0)] = Field(
        10 * 1024 * 1024,
        description="Largest attachment kept; a bigger one is listed as too large and the rest "
        "of the message is kept.",
    )
    helpdesk_imap_interval_s: Annotated[float, Field(gt=0)] = Field(
        60.0, description="How often e-mail connections with an imap_url are polled."
    )
    helpdesk_llm_url: str | None = Field(
        None,
        description="Base URL of an OpenAI-compatible API (e.g. https://api.openai.com/v1) "
        "that classifies the helpdesk's messages; the offline model answers when it fails. "
        "Unset: the offline model alone (nothing leaves the hub).",
    )
    helpdesk_llm_api_key: SecretStr | None = Field(
        None, description="Bearer token for that API (unset for a local server that needs none)."
    )
    helpdesk_llm_model: str = Field(
        "gpt-4o-mini", description="The model that API is asked to classify with."
    )
    helpdesk_llm_timeout_s: Annotated[float, Field(gt=0)] = Field(
        10.0,
        description="Time limit of each classification by that API; past it, the offline "
        "model answers.",
    )

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("use sqlite+aiosqlite:///path.db or postgresql+asyncpg://user@host/db")
        return value

    @field_validator("smtp_url")
    @classmethod
    def _smtp(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(
            ("smtp://", "smtp+starttls://", "smtps://")
        ):
            raise ValueError("use smtp://, smtp+starttls:// or smtps://user:password@host:port")
        return value

    @field_validator("public_url")
    @classmethod
    def _public(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("use the hub's external http(s) address, e.g. https://hub.example.com")
        return value.rstrip("/")

    @field_validator("helpdesk_llm_url")
    @classmethod
    def _llm(cls, value: str | None) -> str | None:
        if not value:  # unset, or set to nothing
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("use the API's http(s) base URL, e.g. https://api.openai.com/v1")
        return value.rstrip("/")

    @field_validator("bus_url")
    @classmethod
    def _known_bus(cls, value: str) -> str:
        if not value.startswith(("memory://", "nats://", "tls://")):
            raise ValueError("use memory:// (in-process) or nats://host:4222 (JetStream)")
        return value

    @property
    def idempotency_ttl(self) -> timedelta:
        return timedelta(hours=self.idempotency_ttl_hours)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def uses_nats(self) -> bool:
        return not self.bus_url.startswith("memory://")
