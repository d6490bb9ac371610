"""/api/admin/users: administrators create operators, restrict them to branches, reset passwords,
deactivate them and close their sessions. The last active admin cannot be removed or demoted."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog
from fastapi import APIRouter, Depends, Path, Request

from mostrador.panel_api.auth import admin, principal
from mostrador.panel_api.models import USERNAME, ResetIn, RevokedOut, UserCreate, UserOut, UserPatch
from mostrador.panel_api.routing import DOCUMENT_AUTH, ApiError, error_responses, not_found
from mostrador.panel_api.users import UnknownUser, UserExists, UserStore

log = structlog.get_logger("panel.admin")

Username = Path(pattern=USERNAME)


def admin_router(users: UserStore, known_branches: Callable[[], set[str]], route_class: type) -> APIRouter:
    router = APIRouter(prefix="/api/admin/users", tags=["admin"], route_class=route_class,
                       dependencies=[*DOCUMENT_AUTH, Depends(admin)],
                       responses=error_responses(400, 401, 403, 404, 422))

    def check_branches(branches: list[str] | None) -> None:
        known = known_branches()
        unknown = sorted(set(branches or []) - known) if known else []
        if unknown:
            raise ApiError(422, "unknown_branch", f"branches: unknown branch {unknown[0]!r}")

    async def existing(username: str):
        user = await asyncio.to_thread(users.get, username)
        if user is None:
            raise not_found(f"user {username}")
        return user

    async def keep_one_admin(username: str) -> None:
        user = await existing(username)
        if user.role == "admin" and user.active and await asyncio.to_thread(users.active_admins) <= 1:
            raise ApiError(409, "last_admin", "this is the only active administrator")

    @router.get("", response_model=list[UserOut])
    async def list_users() -> list[UserOut]:
        return [UserOut(**u.public()) for u in await asyncio.to_thread(users.all_users)]

    @router.post("", response_model=UserOut, status_code=201, responses=error_responses(409))
    async def create_user(body: UserCreate, request: Request) -> UserOut:
        check_branches(body.branches)
        try:
            user = await asyncio.to_thread(users.create, body.username, body.display_name, body.password,
                                           body.role, body.branches)
        except UserExists:
            raise ApiError(409, "user_exists", f"user {body.username} already exists") from None
        log.info("admin.user_created", by=principal(request).user.username, username=user.username, role=user.role)
        return UserOut(**user.public())

    @router.patch("/{username}", response_model=UserOut, responses=error_responses(409))
    async def update_user(body: UserPatch, request: Request, username: str = Username) -> UserOut:
        fields = body.model_dump(exclude_unset=True)
        if fields.pop("unrestricted", None):
            fields["branches"] = None
        elif "branches" in fields:
            if fields["branches"] is None:
                fields.pop("branches")  # "null" is ambiguous: clearing needs unrestricted=true
            else:
                check_branches(fields["branches"])
        if fields.get("active") is False or fields.get("role") == "operator":
            await keep_one_admin(username)
        for name in ("display_name", "role", "active"):
            if name in fields and fields[name] is None:
                fields.pop(name)
        if not fields:
            return UserOut(**(await existing(username)).public())
        try:
            user = await asyncio.to_thread(lambda: users.update(username, **fields))
        except UnknownUser:
            raise not_found(f"user {username}") from None
        log.info("admin.user_updated", by=principal(request).user.username, username=username, fields=sorted(fields))
        return UserOut(**user.public())

    @router.post("/{username}/reset-password", response_model=RevokedOut)
    async def reset_password(body: ResetIn, request: Request, username: str = Username) -> RevokedOut:
        await existing(username)
        await asyncio.to_thread(users.set_password, username, body.password)
        revoked = await asyncio.to_thread(users.revoke_all, username)
        log.info("admin.password_reset", by=principal(request).user.username, username=username)
        return RevokedOut(revoked=revoked)

    @router.post("/{username}/revoke-sessions", response_model=RevokedOut)
    async def revoke_sessions(request: Request, username: str = Username) -> RevokedOut:
        await existing(username)
        revoked = await asyncio.to_thread(users.revoke_all, username)
        log.info("admin.sessions_revoked", by=principal(request).user.username, username=username, count=revoked)
        return RevokedOut(revoked=revoked)

    return router
