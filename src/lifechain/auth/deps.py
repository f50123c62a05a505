"""Who is calling: `CurrentUser` and `require_roles(...)` for every view.

Both are async: they only decode a signed token, and a thread-pool hop would cost more than the work.
A request carries a bearer token (`Authorization: Bearer ...`, from `POST /api/v1/auth/token`) or the browser's
HttpOnly session cookie (from `POST /api/v1/auth/login`); both hold the same signed token.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from lifechain.api import ClockDep, SettingsDep
from lifechain.auth import flows
from lifechain.auth.core import Principal, Role
from lifechain.errors import Forbidden

COOKIE = "lifechain_session"
_bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


async def current_user(request: Request, settings: SettingsDep, clock: ClockDep,
                 token: Annotated[str | None, Depends(_bearer)]) -> Principal:
    """The signed-in user; raises 401 when no valid token or session cookie was presented."""
    raw = token or request.cookies.get(COOKIE)
    if not raw:
        raise flows.Unauthorized("not signed in: send a bearer token or sign in")
    return flows.read_token(raw, secret=settings.secret_key, now=clock.now())


CurrentUser = Annotated[Principal, Depends(current_user)]


def require_roles(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that returns the signed-in user if they hold one of `roles` (admin always may), else 403."""
    names = ", ".join(r.value for r in roles)

    async def dependency(user: CurrentUser) -> Principal:
        if not user.has_any(roles):
            raise Forbidden(f"this action needs one of the roles: {names}")
        return user

    dependency.__name__ = f"require_{'_'.join(r.value for r in roles) or 'admin'}"
    return dependency
