"""Who may do what: anonymous callers, operators vs admins, branch-limited operators (404, never 403)."""

from __future__ import annotations

import re

import pytest

from mostrador.events.schemas.common import OutboundContent
from mostrador.panel_api.security import SECURITY_HEADERS
from tests.service.panel.panel_rig import PASSWORD, conversation, inbound, outbound, refuse, ticket_state

pytestmark = pytest.mark.service


def api_routes(app):
    """Every /api operation the app serves, from its OpenAPI document (which lists the routes of
    included routers too), so a route added later is checked without editing this test."""
    for path, operations in app.openapi()["paths"].items():
        if path.startswith("/api"):
            for method in operations:
                yield method.upper(), path


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", lambda m: "1" if m.group(0) == "{number}" else "x1", path)


async def test_every_api_route_but_login_refuses_anonymous_callers(panel):
    client = panel.client()
    seen = 0
    for method, path in api_routes(panel.app):
        if path == "/api/auth/login":
            continue
        # Even a malformed body must not get past authentication first (no 422 before 401).
        response = await client.request(method, concrete(path), content=b"{not json",
                                        headers={"Content-Type": "application/json"})
        assert response.status_code == 401, (method, path, response.text)
        assert response.json()["error"] == "unauthenticated"
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value
        seen += 1
    assert seen >= 19  # the brief's routes, admin ones included


async def test_operators_get_403_on_every_admin_route(panel):
    ana = await panel.operator("ana")
    admin_routes = [(m, p) for m, p in api_routes(panel.app) if p.startswith("/api/admin")]
    assert len(admin_routes) == 5
    for method, path in admin_routes:
        response = await ana.request(method, concrete(path).replace("x1", "ana"), json={})
        assert response.status_code == 403, (method, path)
        assert response.json() == {"error": "forbidden", "message": "only administrators may do this"}


async def test_admin_manages_users(panel):
    admin = await panel.admin()
    created = await admin.post("/api/admin/users", json={"username": "bea", "display_name": "Bea", "password": PASSWORD,
                                                          "branches": ["centro"]})
    assert created.status_code == 201
    assert created.json() == {"username": "bea", "display_name": "Bea", "role": "operator", "branches": ["centro"],
                              "active": True}
    again = await admin.post("/api/admin/users", json={"username": "bea", "display_name": "B", "password": PASSWORD})
    assert again.status_code == 409 and again.json()["error"] == "user_exists"
    bad_branch = await admin.post("/api/admin/users", json={"username": "cai", "display_name": "C", "password": PASSWORD,
                                                             "branches": ["narnia"]})
    assert bad_branch.status_code == 422 and bad_branch.json()["error"] == "unknown_branch"
    bad_name = await admin.post("/api/admin/users", json={"username": "Bad Name!", "display_name": "C",
                                                           "password": PASSWORD})
    assert bad_name.status_code == 422 and bad_name.json()["error"] == "invalid"
    users = (await admin.get("/api/admin/users")).json()
    assert [u["username"] for u in users] == ["bea", "root"]
    widened = await admin.patch("/api/admin/users/bea", json={"unrestricted": True, "display_name": "Beatriz"})
    assert widened.json()["branches"] is None and widened.json()["display_name"] == "Beatriz"
    narrowed = await admin.patch("/api/admin/users/bea", json={"branches": ["palermo", "centro"]})
    assert narrowed.json()["branches"] == ["centro", "palermo"]
    assert (await admin.patch("/api/admin/users/ghost", json={"active": False})).status_code == 404

    bea = await panel.login("bea", PASSWORD)
    reset = await admin.post("/api/admin/users/bea/reset-password", json={"password": "reset-by-admin-1"})
    assert reset.status_code == 200 and reset.json() == {"revoked": 1}
    assert (await bea.get("/api/auth/me")).status_code == 401
    bea = await panel.login("bea", "reset-by-admin-1")
    revoke = await admin.post("/api/admin/users/bea/revoke-sessions")
    assert revoke.json() == {"revoked": 1} and (await bea.get("/api/auth/me")).status_code == 401


async def test_the_last_active_admin_cannot_be_removed(panel):
    admin = await panel.admin()
    for change in ({"active": False}, {"role": "operator"}):
        response = await admin.patch("/api/admin/users/root", json=change)
        assert response.status_code == 409 and response.json()["error"] == "last_admin"


@pytest.mark.parametrize("change", [{"active": 0}, {"active": "false"}, {"unrestricted": 1}, {"unrestricted": "true"},
                                    {"role": ["admin"]}, {"display_name": 7}, {"branches": "centro"}])
async def test_wrong_typed_values_are_422_not_coerced(panel, change):
    """Found by the schema fuzzer: ``"active": 0`` was taken as false and deactivated the user."""
    admin = await panel.admin()
    await panel.operator("ana", branches=["centro"])
    response = await admin.patch("/api/admin/users/ana", json=change)
    assert response.status_code == 422 and response.json()["error"] == "invalid", response.text
    assert panel.users.get("ana").active and panel.users.get("ana").branches == ["centro"]
    assert panel.users.get("ana").display_name == "Ana" and panel.users.get("ana").role == "operator"


@pytest.fixture
async def two_branches(panel):
    """Ticket 1 in centro, 2 in palermo, 3 without a branch yet; ana works centro only."""
    centro = await panel.ticket(ticket_state(1, branch="centro", status="EN PROCESO", phone="5491100000001"))
    palermo = await panel.ticket(ticket_state(2, branch="palermo", status="EN PROCESO", phone="5491100000002"))
    await panel.ticket(ticket_state(3, branch=None, status="INCOMPLETO", phone="5491100000003"))
    failed = outbound(palermo, OutboundContent(kind="text", text="hola"), status="failed", message_id="m-palermo",
                      error={"code": 131026, "title": "undeliverable"})
    await panel.message(failed, conversation(palermo, unread=1))
    await panel.message(inbound(centro, "hola"), conversation(centro, unread=1))
    return await panel.operator("ana", branches=["centro"])


async def test_branch_limited_operator_sees_only_their_branch(panel, two_branches):
    ana = two_branches
    page = (await ana.get("/api/tickets")).json()
    assert [t["number"] for t in page["items"]] == [1] and page["total"] == 1
    assert (await ana.get("/api/unread")).json() == {"tickets": 1}
    assert [b["id"] for b in (await ana.get("/api/branches")).json()] == ["centro"]
    admin = await panel.admin()
    assert [t["number"] for t in (await admin.get("/api/tickets")).json()["items"]] == [3, 2, 1]
    assert (await admin.get("/api/unread")).json() == {"tickets": 2}


async def test_other_branch_and_unassigned_tickets_are_404_everywhere(panel, two_branches):
    ana = two_branches
    panel.tickets.answers["change_status"] = lambda body: pytest.fail("must not reach tickets")
    panel.chat.answers.update({name: (lambda body: pytest.fail("must not reach chat"))
                               for name in ("send_text", "resume", "mark_read", "retry")})
    for number in (2, 3, 999):
        for method, path, body in (("GET", f"/api/tickets/{number}", None),
                                   ("GET", f"/api/tickets/{number}/messages", None),
                                   ("POST", f"/api/tickets/{number}/status", {"status": "FACTURADO"}),
                                   ("POST", f"/api/tickets/{number}/messages", {"text": "hola"}),
                                   ("POST", f"/api/tickets/{number}/resume", None),
                                   ("POST", f"/api/tickets/{number}/read", None),
                                   ("POST", f"/api/tickets/{number}/messages/m-palermo/retry", None)):
            response = await ana.request(method, path, json=body)
            assert response.status_code == 404, (method, path)
            assert response.json()["error"] == "not_found"
    assert (await ana.get("/api/tickets", params={"branch": "palermo"})).status_code == 404
    assert (await ana.get("/api/tickets", params={"branch": ["centro", "palermo"]})).status_code == 404
    for q in ("2", "5491100000002", "0000002"):  # search by number, whole phone, end of phone
        assert (await ana.get("/api/tickets", params={"q": q})).json()["items"] == []
    assert panel.tickets.calls == [] and panel.chat.calls == []


async def test_unassigned_tickets_are_visible_to_unrestricted_operators(panel, two_branches):
    bruno = await panel.operator("bruno")
    assert (await bruno.get("/api/tickets/3")).status_code == 200
    assert [t["number"] for t in (await bruno.get("/api/tickets")).json()["items"]] == [3, 2, 1]


async def test_retry_of_a_message_from_another_ticket_is_404(panel, two_branches):
    admin = await panel.admin()
    panel.chat.answers["retry"] = refuse("x", "must not be called", 500)
    response = await admin.post("/api/tickets/1/messages/m-palermo/retry")
    assert response.status_code == 404 and panel.chat.calls == []
