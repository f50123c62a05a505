"""HTTP routes of the planning domain: start a simulation run in the background and fetch its results."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Depends, FastAPI, Request

from lifechain.auth.core import Principal, Role
from lifechain.auth.deps import require_roles
from lifechain.planning.schemas import RunIn, RunOut

if TYPE_CHECKING:
    from lifechain.planning.flows import RunStore

router = APIRouter(tags=["planning"])
Analyst = Annotated[Principal, Depends(require_roles(Role.ANALYST, Role.ADMIN))]
_STORE_LOCK = threading.Lock()


def setup(app: FastAPI) -> None:
    """An in-memory store of runs, made on first use and closed with the app.

    Made on first use because `planning.flows` brings the simulation and optimisation stack (scipy, HiGHS), which
    would add ~0.1 s to every server start for a feature few requests use.
    """
    app.state.planning_runs = None

    async def close(app: FastAPI) -> None:
        if app.state.planning_runs is not None:
            app.state.planning_runs.close()

    app.state.shutdown_hooks.append(close)


def _store(request: Request) -> RunStore:
    state = request.app.state
    with _STORE_LOCK:
        if state.planning_runs is None:
            from lifechain.planning.flows import RunStore

            state.planning_runs = RunStore(cities_dir=state.settings.cities_dir, clock=state.clock)
        store: RunStore = state.planning_runs
        return store


@router.post("/planning/runs", response_model=RunOut, status_code=202)
def start_run(body: RunIn, request: Request, _user: Analyst) -> RunOut:
    """Start simulating the scenario in the body (replications with confidence intervals). Analyst, admin."""
    return RunOut.model_validate(_store(request).start(body.scenario, body.replications))


@router.get("/planning/runs/{run_id}", response_model=RunOut)
def get_run(run_id: str, request: Request, _user: Analyst) -> RunOut:
    """Where a run stands and, once done, its results. Analyst, admin."""
    return RunOut.model_validate(_store(request).get(run_id))
