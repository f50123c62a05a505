"""HTTP routes of the planning domain: start a simulation run or a comparison in the background, list runs, fetch
their results and files, delete them (stopping a running one)."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import HTMLResponse

from lifechain.api import CsvResponse
from lifechain.auth.core import Principal, Role
from lifechain.auth.deps import require_roles
from lifechain.planning.schemas import RunBrief, RunIn, RunOut, RunStatus

if TYPE_CHECKING:
    from lifechain.planning.flows import RunStore

log = logging.getLogger(__name__)
router = APIRouter(tags=["planning"])
Analyst = Annotated[Principal, Depends(require_roles(Role.ANALYST, Role.ADMIN))]
_STORE_LOCK = threading.Lock()
_REPORT_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; sandbox"


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

            # geo's store: the routers, and the routing settings, of live dispatch
            state.planning_runs = RunStore(sessionmaker=state.sessionmaker, cities=state.cities,
                                           clock=state.clock, at_once=state.settings.planning_runs_at_once,
                                           workers_per_run=state.settings.planning_workers_per_run)
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
    """Start simulating the scenario in the body (replications with confidence intervals), or with a `variant`
    comparing the two on the same calls. Analyst, admin.

    The run is stored before this answers: a server restart takes it up again."""
    assert body.replications is not None  # RunIn fills it in
    return RunOut.model_validate(_store(request).start(body.scenario, body.replications, actor=user.actor,
                                                       variant=body.variant))


@router.get("/planning/runs", response_model=list[RunBrief])
def list_runs(request: Request, _user: Analyst, limit: Annotated[int, Query(ge=1, le=200)] = 50,
              offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
              status: Annotated[RunStatus | None, Query()] = None,
              ) -> list[RunBrief]:
    """Planning runs, newest first, without their results (GET one run for them). Analyst, admin."""
    return [RunBrief.model_validate(r) for r in _store(request).runs(limit=limit, offset=offset, status=status)]


@router.get("/planning/runs/{run_id}", response_model=RunOut)
def get_run(run_id: str, request: Request, _user: Analyst) -> RunOut:
    """Where a run stands and, once done, its results. Analyst, admin."""
    return RunOut.model_validate(_store(request).get(run_id))


@router.delete("/planning/runs/{run_id}", response_model=RunBrief)
def delete_run(run_id: str, request: Request, user: Analyst) -> RunBrief:
    """Delete a run with its results and files; a queued run never starts and a running one is stopped. Its creator
    or an admin (403 for another analyst). Returns the run as it was. Analyst, admin."""
    return RunBrief.model_validate(_store(request).delete(run_id, user=user))


@router.get("/planning/runs/{run_id}/report.html", response_class=HTMLResponse)
def run_report(run_id: str, request: Request, _user: Analyst) -> HTMLResponse:
    """The HTML report of a finished run, as `lifechain plan run --report` writes it for a simulation (key figures
    with intervals, response-time curves, a coverage map) and `lifechain plan compare --report` for a comparison
    (every figure's change and whether it is larger than the noise, both scenarios' curves). 409 while the run has
    not finished. Analyst, admin."""
    from lifechain.planning.flows import REPORT

    media_type, content = _store(request).file(run_id, REPORT)
    # The page is static (plots inline as data: images): whatever a scenario's names hold, nothing in it may run or
    # load anything, on the origin that holds the user's session.
    return HTMLResponse(content, media_type=media_type, headers={"Content-Security-Policy": _REPORT_CSP})


@router.get("/planning/runs/{run_id}/calls.csv", response_class=CsvResponse)
def run_calls(run_id: str, request: Request, _user: Analyst) -> CsvResponse:
    """Every call of replication 1 of a finished simulation run, one CSV row each with every time node as an
    ISO 8601 UTC instant (as `lifechain plan run --calls`). 409 while the run has not finished. Analyst, admin."""
    from lifechain.planning.flows import CALLS

    media_type, content = _store(request).file(run_id, CALLS)
    return CsvResponse(content, media_type=media_type,
                       headers={"Content-Disposition": f'attachment; filename="planning-{run_id}-calls.csv"'})
