"""platform.http's own additions to FastAPI: fast routes answered ahead of its stack (the webhook's
POST), and the start-up heap frozen only when the process asks for it."""

from __future__ import annotations

import gc
import json

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from structlog.testing import capture_logs

from mostrador.events.memory import InMemoryBroker, InMemoryBus
from mostrador.platform.http import create_app
from mostrador.platform.service import Service


def rig(*, freeze_heap: bool = False):
    seen: list[tuple[str, bytes, str | None]] = []

    async def fast(request: Request):
        body = await request.body()
        seen.append((request.method, body, request.headers.get("x-tag")))
        if body == b"boom":
            raise RuntimeError("the handler broke")
        return JSONResponse({"fast": True, "size": len(body)}, status_code=202)

    router = APIRouter()

    @router.get("/hook")
    async def get_hook() -> PlainTextResponse:
        return PlainTextResponse("routed")

    service = Service("demo", routers=[router], fast_routes={("POST", "/hook"): fast})
    bus = InMemoryBus(InMemoryBroker())
    app = create_app("demo", bus, [service], freeze_heap=freeze_heap)
    return app, seen


def client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://demo")


async def test_a_fast_route_gets_the_raw_request_and_other_methods_and_paths_go_through_fastapi():
    app, seen = rig()
    async with client(app) as http:
        answer = await http.post("/hook", content=b"hola", headers={"X-Tag": "t1"})
        assert (answer.status_code, answer.json()) == (202, {"fast": True, "size": 4})
        assert seen == [("POST", b"hola", "t1")]

        routed = await http.get("/hook")
        assert (routed.status_code, routed.text) == (200, "routed")
        assert (await http.put("/hook")).status_code == 405  # FastAPI's answer: only GET is routed
        assert (await http.post("/hook/")).status_code == 307  # FastAPI's slash redirect, not the fast route
        assert (await http.get("/healthz")).json() == {"status": "ok"}
    assert len(seen) == 1


async def test_a_fast_route_that_raises_answers_500_and_logs_it():
    app, _ = rig()
    with capture_logs() as logged:
        async with client(app) as http:
            broken = await http.post("/hook", content=b"boom")
            assert (broken.status_code, broken.text) == (500, "Internal Server Error")
            assert (await http.post("/hook", content=b"ok")).status_code == 202  # still serving
    [entry] = [e for e in logged if e["event"] == "http.unhandled"]
    assert entry["path"] == "/hook" and entry["log_level"] == "error"


async def test_the_start_up_heap_is_frozen_only_when_the_process_asks():
    gc.unfreeze()
    try:
        plain, _ = rig()
        async with plain.router.lifespan_context(plain):
            assert gc.get_freeze_count() == 0

        frozen, _ = rig(freeze_heap=True)
        async with frozen.router.lifespan_context(frozen), client(frozen) as http:
            assert gc.get_freeze_count() > 1000  # the imports, the app, the services
            assert (await http.post("/hook", content=json.dumps({"a": 1}).encode())).status_code == 202
    finally:
        gc.unfreeze()
