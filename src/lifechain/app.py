"""The web application factory: `create_app(settings)` wires every domain's views onto one FastAPI app."""

from __future__ import annotations

import gc
import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field

from lifechain import __version__, events
from lifechain.api import refuse_nul
from lifechain.clock import Clock, SystemClock
from lifechain.db import make_engine, make_sessionmaker
from lifechain.errors import DomainError, NotFound, message
from lifechain.settings import Settings

API = "/api/v1"
# Every domain with HTTP routes; each exposes `router` in its views module.
DOMAINS = ("auth", "geo", "timeline", "attachments", "fleet", "hospitals", "dispatch", "volunteers", "planning")


def create_app(settings: Settings, *, clock: Clock | None = None) -> FastAPI:
    """Build the application for `settings`; nothing is opened until the app starts serving."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        for hook in app.state.startup_hooks:
            await hook(app)
        # What start-up loaded (modules, routes, road networks: ~250k objects) lives as long as the server: keep it
        # out of the cyclic GC, whose full collections otherwise stall a request for ~100 ms now and then. No
        # collection first (it would take ~0.1 s of start-up to find ~1,000 objects of garbage); `lifechain serve`
        # runs start-up with the collector off, which is switched on here.
        gc.freeze()
        gc.enable()
        yield
        gc.unfreeze()
        for hook in reversed(app.state.shutdown_hooks):
            await hook(app)
        app.state.engine.dispose()

    app = FastAPI(
        title="Lifechain",
        version=__version__,
        openapi_url=f"{API}/openapi.json",
        docs_url=f"{API}/docs",
        redoc_url=None,
        lifespan=lifespan,
        dependencies=[Depends(refuse_nul)],
    )
    app.state.settings = settings
    app.state.clock = clock or SystemClock()
    app.state.engine = make_engine(settings.sqlalchemy_url)
    app.state.bus = events.Bus()  # this app's subscribers, reached through its sessions
    app.state.sessionmaker = make_sessionmaker(app.state.engine, info={events.BUS_KEY: app.state.bus})
    app.state.startup_hooks = []
    app.state.shutdown_hooks = []
    app.state.health_problems = []  # callables a domain adds: what it runs on that needs an operator (`/health`)
    _add_error_handlers(app)
    _document_errors(app)
    app.include_router(_health_router(), prefix=API)
    for name in DOMAINS:
        views = importlib.import_module(f"lifechain.{name}.views")
        if hasattr(views, "setup"):
            views.setup(app)
        app.include_router(views.router, prefix=API)
    _mount_web(app, settings)
    return app


class ProblemOut(BaseModel):
    """Something the server works around and an operator should fix."""

    code: str = Field(description="what: alert_policy_kept, alert_policy_refused or city_unreadable")
    city: str | None
    text: dict[str, str] = Field(description='the problem in each language of the screens: {"en": ..., "zh-CN": ...}')


class Health(BaseModel):
    """The server's liveness answer (`GET /api/v1/health`)."""

    status: str
    version: str
    demo_mode: bool
    problems: list[ProblemOut]


def _health_router() -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/health")
    def health(request: Request) -> Health:
        """Liveness, what this server has loaded, and `problems`: what it works around and an operator should fix
        (a city's alert policy file broken, a city's files damaged), each with a code and its text in English and
        Chinese. Public: the staff's screens show the problems to everyone who uses them."""
        problems = [ProblemOut(code=p.code, city=p.city, text=dict(p.text))
                    for source in request.app.state.health_problems for p in source()]
        return Health(status="ok", version=__version__, demo_mode=request.app.state.settings.demo_mode,
                      problems=problems)

    return router


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(_request: Request, exc: DomainError) -> JSONResponse:
        body: dict[str, object] = {"detail": exc.message, "code": exc.code}
        if exc.detail:
            body["context"] = exc.detail
        return JSONResponse(status_code=exc.status_code, content=body)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": ".".join(str(p) for p in e.get("loc", ())), "message": message(e), "type": e.get("type")}
            for e in exc.errors()
        ]
        return JSONResponse(status_code=422, content={"detail": "invalid request", "code": "invalid_request",
                                                      "errors": errors})


# The one shape of every error answer (the handlers above), in place of FastAPI's default 422 schema: a client
# generated from the OpenAPI document reads `detail` as text, as it is.
_ERROR_SCHEMAS = {
    "Error": {
        "title": "Error", "type": "object", "required": ["detail"],
        "description": "An error answer: what was wrong in the user's terms, a machine-readable code, and for a "
                       "request that failed validation (422) each field at fault.",
        "properties": {
            "detail": {"type": "string", "title": "Detail"},
            "code": {"type": "string", "title": "Code",
                     "description": "invalid_request, invalid, not_found, conflict, forbidden, unauthorized, ..."},
            "errors": {"type": "array", "title": "Errors", "items": {"$ref": "#/components/schemas/FieldError"}},
            "context": {"type": "object", "title": "Context", "additionalProperties": True},
        },
    },
    "FieldError": {
        "title": "FieldError", "type": "object", "required": ["field", "message"],
        "properties": {
            "field": {"type": "string", "title": "Field", "description": "Where, e.g. body.location.lat"},
            "message": {"type": "string", "title": "Message"},
            "type": {"anyOf": [{"type": "string"}, {"type": "null"}], "title": "Type"},
        },
    },
}


def _document_errors(app: FastAPI) -> None:
    """Make the OpenAPI document say what errors look like: the `Error` schema for 422 and for every other 4xx
    (a `4XX` response), instead of FastAPI's `HTTPValidationError`, which no answer of this server has."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = build()  # FastAPI's document, kept on the app: post-processed once, here
            schemas = spec.setdefault("components", {}).setdefault("schemas", {})
            for name in ("HTTPValidationError", "ValidationError"):
                schemas.pop(name, None)
            schemas.update(_ERROR_SCHEMAS)
            error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
            for operations in spec.get("paths", {}).values():
                for op in operations.values():
                    responses = op.setdefault("responses", {})
                    if "422" in responses:
                        responses["422"] = {"description": "Validation Error", "content": error}
                    responses.setdefault("4XX", {"description": "Error", "content": error})
        return app.openapi_schema  # type: ignore[return-value]  # set by `build`

    app.openapi = openapi  # type: ignore[method-assign]


def _mount_web(app: FastAPI, settings: Settings) -> None:
    """Serve the built browser bundle (if present) at `/`, with client-side routes falling back to index.html."""
    dist = settings.web_dist or Path(__file__).with_name("web_dist")
    index = dist / "index.html"
    if not index.is_file():
        return

    @app.get("/{path:path}", include_in_schema=False)
    def web(path: str) -> FileResponse:
        if path == "api" or path.startswith("api/"):
            # An unknown API path is a JSON 404, never the browser's index.html.
            raise NotFound(f"no API endpoint at /{path}")
        target = (dist / path).resolve()
        if path and target.is_file() and dist.resolve() in target.parents:
            return FileResponse(target)
        return FileResponse(index, headers={"Cache-Control": "no-cache"})
