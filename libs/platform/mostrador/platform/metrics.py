"""Prometheus metrics shared by the platform (one registry per process; /metrics exposes it)."""

import gc

from prometheus_client import Counter, Gauge, Histogram

BUS_CONSUMED = Counter("mostrador_bus_consumed_total", "Messages handled by a consumer", ["service", "outcome"])
BUS_DEAD_LETTERED = Counter("mostrador_bus_dead_lettered_total", "Messages sent to a dead-letter queue", ["service"])
BUS_PUBLISHED = Counter("mostrador_bus_published_total", "Messages confirmed by the broker", ["producer"])
DLQ_DEPTH = Gauge("mostrador_dlq_messages", "Messages waiting in a dead-letter queue", ["service"])
RELAY_POSITION = Gauge("mostrador_relay_position", "Last notification id published by the outbox relay", ["producer"])
WEBHOOK_REQUESTS = Counter("mostrador_webhook_requests_total", "WhatsApp webhook POSTs by outcome", ["outcome"])
WHATSAPP_SENDS = Counter("mostrador_whatsapp_sends_total", "Outbound WhatsApp sends by outcome", ["outcome"])
HANDLER_SECONDS = Histogram("mostrador_handler_seconds", "Time spent in a bus handler", ["service"])
LOGIN_ATTEMPTS = Counter("mostrador_login_attempts_total", "Panel logins by outcome", ["outcome"])
GC_FROZEN = Gauge("mostrador_gc_frozen_objects", "Objects put out of the garbage collector's sight after start-up")
GC_FROZEN.set_function(gc.get_freeze_count)  # 0 until the service process froze them (platform/http.py)
