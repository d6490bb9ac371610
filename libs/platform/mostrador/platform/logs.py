"""structlog set-up: JSON lines with the context the bus binds (event_id, correlation_id, ticket, customer).
Secrets never reach a log line: settings hold them as SecretStr and nothing logs request headers."""

from __future__ import annotations

import logging
import sys

import structlog


def configure(level: str = "INFO", fmt: str = "json", stream=None) -> None:
    stream = stream or sys.stdout
    renderer = structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=level.upper(), stream=stream, format="%(name)s %(levelname)s %(message)s")
    for noisy in ("aiormq", "aio_pika", "httpx", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def bind(**values: object) -> None:
    """Add context (ticket number, customer key…) to every log line of the current message."""
    structlog.contextvars.bind_contextvars(**{k: v for k, v in values.items() if v is not None})
