"""Composition root of panel-api: projections fed by the bus, users and sessions, the API, the live
stream and the panel UI.

The first admin is made here, at build time, so the composition root can show a generated password
right away: ``first_admin_password(service)`` hands it over once and forgets it (it is never logged)."""

from __future__ import annotations

import asyncio

from mostrador.events.topology import INBOXES
from mostrador.panel_api.admin import admin_router
from mostrador.panel_api.api import Commands, http_media_fetcher, tickets_router
from mostrador.panel_api.auth import Authenticator, auth_router
from mostrador.panel_api.catalog import load_catalog
from mostrador.panel_api.changes import PostgresChanges
from mostrador.panel_api.handlers import ProjectionHandlers
from mostrador.panel_api.routing import panel_route_class
from mostrador.panel_api.security import LoginThrottle
from mostrador.panel_api.stream import StreamHub, stream_router
from mostrador.panel_api.ui import ui_router
from mostrador.panel_api.users import UserStore
from mostrador.panel_api.views import PanelViews
from mostrador.platform.db import PostgresDatabase, open_database
from mostrador.platform.service import Context, Service

FIRST_ADMIN_PASSWORD = "first_admin_password"


def build(ctx: Context) -> Service:
    """Tests may tune through ``ctx.extras``: ``panel_catalog`` (a Catalog), ``panel_sleep`` (the
    failed-login delay), ``panel_command_timeout``, ``panel_sse_ping``, ``panel_sse_recheck``,
    ``panel_media_fetch``."""
    s, extras = ctx.settings, ctx.extras
    db = open_database(s, "panel-api")
    views = PanelViews(db)
    handlers = ProjectionHandlers(views)
    ctx.bus.subscribe("panel-api", INBOXES["panel-api"].bindings, handlers.on_event, prefetch=s.bus_prefetch)

    users = UserStore(db, ctx.clock, s.session_hours)
    throttle = LoginThrottle(db, ctx.clock, s.login_max_failures, s.login_lockout_seconds)
    generated = users.ensure_first_admin(s.admin_username,
                                         s.admin_password.get_secret_value() if s.admin_password else None)
    catalog = extras.get("panel_catalog") or load_catalog(s.bot_config)
    route_class = panel_route_class(Authenticator(users))
    commands = Commands(ctx.bus, extras.get("panel_command_timeout", 10.0))
    hub = StreamHub(views, ping=extras.get("panel_sse_ping", 15.0), session_user=users.session_user,
                    recheck=extras.get("panel_sse_recheck", 5.0))
    on_start, on_stop, checks = [hub.bind], [], []
    if isinstance(db, PostgresDatabase):  # maybe one of several processes: every one must hear every change
        changes = PostgresChanges(db, hub.notify, hub.reset)
        views.listeners.append(changes.publish)
        on_start.append(changes.start)
        on_stop.append(changes.stop)
        checks.append(changes.ready)
    else:
        views.listeners.append(hub.notify)
    fetch_media = extras.get("panel_media_fetch") or http_media_fetcher(s.ingest_url, s.internal_token)

    routers = [
        auth_router(users, throttle, route_class, extras.get("panel_sleep", asyncio.sleep)),
        tickets_router(views, commands, catalog, ctx.clock, route_class, fetch_media),
        stream_router(hub, route_class),
        admin_router(users, catalog.branch_ids, route_class),
        ui_router(route_class),
    ]

    async def close() -> None:
        await db.aclose()
        await asyncio.to_thread(db.close)

    parts = {"views": views, "db": db, "users": users, "throttle": throttle, "hub": hub, "catalog": catalog}
    if generated:
        parts[FIRST_ADMIN_PASSWORD] = generated
    return Service("panel-api", routers=routers, on_start=on_start, on_stop=[*on_stop, close], checks=checks,
                   parts=parts)


def first_admin_password(service: Service) -> str | None:
    """The generated password of the first admin, once: the caller prints it to the operator's
    terminal; later calls return None, so it is shown a single time and never reaches a log."""
    return service.parts.pop(FIRST_ADMIN_PASSWORD, None)


def first_admin_notice(service: Service) -> str | None:
    """The text to print for a generated first admin (None when there is nothing to tell)."""
    password = first_admin_password(service)
    if password is None:
        return None
    return ("\n  First start: created the panel administrator\n"
            f"      user: admin\n      password: {password}\n"
            "  Shown only this once. Log in and change it (or set ADMIN_USERNAME / ADMIN_PASSWORD).\n")


def build_and_announce(ctx: Context) -> Service:
    """Distributed mode: this process (each worker, with WORKERS) is the composition root, so it prints a
    generated first-admin password itself (to stdout, once, never through the logger); a worker that
    did not make the admin has nothing to print."""
    service = build(ctx)
    notice = first_admin_notice(service)
    if notice:
        print(notice, flush=True)
    return service

