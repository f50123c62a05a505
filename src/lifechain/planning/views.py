"""HTTP routes of the planning domain: start a simulation run in the background and fetch its results."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request

from lifechain.auth.core import Principal, Role
from lifechain.auth.deps import require_roles
from lifechain.planning.schemas import RunIn, RunOut

if TYPE_CHECKING:
    from lifechain.planning.flows import RunStore

log = logging.getLogger(__name__)
router = APIRouter(tags=["planning"])
Analyst = Annotated[Principal, Depends(require_roles(Role.ANALYST, Role.ADMIN))]
_STORE_LOCK = threading.Lock()


def setup(app: FastAPI) -> None:
    """The store of runs (in the database), made on first use; at start it takes up runs a stopped server left
    queued or running.

    Made on first use because `planning.flows` brings the simulation and optimisation stack (scipy, HiGHS), ~0.1 s
    of imports a server start should not wait for: the start only asks the database whether any run is unfinished.
    """
    app.state.planning_runs = None
    app.state.planning_closed = False

    async def recover(app: FastAPI) -> None:
        # On a thread of its own: serving starts at once, and a database not yet migrated only logs.
        threading.Thread(target=_recover, args=(app.state,), name="planning-recover", daemon=True).start()

    async def close(app: FastAPI) -> None:
        with _STORE_LOCK:
            app.state.planning_closed = True
            store = app.state.planning_runs
        if store is not None:
            store.close()

    app.state.startup_hooks.append(recover)
    app.state.shutdown_hooks.append(close)


def _store_of(state: Any) -> RunStore | None:
    """The app's run store, made now if it is not yet (None once the app has shut down)."""
    with _STORE_LOCK:
        if state.planning_runs is None and not state.planning_closed:
            from lifechain.planning.flows import RunStore

            state.planning_runs = RunStore(sessionmaker=state.sessionmaker, cities_dir=state.settings.cities_dir,
                                           clock=state.clock)
        store: RunStore | None = state.planning_runs
        return store


def _recover(state: Any) -> None:
    from lifechain.db import transaction
    from lifechain.planning import repo

    try:
        with transaction(state.sessionmaker) as session:
            if not repo.has_unfinished(session=session):
                return
        store = _store_of(state)
        if store is not None:
            store.recover()
    except Exception:
        log.exception("taking up the planning runs left by a stopped server failed")


def _store(request: Request) -> RunStore:
    store = _store_of(request.app.state)
    assert store is not None, "the app has shut down"
    return store


@router.post("/planning/runs", response_model=RunOut, status_code=202)
def start_run(body: RunIn, request: Request, user: Analyst) -> RunOut:
    """Start simulating the scenario in the body (replications with confidence intervals). Analyst, admin.

    The run is stored before this answers: a server restart takes it up again."""
    return RunOut.model_validate(_store(request).start(body.scenario, body.replications, actor=user.actor))


@router.get("/planning/runs/{run_id}", response_model=RunOut)
def get_run(run_id: str, request: Request, _user: Analyst) -> RunOut:
    """Where a run stands and, once done, its results. Analyst, admin."""
    return RunOut.model_validate(_store(request).get(run_id))
