"""API models of authentication: tokens, the signed-in user, new users."""

from __future__ import annotations

from pydantic import BaseModel, Field

from lifechain.auth.core import Role
from lifechain.keys import Key


class Token(BaseModel):
    """An OAuth2 bearer token."""

    access_token: str
    token_type: str = "bearer"
    expires_in: int


class LoginIn(BaseModel):
    """Browser sign-in with username and password."""

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)


class UserOut(BaseModel):
    """A user as the API shows it (never the password hash)."""

    id: int
    username: str
    display_name: str
    roles: list[Role]
    unit_id: int | None = None
    hospital_id: int | None = None
    volunteer_id: int | None = None


class UserIn(BaseModel):
    """A new user, created by an administrator."""

    username: str = Field(min_length=2, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    display_name: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=8, max_length=200)
    roles: list[Role] = Field(min_length=1)
    unit_id: Key | None = None
    hospital_id: Key | None = None
    volunteer_id: Key | None = None
