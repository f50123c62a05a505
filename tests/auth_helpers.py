"""Test helpers for signed-in requests: create a user directly in the database and get a bearer header for it."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from lifechain.auth import flows
from lifechain.auth.core import Role
from lifechain.db import transaction

PASSWORD = "correct horse battery"


def add_user(app: FastAPI, username: str, *roles: Role, **bindings: Any) -> None:
    """Store a user with `roles` (and unit/hospital/volunteer bindings) and the test password."""
    with transaction(app.state.sessionmaker) as session:
        flows.create_user(session=session, now=app.state.clock.now(), username=username, display_name=username.title(),
                          password=PASSWORD, roles=list(roles), **bindings)


def bearer(client: TestClient, username: str) -> dict[str, str]:
    """An Authorization header for `username`, obtained through the OAuth2 password flow."""
    res = client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert res.status_code == 200, res.text
    return {"Authorization": f"Bearer {res.json()['access_token']}"}


def signed_in(client: TestClient, username: str, *roles: Role, **bindings: Any) -> dict[str, str]:
    """Create the user and return its bearer header."""
    add_user(client.app, username, *roles, **bindings)  # type: ignore[arg-type]
    return bearer(client, username)
