"""WhatsApp Cloud API: webhook signature + parsing, the outbound client, and a fake Graph for tests.

The fake Graph (``mostrador.whatsapp.fakegraph``) and the customer simulator
(``mostrador.whatsapp.simulator``) are imported explicitly, never from here.
"""

from mostrador.whatsapp.client import SendResult, WhatsAppClient
from mostrador.whatsapp.errors import ContentError, WhatsAppError
from mostrador.whatsapp.payloads import build_payload, validate
from mostrador.whatsapp.signature import handshake, sign, verify
from mostrador.whatsapp.webhook import WebhookBatch, WebhookError, parse_webhook

__all__ = [
    "ContentError", "SendResult", "WebhookBatch", "WebhookError", "WhatsAppClient", "WhatsAppError",
    "build_payload", "handshake", "parse_webhook", "sign", "validate", "verify",
]
