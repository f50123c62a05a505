"""HTTP routes of the planning domain: start a simulation run in the background and fetch its results."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request

from lifechain.auth.core import Principal, Role
from lifechain.auth.deps import require_roles
from lifechain.planning import flows
from lifechain.planning.schemas import RunIn, RunOut

log = logging.getLogger(__name__)
router = APIRouter(tags=["planning"])
Analyst = Annotated[Principal, Depends(require_roles(Role.ANALYST, Role.ADMIN))]


def setup(app: FastAPI) -> None:
    """The store of runs (in the database); at start it takes up runs a stopped server left queued or running."""
    app.state.planning_runs = flows.RunStore(sessionmaker=app.state.sessionmaker,
                                             cities_dir=app.state.settings.cities_dir, clock=app.state.clock)

    async def recover(app: FastAPI) -> None:
        # On the runs' own thread: serving starts at once, and a database not yet migrated only logs.
        app.state.planning_runs.pool.submit(_recover, app.state.planning_runs)

    async def close(app: FastAPI) -> None:
        app.state.planning_runs.close()

    app.state.startup_hooks.append(recover)
    app.state.shutdown_hooks.append(close)


def _recover(store: flows.RunStore) -> None:
    try:
        store.recover()
    except Exception:
        log.exception("taking up the planning runs left by a stopped server failed")


def _store(request: Request) -> flows.RunStore:
    store: flows.RunStore = request.app.state.planning_runs
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
