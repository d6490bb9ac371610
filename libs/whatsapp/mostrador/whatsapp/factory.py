"""The one way services build their WhatsApp client from settings (and the embedded sandbox)."""

from __future__ import annotations

from typing import Any

from mostrador.whatsapp.client import WhatsAppClient

SANDBOX_BASE_URL = "http://sandbox.graph/v25.0"
SANDBOX_TOKEN = "sandbox-token"


def whatsapp_client(settings: Any, extras: dict[str, Any] | None = None) -> WhatsAppClient:
    """With a sandbox transport (embedded mode without credentials) talk to the in-process fake
    Graph API; otherwise to WHATSAPP_GRAPH_BASE_URL with WHATSAPP_ACCESS_TOKEN (the sandbox's token
    when WHATSAPP_SANDBOX says that URL is the fake Graph API)."""
    transport = (extras or {}).get("whatsapp_transport")
    if transport is not None:
        return WhatsAppClient(base_url=SANDBOX_BASE_URL, phone_number_id=settings.whatsapp_phone_number_id,
                              access_token=SANDBOX_TOKEN, transport=transport,
                              throughput=settings.whatsapp_throughput)
    token = settings.whatsapp_access_token.get_secret_value() if settings.whatsapp_access_token else ""
    if not token and getattr(settings, "whatsapp_sandbox", False):  # the fake Graph API of run-distributed
        token = SANDBOX_TOKEN
    return WhatsAppClient(base_url=settings.whatsapp_graph_base_url,
                          phone_number_id=settings.whatsapp_phone_number_id, access_token=token,
                          throughput=settings.whatsapp_throughput)
