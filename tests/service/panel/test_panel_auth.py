"""Login, sessions, CSRF, brute-force throttling, password changes, the first admin."""

from __future__ import annotations

import re

import pytest

from mostrador.panel_api.auth import UNSAFE_METHODS
from mostrador.panel_api.service import first_admin_notice, first_admin_password
from mostrador.panel_api.users import UserStore
from mostrador.platform.clock import FakeClock
from mostrador.platform.db import SqliteDatabase
from tests.service.panel.panel_rig import ADMIN, ADMIN_PW, PASSWORD

pytestmark = pytest.mark.service


async def test_login_sets_a_strict_httponly_cookie_and_returns_a_bearer_token(panel):
    client = panel.client()
    response = await client.post("/api/auth/login", json={"username": ADMIN, "password": ADMIN_PW})
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer" and len(body["access_token"]) >= 43 and body["csrf_token"]
    assert body["user"] == {"username": ADMIN, "display_name": "Administrador", "role": "admin", "branches": None,
                            "active": True}
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("mostrador_session=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http here; https requests get Secure (next test)
    me = await client.get("/api/auth/me")
    assert me.status_code == 200 and me.json()["csrf_token"] == body["csrf_token"]


async def test_cookie_is_secure_over_https(panel):
    client = panel.client()
    client.base_url = "https://testserver"
    response = await client.post("/api/auth/login", json={"username": ADMIN, "password": ADMIN_PW})
    assert "Secure" in response.headers["set-cookie"]


async def test_only_hashes_are_stored(panel):
    client = await panel.admin()
    db = panel.views.db
    stored = db.one("SELECT password_hash FROM users WHERE username = %(u)s", {"u": ADMIN})["password_hash"]
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$") and ADMIN_PW not in stored
    sessions = db.all("SELECT * FROM sessions")
    cookie = client.cookies["mostrador_session"]
    flat = repr(sessions)
    assert cookie not in flat and client.bearer not in flat


async def test_wrong_password_and_unknown_user_get_the_same_401(panel):
    client = panel.client()
    wrong = await client.post("/api/auth/login", json={"username": ADMIN, "password": "nope"})
    unknown = await client.post("/api/auth/login", json={"username": "ghost", "password": "nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"error": "invalid_credentials", "message": "wrong username or password"}
    assert "set-cookie" not in wrong.headers


async def test_brute_force_is_slowed_then_refused_then_allowed_after_the_lockout(panel):
    client = panel.client()
    attempt = {"username": ADMIN, "password": "guess"}
    for _ in range(3):  # LOGIN_MAX_FAILURES=3 in the fixture
        assert (await client.post("/api/auth/login", json=attempt)).status_code == 401
    assert panel.sleeps == [0.25, 0.5, 1.0]  # each failure answered later than the one before
    locked = await client.post("/api/auth/login", json={"username": ADMIN, "password": ADMIN_PW})
    assert locked.status_code == 429 and locked.json()["error"] == "too_many_attempts"
    assert 0 < int(locked.headers["Retry-After"]) <= 60
    panel.clock.advance(seconds=59)
    assert (await client.post("/api/auth/login", json={"username": ADMIN, "password": ADMIN_PW})).status_code == 429
    panel.clock.advance(seconds=2)
    assert (await client.post("/api/auth/login", json={"username": ADMIN, "password": ADMIN_PW})).status_code == 200


async def test_lockout_is_per_username_from_any_ip_and_per_ip_for_any_username(panel):
    panel.users.create("ana", "Ana", PASSWORD)
    for i in range(3):  # one account attacked from three addresses
        await panel.client(f"10.1.0.{i}").post("/api/auth/login", json={"username": "ana", "password": "x"})
    ana = await panel.client("10.9.9.9").post("/api/auth/login", json={"username": "ana", "password": PASSWORD})
    assert ana.status_code == 429
    sprayer = panel.client("10.2.0.1")  # one address trying many accounts
    for name in ("u1", "u2", "u3"):
        await sprayer.post("/api/auth/login", json={"username": name, "password": "x"})
    refused = await sprayer.post("/api/auth/login", json={"username": ADMIN, "password": ADMIN_PW})
    assert refused.status_code == 429
    assert (await panel.client("10.3.0.1").post("/api/auth/login",
                                                 json={"username": ADMIN, "password": ADMIN_PW})).status_code == 200


async def test_csrf_is_required_for_cookie_writes_but_not_for_bearer(panel):
    client = await panel.admin()
    token = client.headers.pop("X-CSRF-Token")
    create = {"username": "bea", "display_name": "Bea", "password": PASSWORD}
    missing = await client.post("/api/admin/users", json=create)
    assert missing.status_code == 403 and missing.json()["error"] == "csrf_failed"
    wrong = await client.post("/api/admin/users", json=create, headers={"X-CSRF-Token": token[:-2] + "xx"})
    assert wrong.status_code == 403
    assert (await client.get("/api/tickets")).status_code == 200  # reads need no token
    ok = await client.post("/api/admin/users", json=create, headers={"X-CSRF-Token": token})
    assert ok.status_code == 201
    bearer = panel.client()
    response = await bearer.post("/api/admin/users", json={**create, "username": "carla"},
                                 headers={"Authorization": f"Bearer {client.bearer}"})
    assert response.status_code == 201


async def test_every_cookie_write_without_the_csrf_token_is_a_documented_403(panel):
    """The route class refuses it on every unsafe /api route but the login; /openapi.json must say so on
    each (POST /api/auth/logout did not)."""
    client = await panel.admin()
    client.headers.pop("X-CSRF-Token")
    seen = 0
    for path, operations in panel.app.openapi()["paths"].items():
        for method, operation in operations.items():
            if not path.startswith("/api") or method.upper() not in UNSAFE_METHODS or path == "/api/auth/login":
                continue
            url = re.sub(r"\{[^}]+\}", lambda m: "1" if m.group(0) == "{number}" else "x1", path)
            response = await client.request(method.upper(), url, json={})
            assert response.status_code == 403 and response.json()["error"] == "csrf_failed", (method, path)
            assert "403" in operation["responses"], (method, path)
            seen += 1
    assert seen >= 11
    assert (await client.get("/api/auth/me")).status_code == 200  # the refused logout closed nothing


async def test_bad_or_unknown_bearer_is_401(panel):
    client = panel.client()
    for header in ("Bearer nope", "Basic abc", "Bearer "):
        response = await client.get("/api/tickets", headers={"Authorization": header})
        assert response.status_code == 401 and response.json()["error"] == "unauthenticated"
        assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_logout_revokes_cookie_and_bearer(panel):
    client = await panel.admin()
    bearer = {"Authorization": f"Bearer {client.bearer}"}
    assert (await panel.client().get("/api/auth/me", headers=bearer)).status_code == 200
    response = await client.post("/api/auth/logout")
    assert response.status_code == 204 and 'mostrador_session=""' in response.headers["set-cookie"]
    assert (await panel.client().get("/api/auth/me", headers=bearer)).status_code == 401
    client.cookies.clear()
    assert (await client.get("/api/auth/me")).status_code == 401


async def test_sessions_expire_after_idle_hours_but_use_keeps_them_alive(panel):
    client = await panel.admin()
    panel.clock.advance(hours=1.5)
    assert (await client.get("/api/auth/me")).status_code == 200  # used: idle timer restarts
    panel.clock.advance(hours=1.5)
    assert (await client.get("/api/auth/me")).status_code == 200
    panel.clock.advance(hours=2, seconds=1)  # SESSION_HOURS=2 without use
    expired = await client.get("/api/auth/me")
    assert expired.status_code == 401 and "expired" in expired.json()["message"]


async def test_change_password_needs_the_current_one_and_closes_other_sessions(panel):
    first = await panel.operator("ana")
    second = await panel.login("ana", PASSWORD)
    wrong = await first.post("/api/auth/password", json={"current": "wrong", "new": "a-brand-new-pass"})
    assert wrong.status_code == 403 and wrong.json()["error"] == "wrong_password"
    short = await first.post("/api/auth/password", json={"current": PASSWORD, "new": "short"})
    assert short.status_code == 422
    ok = await first.post("/api/auth/password", json={"current": PASSWORD, "new": "a-brand-new-pass"})
    assert ok.status_code == 204
    assert (await first.get("/api/auth/me")).status_code == 200
    assert (await second.get("/api/auth/me")).status_code == 401
    old = await panel.client("10.5.5.5").post("/api/auth/login", json={"username": "ana", "password": PASSWORD})
    assert old.status_code == 401
    await panel.login("ana", "a-brand-new-pass", ip="10.5.5.6")


async def test_login_again_replaces_the_session(panel):
    client = await panel.admin()
    old_cookie = client.cookies["mostrador_session"]
    again = await client.post("/api/auth/login", json={"username": ADMIN, "password": ADMIN_PW})
    assert again.status_code == 200 and client.cookies["mostrador_session"] != old_cookie
    stale = panel.client()
    stale.cookies.set("mostrador_session", old_cookie)
    assert (await stale.get("/api/auth/me")).status_code == 401


def test_first_admin_is_generated_once_when_there_are_no_users(tmp_path):
    store = UserStore(SqliteDatabase(str(tmp_path / "u.db")), FakeClock(), 12)
    password = store.ensure_first_admin(None, None)
    assert password and len(password) >= 16
    assert store.check_password("admin", password).role == "admin"
    assert store.ensure_first_admin(None, None) is None  # never again
    assert store.ensure_first_admin("boss", "boss-password-1") is None
    assert store.check_password("boss", "boss-password-1").role == "admin"
    assert store.ensure_first_admin("boss", "another-password") is None  # an existing user is left alone
    assert store.check_password("boss", "boss-password-1") is not None


def test_generated_password_is_handed_over_once_by_the_service(tmp_path):
    from mostrador.events.memory import InMemoryBus
    from mostrador.panel_api.service import build
    from mostrador.platform.service import Context
    from mostrador.platform.settings import Settings

    service = build(Context(settings=Settings(data_dir=tmp_path), bus=InMemoryBus(), clock=FakeClock()))
    notice = first_admin_notice(service)
    assert notice and "admin" in notice
    password = notice.split("password: ")[1].split()[0]
    assert service.parts["users"].check_password("admin", password) is not None
    assert first_admin_password(service) is None and first_admin_notice(service) is None
    again = build(Context(settings=Settings(data_dir=tmp_path), bus=InMemoryBus(), clock=FakeClock()))
    assert first_admin_password(again) is None  # users exist now: nothing generated


async def test_inactive_users_cannot_log_in_and_lose_their_sessions(panel):
    ana = await panel.operator("ana")
    admin = await panel.admin()
    assert (await admin.patch("/api/admin/users/ana", json={"active": False})).status_code == 200
    assert (await ana.get("/api/tickets")).status_code == 401
    again = await panel.client("10.7.0.1").post("/api/auth/login", json={"username": "ana", "password": PASSWORD})
    assert again.status_code == 401


async def test_login_takes_json_only(panel):
    # A cross-site HTML form can post text/plain or urlencoded, never JSON: no login CSRF.
    client = panel.client()
    form = await client.post("/api/auth/login", content=f'{{"username": "{ADMIN}", "password": "{ADMIN_PW}"}}',
                             headers={"Content-Type": "text/plain"})
    assert form.status_code == 422 and "set-cookie" not in form.headers


async def test_passwords_and_tokens_never_reach_the_logs(panel, capsys, caplog):
    client = panel.client()
    await client.post("/api/auth/login", json={"username": ADMIN, "password": "a-wrong-guess-42"})
    admin = await panel.admin()
    await admin.post("/api/admin/users", json={"username": "eva", "display_name": "Eva", "password": PASSWORD})
    await admin.post("/api/admin/users/eva/reset-password", json={"password": "reset-secret-777"})
    eva = await panel.login("eva", "reset-secret-777")
    await eva.post("/api/auth/password", json={"current": "reset-secret-777", "new": "changed-secret-888"})
    captured = capsys.readouterr()
    logs = captured.out + captured.err + caplog.text
    assert "auth.login" in logs and "admin.password_reset" in logs  # the events are logged…
    secrets = ["a-wrong-guess-42", ADMIN_PW, PASSWORD, "reset-secret-777", "changed-secret-888",
               admin.bearer, eva.bearer, admin.cookies["mostrador_session"], admin.headers["X-CSRF-Token"]]
    for secret in secrets:  # …without a single secret in them
        assert secret not in logs
