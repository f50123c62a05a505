"""Signing in: OAuth2 password flow, browser cookie session, roles, user administration."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from auth_helpers import PASSWORD, add_user, password_bearer, signed_in
from lifechain.app import create_app
from lifechain.auth import flows
from lifechain.auth.core import Principal, Role
from lifechain.clock import ManualClock
from lifechain.settings import Settings

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def client(settings: Settings, clock: ManualClock) -> TestClient:
    return TestClient(create_app(settings, clock=clock))


def test_password_flow_gives_a_token_that_identifies_the_user(client: TestClient) -> None:
    """A right password gets a bearer token; /auth/me then names the user and roles."""
    add_user(client.app, "disp1", Role.DISPATCHER)  # type: ignore[arg-type]
    me = client.get("/api/v1/auth/me", headers=password_bearer(client, "disp1"))
    assert me.status_code == 200
    assert me.json()["username"] == "disp1"
    assert me.json()["roles"] == ["dispatcher"]


def test_wrong_password_and_unknown_user_are_401(client: TestClient) -> None:
    """Wrong password or unknown user: 401, with the same message for both."""
    add_user(client.app, "disp1", Role.DISPATCHER)  # type: ignore[arg-type]
    bad = client.post("/api/v1/auth/token", data={"username": "disp1", "password": "nope"})
    unknown = client.post("/api/v1/auth/token", data={"username": "ghost", "password": PASSWORD})
    assert bad.status_code == unknown.status_code == 401
    assert bad.json()["detail"] == unknown.json()["detail"]


def test_no_credentials_forged_and_expired_tokens_are_401(client: TestClient, clock: ManualClock,
                                                          settings: Settings) -> None:
    """No token, a token signed with another key, and an expired token are all refused."""
    headers = signed_in(client, "disp1", Role.DISPATCHER)
    assert client.get("/api/v1/auth/me").status_code == 401
    who = Principal(id=1, username="disp1", display_name="D", roles=frozenset({Role.ADMIN}))
    forged = flows.issue_token(who, secret="another-key-" * 3, now=T0, ttl_s=60)
    assert client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    clock.advance(settings.token_ttl_s + 1)
    expired = client.get("/api/v1/auth/me", headers=headers)
    assert expired.status_code == 401
    assert "expired" in expired.json()["detail"]


def test_cookie_session_login_and_logout(client: TestClient) -> None:
    """The browser signs in with a JSON body, gets an HttpOnly cookie, and signing out clears it."""
    add_user(client.app, "nurse", Role.HOSPITAL_STAFF, hospital_id=3)  # type: ignore[arg-type]
    res = client.post("/api/v1/auth/login", json={"username": "nurse", "password": PASSWORD})
    assert res.status_code == 200
    assert "httponly" in res.headers["set-cookie"].lower()
    me = client.get("/api/v1/auth/me")
    assert me.status_code == 200 and me.json()["hospital_id"] == 3
    assert client.post("/api/v1/auth/logout").status_code == 204
    assert client.get("/api/v1/auth/me").status_code == 401


def test_admin_creates_users_and_others_may_not(client: TestClient) -> None:
    """Only an admin creates users; a dispatcher gets 403, nobody signed in gets 401; the new user can sign in."""
    admin = signed_in(client, "root", Role.ADMIN)
    disp = signed_in(client, "disp1", Role.DISPATCHER)
    body = {"username": "crew7", "display_name": "Crew Seven", "password": "long enough pw", "roles": ["crew"],
            "unit_id": 7}
    assert client.post("/api/v1/auth/users", json=body, headers=disp).status_code == 403
    assert client.post("/api/v1/auth/users", json=body).status_code == 401
    created = client.post("/api/v1/auth/users", json=body, headers=admin)
    assert created.status_code == 201 and created.json()["unit_id"] == 7
    again = client.post("/api/v1/auth/users", json=body, headers=admin)
    assert again.status_code == 409
    token = client.post("/api/v1/auth/token", data={"username": "crew7", "password": "long enough pw"})
    assert token.status_code == 200
    listed = client.get("/api/v1/auth/users", headers=admin).json()
    assert [u["username"] for u in listed] == ["crew7", "disp1", "root"]
    assert client.get("/api/v1/auth/users", headers=disp).status_code == 403


def test_user_validation_names_the_field(client: TestClient) -> None:
    """A crew user without a unit, or a short password, is refused with the field named."""
    admin = signed_in(client, "root", Role.ADMIN)
    no_unit = client.post("/api/v1/auth/users", headers=admin, json={
        "username": "crew8", "display_name": "C", "password": "long enough pw", "roles": ["crew"]})
    assert no_unit.status_code == 422
    assert no_unit.json()["context"]["field"] == "unit_id"
    short = client.post("/api/v1/auth/users", headers=admin, json={
        "username": "x1", "display_name": "C", "password": "short", "roles": ["analyst"]})
    assert short.status_code == 422
    assert short.json()["errors"][0]["field"] == "body.password"


def test_password_hash_is_argon2_and_verifies() -> None:
    """Passwords are stored as argon2id hashes, never in clear."""
    h = flows.hash_password("s3cret-pass")
    assert h.startswith("$argon2id$") and "s3cret" not in h
    assert flows.verify_password(h, "s3cret-pass") and not flows.verify_password(h, "other")
