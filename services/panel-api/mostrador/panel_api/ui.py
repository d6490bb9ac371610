"""The panel UI: plain HTML, CSS and JS modules shipped in ``static/`` (no build step, no CDN).

Only the files present at start are served (a fixed map, so no path ever reaches the disk from a
request), each with the security headers of the route class: a CSP without inline code, so an
injected ``<script>`` or ``onerror=`` would not run even if some text were ever put in as HTML."""

from __future__ import annotations

import mimetypes
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response

from mostrador.panel_api.routing import ApiError

STATIC = Path(__file__).parent / "static"
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
         ".html": "text/html; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png",
         ".ico": "image/x-icon", ".json": "application/json"}


def static_files(root: Path = STATIC) -> dict[str, Path]:
    if not root.is_dir():
        return {}
    return {p.relative_to(root).as_posix(): p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")}


def ui_router(route_class: type) -> APIRouter:
    files = static_files()
    router = APIRouter(route_class=route_class, include_in_schema=False)

    def serve(name: str) -> Response:
        path = files.get(name)
        if path is None:
            raise ApiError(404, "not_found", "no such file")
        media_type = TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        # no-cache: the browser revalidates (ETag), so an upgrade is picked up without a stale UI.
        return FileResponse(path, media_type=media_type, headers={"Cache-Control": "no-cache"})

    @router.get("/")
    async def index() -> Response:
        return serve("index.html")

    @router.get("/static/{name:path}")
    async def static(name: str) -> Response:
        return serve(name)

    return router
