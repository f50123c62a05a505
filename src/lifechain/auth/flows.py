"""Signing in: password hashing (argon2id), bearer tokens (JWT, HS256), and user creation."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session

from lifechain.auth import repo
from lifechain.auth.core import Principal, Role, check_bindings
from lifechain.auth.tables import User
from lifechain.errors import Conflict, DomainError

# OWASP's minimum argon2id configuration (m=19 MiB, t=2, p=1): ~45 ms per hash on the target machine.
HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
ALGORITHM = "HS256"


class Unauthorized(DomainError):
    """No valid credentials were presented."""

    status_code = 401
    code = "unauthorized"


def hash_password(password: str) -> str:
    """An argon2id hash of `password`."""
    return HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether `password` matches `password_hash`."""
    try:
        return HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def principal_of(user: User) -> Principal:
    """The request-level view of a stored user."""
    return Principal(id=user.id, username=user.username, display_name=user.display_name,
                     roles=frozenset(Role(r) for r in user.roles), unit_id=user.unit_id,
                     hospital_id=user.hospital_id, volunteer_id=user.volunteer_id)


def create_user(*, session: Session, now: datetime, username: str, display_name: str, password: str,
                roles: list[Role], unit_id: int | None = None, hospital_id: int | None = None,
                volunteer_id: int | None = None) -> User:
    """Create a user; raises `Conflict` when the username is taken and `Invalid` when a binding is missing."""
    check_bindings(roles, unit_id=unit_id, hospital_id=hospital_id, volunteer_id=volunteer_id)
    if repo.by_username(session=session, username=username) is not None:
        raise Conflict(f"username {username!r} is already taken", field="username")
    user = User(username=username, display_name=display_name, password_hash=hash_password(password),
                roles=sorted(r.value for r in roles), unit_id=unit_id, hospital_id=hospital_id,
                volunteer_id=volunteer_id, active=True, created_at=now)
    return repo.add(session=session, user=user)


def authenticate(*, session: Session, username: str, password: str) -> Principal:
    """The user with these credentials; raises `Unauthorized` (without saying which part was wrong)."""
    user = repo.by_username(session=session, username=username)
    if user is None or not user.active or not verify_password(user.password_hash, password):
        raise Unauthorized("wrong username or password")
    return principal_of(user)


def issue_token(principal: Principal, *, secret: str, now: datetime, ttl_s: int) -> str:
    """A signed bearer token carrying the user's identity and roles, valid for `ttl_s` seconds from `now`."""
    claims: dict[str, Any] = {
        "sub": str(principal.id), "usr": principal.username, "name": principal.display_name,
        "roles": sorted(r.value for r in principal.roles), "unit": principal.unit_id,
        "hosp": principal.hospital_id, "vol": principal.volunteer_id,
        "iat": int(now.timestamp()), "exp": int((now + timedelta(seconds=ttl_s)).timestamp()),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def read_token(token: str, *, secret: str, now: datetime) -> Principal:
    """The principal a token was issued to; raises `Unauthorized` when it is forged, malformed or expired."""
    principal, expires = _verified(token, secret)
    if expires <= now.timestamp():
        raise Unauthorized("token expired")
    return principal


@functools.lru_cache(maxsize=4096)
def _verified(token: str, secret: str) -> tuple[Principal, int]:
    """Signature check and claims of a token, remembered: a client sends the same token on every request, and
    checking it costs more than most requests (expiry is checked against the clock on every call)."""
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"verify_exp": False})
    except jwt.PyJWTError as exc:
        raise Unauthorized("invalid token") from exc
    try:
        principal = Principal(id=int(claims["sub"]), username=claims["usr"], display_name=claims["name"],
                              roles=frozenset(Role(r) for r in claims["roles"]), unit_id=claims.get("unit"),
                              hospital_id=claims.get("hosp"), volunteer_id=claims.get("vol"))
        return principal, int(claims.get("exp", 0))
    except (KeyError, ValueError, TypeError) as exc:
        raise Unauthorized("invalid token") from exc
