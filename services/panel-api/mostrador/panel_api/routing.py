"""One route class for every panel route: the single place that authenticates (deny by default,
ASVS 4.1.5), turns every failure into ``{"error", "message"}`` with the right status, and adds the
security headers. A new ``/api`` route is authenticated without anyone having to remember it;
only endpoints marked ``@public`` (the login) are not."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from fastapi import Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException

from mostrador.events.bus import CommandError, PublishError, RequestTimeout
from mostrador.panel_api.models import ErrorOut
from mostrador.panel_api.security import SECURITY_HEADERS

log = structlog.get_logger("panel.api")

CODES = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
         409: "conflict", 413: "too_large", 422: "invalid", 429: "too_many_attempts", 502: "bad_gateway",
         503: "unavailable", 504: "timeout"}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, *, details: Any = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details, self.headers = status, code, message, details, headers

    def response(self) -> JSONResponse:
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.details is not None:
            body["details"] = self.details
        return JSONResponse(body, status_code=self.status, headers=self.headers)


def not_found(what: str) -> ApiError:
    # The same answer for "does not exist" and "not yours": another branch's ticket must not be detectable.
    return ApiError(404, "not_found", f"{what} not found")


def public(endpoint: Callable) -> Callable:
    endpoint.panel_public = True  # type: ignore[attr-defined]
    return endpoint


def _validation(exc: RequestValidationError) -> ApiError:
    details = [{"loc": [str(p) for p in e.get("loc", ())], "msg": e.get("msg", ""), "type": e.get("type", "")}
               for e in exc.errors()]
    first = details[0] if details else {"loc": [], "msg": "invalid request"}
    where = ".".join(p for p in first["loc"] if p not in ("body", "query", "path")) or "request"
    return ApiError(422, "invalid", f"{where}: {first['msg']}", details=details)


def _command(exc: CommandError) -> ApiError:
    status = exc.status if 400 <= exc.status <= 599 and exc.status != 500 else 502
    return ApiError(status, exc.code, exc.message, details=exc.details or None)


def as_api_error(exc: Exception) -> ApiError | None:
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, RequestValidationError):
        return _validation(exc)
    if isinstance(exc, StarletteHTTPException):
        return ApiError(exc.status_code, CODES.get(exc.status_code, "error"), str(exc.detail),
                        headers=dict(exc.headers or {}))
    if isinstance(exc, CommandError):
        return _command(exc)
    if isinstance(exc, RequestTimeout):
        return ApiError(504, "timeout", "the service did not answer in time; try again")
    if isinstance(exc, PublishError):
        return ApiError(503, "unavailable", "the message bus is unavailable; try again")
    return None


def secure(response: Response, path: str) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if path.startswith("/api"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def panel_route_class(authenticate: Callable[[Request], Awaitable[Any]]) -> type[APIRoute]:
    class PanelRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
            original = super().get_route_handler()
            needs_auth = self.path.startswith("/api") and not getattr(self.endpoint, "panel_public", False)

            async def handler(request: Request) -> Response:
                try:
                    if needs_auth:
                        request.state.principal = await authenticate(request)
                    response = await original(request)
                except Exception as exc:
                    error = as_api_error(exc)
                    if error is None:
                        raise
                    if error.status >= 500:
                        log.warning("panel.request_failed", path=request.url.path, error=error.code)
                    response = error.response()
                return secure(response, request.url.path)

            return handler

    return PanelRoute


# Documents in /openapi.json how to authenticate (the route class does the checking): the bearer
# token from /api/auth/login; the browser's session cookie needs X-CSRF-Token on writes instead.
DOCUMENT_AUTH = [Security(HTTPBearer(auto_error=False, scheme_name="bearer",
                                     description="access_token from POST /api/auth/login"))]


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorOut, "description": CODES.get(status, "error")} for status in statuses}
