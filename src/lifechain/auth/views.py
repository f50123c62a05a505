"""HTTP routes of authentication: OAuth2 password flow, browser session cookie, the signed-in user, user admin."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from fastapi.security import OAuth2PasswordRequestForm

from lifechain.api import ClockDep, SessionDep, SettingsDep
from lifechain.auth import flows, repo
from lifechain.auth.core import Principal, Role
from lifechain.auth.deps import COOKIE, CurrentUser, require_roles
from lifechain.auth.schemas import LoginIn, Token, UserIn, UserOut

router = APIRouter(prefix="/auth", tags=["auth"])
Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]


def _out(p: Principal) -> UserOut:
    return UserOut(id=p.id, username=p.username, display_name=p.display_name, roles=sorted(p.roles),
                   unit_id=p.unit_id, hospital_id=p.hospital_id, volunteer_id=p.volunteer_id)


@router.post("/token", response_model=Token)
def token(form: Annotated[OAuth2PasswordRequestForm, Depends()], session: SessionDep, settings: SettingsDep,
          clock: ClockDep) -> Token:
    """OAuth2 password flow: exchange a username and password for a bearer token. Open to anyone."""
    user = flows.authenticate(session=session, username=form.username, password=form.password)
    raw = flows.issue_token(user, secret=settings.secret_key, now=clock.now(), ttl_s=settings.token_ttl_s)
    return Token(access_token=raw, expires_in=settings.token_ttl_s)


@router.post("/login", response_model=UserOut)
def login(body: LoginIn, response: Response, session: SessionDep, settings: SettingsDep,
          clock: ClockDep) -> UserOut:
    """Browser sign-in: sets an HttpOnly session cookie holding a signed token. Open to anyone."""
    user = flows.authenticate(session=session, username=body.username, password=body.password)
    raw = flows.issue_token(user, secret=settings.secret_key, now=clock.now(), ttl_s=settings.token_ttl_s)
    response.set_cookie(COOKIE, raw, max_age=settings.token_ttl_s, httponly=True, samesite="strict",
                        secure=not settings.demo_mode, path="/")
    return _out(user)


@router.post("/logout", status_code=204)
def logout(response: Response) -> Response:
    """Browser sign-out: clears the session cookie. Open to anyone."""
    response.status_code = 204
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/me", response_model=UserOut)
def me(user: CurrentUser) -> UserOut:
    """The signed-in user. Any role."""
    return _out(user)


@router.post("/users", response_model=UserOut, status_code=201)
def create_user(body: UserIn, session: SessionDep, clock: ClockDep, _admin: Admin) -> UserOut:
    """Create a user. Admin only."""
    user = flows.create_user(session=session, now=clock.now(), **body.model_dump())
    return _out(flows.principal_of(user))


@router.get("/users", response_model=list[UserOut])
def list_users(session: SessionDep, _admin: Admin) -> list[UserOut]:
    """Every user. Admin only."""
    return [_out(flows.principal_of(u)) for u in repo.list_all(session=session)]
