"""The customer simulator: a WhatsApp-like page where a person plays customers of the shop.

It only talks to the fake Graph's control plane (``/_fake/inbound`` for what the customer
sends — the same signed-webhook path Meta uses — and ``/_fake/conversations`` to see replies),
so whatever it exercises is the real ingest path. Mount the fake Graph anywhere and pass its
prefix as ``api_prefix``; the page is told where the API lives through an inline JSON config.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse

from mostrador.whatsapp.fakegraph_payloads import PRESETS
from mostrador.whatsapp.fakegraph_state import FakeGraphState

STATIC = Path(__file__).parent / "static"
ASSETS = {"simulator.js": "text/javascript", "simulator.css": "text/css"}

PLACES = [
    {"label": "Obelisco", "latitude": -34.6037389, "longitude": -58.3815704},
    {"label": "Palermo Soho", "latitude": -34.5889, "longitude": -58.4306},
    {"label": "Caballito", "latitude": -34.6186, "longitude": -58.4420},
    {"label": "Fuera de zona (La Plata)", "latitude": -34.9214, "longitude": -57.9545},
]


def simulator_router(
    fake: FastAPI | FakeGraphState, *, api_prefix: str = "", path: str = "/simulator",
    business_name: str = "Mostrador",
) -> APIRouter:
    """Routes for ``{path}`` (the page) and ``{path}/static/…``.

    ``api_prefix`` is where the fake Graph app is mounted (e.g. ``/sandbox/graph``).
    """
    state: FakeGraphState = fake.state.fake if isinstance(fake, FastAPI) else fake
    api_prefix = api_prefix.rstrip("/")
    path = "/" + path.strip("/")
    router = APIRouter()

    def config(request: Request) -> dict[str, Any]:
        root = request.scope.get("root_path", "").rstrip("/")
        return {
            "api": root + api_prefix,
            "business": {"name": business_name, "display_phone_number": state.display_phone_number},
            "presets": [c.as_dict() for c in PRESETS],
            "places": PLACES,
        }

    @router.get(path, response_class=HTMLResponse, include_in_schema=False)
    async def page(request: Request) -> HTMLResponse:
        base = request.scope.get("root_path", "").rstrip("/") + path
        # "<" escaped so no value can close the <script> block the config lives in.
        inline = json.dumps(config(request)).replace("<", "\\u003c")
        text = (STATIC / "simulator.html").read_text(encoding="utf-8")
        text = text.replace("__CONFIG__", inline).replace("__BASE__", html.escape(base, quote=True))
        return HTMLResponse(text, headers={"Cache-Control": "no-store"})

    @router.get(path + "/config.json", include_in_schema=False)
    async def config_json(request: Request) -> dict[str, Any]:
        return config(request)

    @router.get(path + "/static/{name}", include_in_schema=False)
    async def asset(name: str) -> FileResponse:
        if name not in ASSETS:  # a fixed list: no path ever reaches the filesystem unchecked
            raise HTTPException(404)
        return FileResponse(STATIC / name, media_type=ASSETS[name])

    return router
