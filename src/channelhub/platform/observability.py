"""Structured logging (structlog, dotted event names) and Prometheus metrics."""

from __future__ import annotations

import logging
import sys

import structlog
from prometheus_client import Counter, Gauge, Histogram

from channelhub.platform.config import LogFormat, Settings

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

HTTP_REQUESTS = Counter(
    "channelhub_http_requests_total", "HTTP requests answered.", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "channelhub_http_request_duration_seconds",
    "Time to answer an HTTP request.",
    ["method", "route"],
    buckets=_LATENCY_BUCKETS,
)
EVENTS_PUBLISHED = Counter(
    "channelhub_events_published_total", "Outbox events acknowledged by the bus."
)
OUTBOX_PENDING = Gauge(
    "channelhub_outbox_pending", "Outbox events not yet published (sampled by the relay)."
)
EVENTS_HANDLED = Counter(
    "channelhub_events_handled_total",
    "Event deliveries to consumers, by outcome.",
    ["consumer", "outcome"],
)
INBOX_OUTCOMES = Counter(
    "channelhub_inbox_outcomes_total",
    "Inbound deliveries handled, by outcome (processed, retried, parked).",
    ["outcome"],
)
INBOX_REJECTED = Counter(
    "channelhub_inbox_rejected_total",
    "Inbound deliveries refused for a missing or forged signature.",
    ["system"],
)
OUTBOUND_PUSHES = Counter(
    "channelhub_pushes_total",
    "Stock figures pushed to connected systems, by system and outcome.",
    ["system", "outcome"],
)
WEBHOOK_ATTEMPTS = Counter(
    "channelhub_webhook_attempts_total",
    "Requests to webhook endpoints, by outcome (ok: a 2xx answer; failed: anything else).",
    ["outcome"],
)
WEBHOOK_LATENCY = Histogram(
    "channelhub_webhook_attempt_duration_seconds",
    "Time from sending a webhook to its answer (or failure).",
    buckets=_LATENCY_BUCKETS,
)
EVENT_LAG = Histogram(
    "channelhub_event_handle_lag_seconds",
    "Time from an event's change (its envelope time) to its consumer's commit.",
    ["consumer"],
    buckets=_LATENCY_BUCKETS,
)


def configure_logging(settings: Settings) -> None:
    level = logging.getLevelNamesMapping().get(settings.log_level.upper(), logging.INFO)
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if settings.log_format is LogFormat.json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=max(level, logging.WARNING), stream=sys.stderr, force=True)
