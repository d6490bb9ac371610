"""A customer's photo (a payment receipt) travels from WhatsApp's media store through ingest, which
keeps it, to the operator's chat — in both modes (the distributed panel fetches it from ingest with
the internal token)."""

from __future__ import annotations

import base64

import httpx
import pytest

from tests.e2e.customer import Customer
from tests.e2e.harness import login, wait_for

pytestmark = pytest.mark.timeout(180)
PHOTO = b"\xff\xd8\xff\xe0\x00\x10JFIF receipt of a transfer"


def check_photo(panel: str, fake: str) -> None:
    upload = httpx.post(f"{fake}/_fake/media", json={"data_base64": base64.b64encode(PHOTO).decode(),
                                                      "mime_type": "image/jpeg"}, timeout=10).json()
    lucia = Customer(fake, "5491100000001", "Lucía Fernández")
    lucia.send(type="image", media_id=upload["id"], mime_type="image/jpeg", sha256=upload["sha256"],
               caption="Te paso el comprobante")
    headers = login(panel)

    def image_message():
        items = httpx.get(f"{panel}/api/tickets/1/messages", headers=headers, timeout=5).json().get("items", [])
        return next((m for m in items if m.get("type") == "image" and (m.get("media") or {}).get("url")), None)

    message = wait_for(image_message, lambda m: m is not None, timeout=30)
    assert message["media"]["caption"] == "Te paso el comprobante"
    photo = wait_for(lambda: httpx.get(f"{panel}{message['media']['url']}", headers=headers, timeout=5),
                     lambda r: r.status_code == 200, timeout=30)
    assert (photo.content, photo.headers["content-type"]) == (PHOTO, "image/jpeg")
    assert httpx.get(f"{panel}{message['media']['url']}", timeout=5).status_code == 401  # never anonymously


def test_photo_reaches_the_operator_embedded(embedded):
    server, _ = embedded()
    with server:
        check_photo(server.base_url, f"{server.base_url}/sandbox/graph")


def test_photo_reaches_the_operator_distributed(distributed):
    cluster = distributed()
    check_photo(f"http://127.0.0.1:{cluster.ports['panel-api']}", f"http://127.0.0.1:{cluster.fake_graph_port}")
