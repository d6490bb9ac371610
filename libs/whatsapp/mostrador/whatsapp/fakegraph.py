"""A fake WhatsApp Cloud (Graph) API for tests, local development and the embedded sandbox.

Graph surface: ``POST /{version}/{phone_number_id}/messages`` (sends and mark-as-read),
``GET /{version}/{media_id}`` + a bearer-checked download URL. Control surface under ``/_fake``:
inject errors, play the customer (signed inbound webhooks), read records and conversations.
State lives in ``app.state.fake`` (a ``FakeGraphState``).

Standalone: ``python -m mostrador.whatsapp.fakegraph --port 9009 --webhook-url … --app-secret …``
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hmac
import json
import os
from typing import Any, Literal

import httpx
from fastapi import APIRouter, FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.convertors import Convertor, register_url_convertor

from mostrador.whatsapp.fakegraph_checks import BadSend, check_send, default_status, error_body
from mostrador.whatsapp.fakegraph_payloads import DISPLAY_PHONE_NUMBER, PHONE_NUMBER_ID, WABA_ID, InboundSpec
from mostrador.whatsapp.fakegraph_state import FakeGraphState, InjectedError


class _GraphVersion(Convertor[str]):
    # Only "v25.0"-like first segments are Graph calls, so /_fake/… and /simulator/… never collide.
    regex = r"v\d+\.\d+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("graphversion", _GraphVersion())


class ErrorSpec(BaseModel):
    code: int | None = None  # default: 131000 (an internal error)
    http_status: int | None = Field(default=None, ge=400, le=599)
    count: int = Field(default=1, ge=1, le=10_000)
    retry_after: float | None = Field(default=None, ge=0)
    recipient: str | None = None
    mode: Literal["sync", "async"] = "sync"
    title: str | None = None
    details: str | None = None


class ReadSpec(BaseModel):
    customer: str


class MediaUpload(BaseModel):
    data_base64: str = Field(max_length=22_400_000)  # ≈16 MB, WhatsApp's image/audio/video ceiling
    mime_type: str = "image/jpeg"


def graph_error(code: int, http_status: int | None = None, *, title: str | None = None,
                details: str | None = None, retry_after: float | None = None) -> JSONResponse:
    headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else None
    return JSONResponse(error_body(code, title, details), status_code=http_status or default_status(code),
                        headers=headers)


def _authorized(state: FakeGraphState, request: Request) -> bool:
    if not state.access_token:
        return True
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    expected = state.access_token.encode()
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), expected)


def graph_router(state: FakeGraphState) -> APIRouter:
    router = APIRouter()

    @router.post("/{version:graphversion}/{phone_number_id}/messages")
    async def messages(version: str, phone_number_id: str, request: Request) -> Response:
        try:
            body: Any = json.loads(await request.body())
        except ValueError:
            body = None
        seen: dict[str, Any] = {"method": "POST", "path": request.url.path, "body": body}
        if isinstance(body, dict):
            seen["key"] = body.get("biz_opaque_callback_data")

        def refuse(code: int, http_status: int | None = None, **extra: Any) -> JSONResponse:
            response = graph_error(code, http_status, **extra)
            state.record(**seen, status_code=response.status_code, error_code=code)
            return response

        if not _authorized(state, request):
            return refuse(190)
        if phone_number_id != state.phone_number_id:
            details = f"Unsupported post request. Object with ID '{phone_number_id}' does not exist"
            return refuse(100, 400, details=details)
        if isinstance(body, dict) and body.get("status") == "read":
            wamid = body.get("message_id")
            if not isinstance(wamid, str) or not wamid:
                return refuse(131008, details="message_id is required")
            state.business_read(wamid, typing=isinstance(body.get("typing_indicator"), dict))
            state.record(**seen, type="read", wamid=wamid, status_code=200)
            return JSONResponse({"success": True})
        try:
            kind = check_send(body)
        except BadSend as exc:
            return refuse(exc.code, details=exc.details)
        customer = state.recipient_of(body)
        seen |= {"type": kind, "recipient": customer.key}
        injected = state.take_error(customer)
        if injected is not None and injected.mode == "sync":
            return refuse(injected.code, injected.http_status, title=injected.title, details=injected.details,
                          retry_after=injected.retry_after)
        out = state.accept(body, customer, kind, fail=injected)
        state.record(**seen, status_code=200, wamid=out.wamid)
        contact = {"input": body.get("to") or body.get("recipient")}
        contact |= {"wa_id": customer.wa_id} if customer.wa_id else {"user_id": customer.user_id}
        return JSONResponse({"messaging_product": "whatsapp", "contacts": [contact],
                             "messages": [{"id": out.wamid}]})

    @router.get("/{version:graphversion}/{object_id}")
    async def graph_object(version: str, object_id: str, request: Request) -> Response:
        seen = {"method": "GET", "path": request.url.path, "type": "media"}
        if not _authorized(state, request):
            state.record(**seen, status_code=401, error_code=190)
            return graph_error(190)
        if object_id == state.phone_number_id:
            state.record(**seen | {"type": "phone_number"}, status_code=200)
            return JSONResponse({"id": object_id, "display_phone_number": state.display_phone_number,
                                 "verified_name": "Mostrador (fake)", "quality_rating": "GREEN",
                                 "throughput": {"level": "STANDARD"}})
        if object_id not in state.media:
            state.record(**seen, status_code=400, error_code=100)
            details = f"Unsupported get request. Object with ID '{object_id}' does not exist"
            return graph_error(100, details=details)
        data, mime, digest = state.media[object_id]
        state.record(**seen, status_code=200)
        url = str(request.url_for("fake_download", media_id=object_id))  # honours the mount prefix
        return JSONResponse({"messaging_product": "whatsapp", "url": url,
                             "mime_type": mime, "sha256": digest, "file_size": len(data), "id": object_id})

    return router


def control_router(state: FakeGraphState) -> APIRouter:
    router = APIRouter(prefix="/_fake")

    @router.post("/inbound")
    async def inbound(spec: InboundSpec) -> dict[str, Any]:
        """Play the customer: a Meta-shaped, signed webhook POSTed to the app under test."""
        if not (spec.wa_id or spec.user_id):
            raise HTTPException(422, "the customer needs wa_id (phone) or user_id (BSUID)")
        return await state.send_inbound(spec)

    @router.post("/errors")
    async def inject(spec: ErrorSpec) -> dict[str, Any]:
        code = spec.code if spec.code is not None else 131000
        state.errors.append(InjectedError(
            code=code, http_status=spec.http_status or default_status(code), count=spec.count,
            retry_after=spec.retry_after, recipient=spec.recipient, mode=spec.mode, title=spec.title,
            details=spec.details))
        return {"queued": len(state.errors)}

    @router.delete("/errors")
    async def clear_errors() -> dict[str, Any]:
        state.errors.clear()
        return {"queued": 0}

    @router.post("/read")
    async def read(spec: ReadSpec) -> dict[str, Any]:
        """The simulated customer looked at the chat: read statuses for what the business sent them."""
        return {"read": await state.customer_read(spec.customer)}

    @router.post("/media")
    async def upload(upload: MediaUpload) -> dict[str, Any]:
        try:
            data = base64.b64decode(upload.data_base64, validate=True)
        except (binascii.Error, ValueError):
            raise HTTPException(422, "data_base64 is not valid base64") from None
        media_id, digest = state.add_media(data, upload.mime_type)
        return {"id": media_id, "sha256": digest, "mime_type": upload.mime_type, "size": len(data)}

    @router.get("/media/{media_id}")
    async def media_preview(media_id: str) -> Response:
        # Unauthenticated on purpose: the simulated customer sees their own photo.
        if media_id not in state.media:
            raise HTTPException(404, "no such media")
        data, mime, _ = state.media[media_id]
        return Response(data, media_type=mime)

    @router.get("/download/{media_id}", name="fake_download")
    async def download(media_id: str, request: Request) -> Response:
        seen = {"method": "GET", "path": request.url.path, "type": "media_download"}
        if not _authorized(state, request):
            state.record(**seen, status_code=401, error_code=190)
            return graph_error(190)
        if media_id not in state.media:
            state.record(**seen, status_code=404)
            return JSONResponse({"error": "not found"}, status_code=404)
        data, mime, _ = state.media[media_id]
        state.record(**seen, status_code=200)
        return Response(data, media_type=mime)

    @router.get("/requests")
    async def requests() -> dict[str, Any]:
        return {"requests": state.requests, "sends_per_key": dict(state.sends_per_key),
                "webhooks": state.webhooks}

    @router.delete("/requests")
    async def reset() -> dict[str, Any]:
        state.reset()
        return {"reset": True}

    @router.get("/conversations")
    async def conversations(since: int = -1, wait: float = 0.0) -> dict[str, Any]:
        """Every chat as the customer sees it. ``since``+``wait``: long-poll until something changes."""
        await state.wait_change(since, min(max(wait, 0.0), 30.0))
        return {"version": state.version, "business": {"display_phone_number": state.display_phone_number,
                                                      "phone_number_id": state.phone_number_id},
                "conversations": state.conversations()}

    return router


def create_fake_graph(
    *,
    app_secret: str,
    webhook_url: str | None,
    phone_number_id: str = PHONE_NUMBER_ID,
    display_phone_number: str = DISPLAY_PHONE_NUMBER,
    access_token: str | None = None,
    webhook_transport: httpx.AsyncBaseTransport | None = None,
    status_delays: tuple[float, float] = (0.05, 0.1),
    auto_read: bool = False,
    waba_id: str = WABA_ID,
    webhook_retry_delays: tuple[float, ...] = (0.2, 1.0),
) -> FastAPI:
    state = FakeGraphState(
        app_secret=app_secret, webhook_url=webhook_url, phone_number_id=phone_number_id,
        display_phone_number=display_phone_number, access_token=access_token,
        webhook_transport=webhook_transport, status_delays=status_delays, auto_read=auto_read,
        waba_id=waba_id, webhook_retry_delays=webhook_retry_delays,
    )
    app = FastAPI(title="Fake WhatsApp Graph API", docs_url="/_fake/docs", redoc_url=None,
                  openapi_url="/_fake/openapi.json")
    app.state.fake = state
    app.include_router(control_router(state))
    app.include_router(graph_router(state))
    return app


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    from mostrador.whatsapp.simulator import simulator_router

    parser = argparse.ArgumentParser(description="Fake WhatsApp Graph API + customer simulator (/simulator)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9009)
    parser.add_argument("--webhook-url", default=os.environ.get("FAKEGRAPH_WEBHOOK_URL"))
    parser.add_argument("--app-secret", default=os.environ.get("FAKEGRAPH_APP_SECRET", "dev-app-secret"))
    parser.add_argument("--access-token", default=os.environ.get("FAKEGRAPH_ACCESS_TOKEN"))
    parser.add_argument("--phone-number-id", default=PHONE_NUMBER_ID)
    parser.add_argument("--display-phone-number", default=DISPLAY_PHONE_NUMBER)
    parser.add_argument("--auto-read", action="store_true", help="customers read every message at once")
    parser.add_argument("--status-delays", default="0.3,0.8",
                        help="seconds before 'sent' and then 'delivered'")
    args = parser.parse_args(argv)
    sent, delivered = (float(x) for x in args.status_delays.split(","))
    app = create_fake_graph(
        app_secret=args.app_secret, webhook_url=args.webhook_url, phone_number_id=args.phone_number_id,
        display_phone_number=args.display_phone_number, access_token=args.access_token,
        status_delays=(sent, delivered), auto_read=args.auto_read,
    )
    app.include_router(simulator_router(app))
    print(f"fake graph: http://{args.host}:{args.port}/v25.0/{args.phone_number_id}/messages  "
          f"simulator: http://{args.host}:{args.port}/simulator  webhooks → {args.webhook_url or '(none)'}")
    # Long-polling simulator tabs keep requests open: do not let them stall Ctrl+C.
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", timeout_graceful_shutdown=2)


if __name__ == "__main__":
    main()
