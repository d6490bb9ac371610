"""Who is calling: the session cookie (the panel UI) or a bearer token (API clients), both opaque
and revocable; and /api/auth: login (throttled), logout, me, change password.

Cookie-authenticated writes must echo the session's CSRF token in ``X-CSRF-Token`` (ASVS 4.2.2);
the cookie is also SameSite=Strict. Bearer writes need no CSRF token: a browser never adds an
``Authorization`` header by itself."""

from __future__ import annotations

import asyncio
import hmac
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
from fastapi import APIRouter, Request, Response

from mostrador.events.schemas.common import Actor
from mostrador.panel_api.models import LoginIn, LoginOut, MeOut, PasswordIn, UserOut
from mostrador.panel_api.routing import DOCUMENT_AUTH, ApiError, error_responses, public
from mostrador.panel_api.security import LoginThrottle
from mostrador.panel_api.users import Session, User, UserStore

log = structlog.get_logger("panel.auth")

COOKIE = "mostrador_session"
CSRF_HEADER = "x-csrf-token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class Principal:
    user: User
    session: Session
    via: str  # "cookie" | "bearer"

    @property
    def actor(self) -> Actor:
        return Actor(kind="operator", id=self.user.username, name=self.user.display_name)


def unauthenticated(message: str = "log in first") -> ApiError:
    return ApiError(401, "unauthenticated", message, headers={"WWW-Authenticate": "Bearer"})


class Authenticator:
    def __init__(self, users: UserStore) -> None:
        self.users = users

    async def __call__(self, request: Request) -> Principal:
        header = request.headers.get("authorization")
        if header is not None:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise unauthenticated("expected Authorization: Bearer <token>")
            found = await self.users.resolve_async(token.strip(), "bearer")
            if found is None:
                raise unauthenticated("the token is invalid, expired or revoked")
            return Principal(found[1], found[0], "bearer")
        cookie = request.cookies.get(COOKIE)
        if not cookie:
            raise unauthenticated()
        found = await self.users.resolve_async(cookie, "cookie")
        if found is None:
            raise unauthenticated("the session expired or was closed; log in again")
        session, user = found
        if request.method in UNSAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(sent.encode(), session.csrf_token.encode()):
                raise ApiError(403, "csrf_failed", "missing or wrong X-CSRF-Token header")
        return Principal(user, session, "cookie")


def principal(request: Request) -> Principal:
    return request.state.principal


def admin(request: Request) -> Principal:
    caller = principal(request)
    if caller.user.role != "admin":
        raise ApiError(403, "forbidden", "only administrators may do this")
    return caller


def auth_router(users: UserStore, throttle: LoginThrottle, route_class: type,
                sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> APIRouter:
    router = APIRouter(prefix="/api/auth", tags=["auth"], route_class=route_class,
                       responses=error_responses(400, 401, 422))

    async def refuse_if_locked(keys: list[str]) -> None:
        wait = await asyncio.to_thread(throttle.retry_after, keys)
        if wait is not None:
            raise ApiError(429, "too_many_attempts", "too many failed attempts; try again later",
                           headers={"Retry-After": str(math.ceil(wait))})

    async def count_failure(keys: list[str], username: str) -> None:
        failures = await asyncio.to_thread(throttle.failed, keys)
        log.info("auth.login_failed", username=username, failures=failures)
        await sleep(throttle.delay(failures))

    @router.post("/login", response_model=LoginOut, responses=error_responses(429))
    @public
    async def login(body: LoginIn, request: Request, response: Response) -> LoginOut:
        username = body.username.strip().lower()
        ip = request.client.host if request.client else "unknown"
        keys = [f"user:{username}", f"ip:{ip}"]
        await refuse_if_locked(keys)
        user = await asyncio.to_thread(users.check_password, username, body.password)
        if user is None:
            await count_failure(keys, username)
            raise ApiError(401, "invalid_credentials", "wrong username or password")
        await asyncio.to_thread(throttle.succeeded, keys[0])
        old = request.cookies.get(COOKIE)
        if old:  # a new session id on every login (ASVS 3.2.1); the previous one is closed
            previous = await asyncio.to_thread(users.resolve, old, "cookie")
            if previous is not None:
                await asyncio.to_thread(users.revoke, previous[0].id)
        new = await asyncio.to_thread(users.open_session, user.username)
        response.set_cookie(COOKIE, new.cookie_token, httponly=True, samesite="strict", path="/",
                            secure=request.url.scheme == "https")
        log.info("auth.login", username=user.username, role=user.role)
        return LoginOut(access_token=new.bearer_token, user=UserOut(**user.public()),
                        csrf_token=new.session.csrf_token)

    @router.post("/logout", status_code=204, response_class=Response, responses=error_responses(403),
                 dependencies=DOCUMENT_AUTH)
    async def logout(request: Request) -> Response:
        caller = principal(request)
        await asyncio.to_thread(users.revoke, caller.session.id)
        log.info("auth.logout", username=caller.user.username)
        response = Response(status_code=204)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return response

    @router.get("/me", response_model=MeOut, dependencies=DOCUMENT_AUTH)
    async def me(request: Request) -> MeOut:
        caller = principal(request)
        return MeOut(user=UserOut(**caller.user.public()),
                     csrf_token=caller.session.csrf_token if caller.via == "cookie" else None)

    @router.post("/password", status_code=204, response_class=Response, responses=error_responses(403, 429),
                 dependencies=DOCUMENT_AUTH)
    async def change_password(body: PasswordIn, request: Request) -> Response:
        caller = principal(request)
        keys = [f"user:{caller.user.username}"]
        await refuse_if_locked(keys)  # a stolen session must not become a way to guess the password
        if await asyncio.to_thread(users.check_password, caller.user.username, body.current) is None:
            await count_failure(keys, caller.user.username)
            raise ApiError(403, "wrong_password", "the current password is wrong")
        if body.new == body.current:
            raise ApiError(422, "invalid", "new: the new password must differ from the current one")
        await asyncio.to_thread(users.set_password, caller.user.username, body.new)
        revoked = await asyncio.to_thread(users.revoke_all, caller.user.username, keep=caller.session.id)
        log.info("auth.password_changed", username=caller.user.username, other_sessions_revoked=revoked)
        return Response(status_code=204)

    return router
