"""Test helpers for signed-in requests: create a user directly in the database and get a bearer header for it."""

from __future__ import annotations

from functools import cache
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from lifechain.auth import flows, repo
from lifechain.auth.core import Role
from lifechain.auth.tables import User
from lifechain.db import transaction

PASSWORD = "correct horse battery"


@cache
def _password_hash() -> str:
    # One real argon2 hash for every test user: hashing costs ~45 ms by design, too slow to repeat per user.
    return flows.hash_password(PASSWORD)


def add_user(app: FastAPI, username: str, *roles: Role, **bindings: Any) -> None:
    """Store a user with `roles` (and unit/hospital/volunteer bindings) and the test password."""
    with transaction(app.state.sessionmaker) as session:
        repo.add(session=session, user=User(username=username, display_name=username.title(),
                                            password_hash=_password_hash(), roles=sorted(r.value for r in roles),
                                            active=True, created_at=app.state.clock.now(), **bindings))


def bearer(client: TestClient, username: str) -> dict[str, str]:
    """An Authorization header for `username`, signed like the token endpoint signs it (no password round)."""
    app: Any = client.app
    with transaction(app.state.sessionmaker) as session:
        user = repo.by_username(session=session, username=username)
        assert user is not None, username
        principal = flows.principal_of(user)
    settings = app.state.settings
    raw = flows.issue_token(principal, secret=settings.secret_key, now=app.state.clock.now(),
                            ttl_s=settings.token_ttl_s)
    return {"Authorization": f"Bearer {raw}"}


def password_bearer(client: TestClient, username: str) -> dict[str, str]:
    """An Authorization header obtained through the OAuth2 password flow."""
    res = client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert res.status_code == 200, res.text
    return {"Authorization": f"Bearer {res.json()['access_token']}"}


def signed_in(client: TestClient, username: str, *roles: Role, **bindings: Any) -> dict[str, str]:
    """Create the user and return its bearer header."""
    add_user(client.app, username, *roles, **bindings)  # type: ignore[arg-type]
    return bearer(client, username)
