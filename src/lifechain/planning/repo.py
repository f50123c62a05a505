"""Storage of planning runs: add, read, list, claim (exactly one process runs a run), beat (with progress),
finish with the files it made, release, requeue, remove."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, load_only

from lifechain.planning.tables import PlanningRun, PlanningRunFile


def add(*, session: Session, run: PlanningRun) -> PlanningRun:
    """Store a new run."""
    session.add(run)
    session.flush()
    return run


def get(*, session: Session, run_id: str) -> PlanningRun | None:
    """A run by id, or None."""
    return session.get(PlanningRun, run_id)


def list_runs(*, session: Session, limit: int, offset: int = 0, status: str | None = None,
              ) -> list[tuple[PlanningRun, str | None]]:
    """Runs, newest first (ties by id, so pages do not overlap), optionally in one status, each with the name of its
    variant (None: a simulation). Without the scenarios and results: a city's scenario holds thousands of demand
    points, and the planning page lists runs every two seconds while one is running."""
    query = (select(PlanningRun, PlanningRun.variant["name"].as_string())
             .options(load_only(PlanningRun.id, PlanningRun.status, PlanningRun.scenario_name,
                                PlanningRun.replications, PlanningRun.created_by, PlanningRun.created_at,
                                PlanningRun.started_at, PlanningRun.finished_at, PlanningRun.error,
                                PlanningRun.progress, raiseload=True))
             .order_by(PlanningRun.created_at.desc(), PlanningRun.id.desc()))
    if status is not None:
        query = query.where(PlanningRun.status == status)
    return [(run, variant) for run, variant in session.execute(query.limit(limit).offset(offset))]


def file_names(*, session: Session, run_ids: list[str]) -> dict[str, list[str]]:
    """The names of the files each of these runs made, sorted."""
    names: dict[str, list[str]] = {run_id: [] for run_id in run_ids}
    rows = session.execute(select(PlanningRunFile.run_id, PlanningRunFile.name)
                           .where(PlanningRunFile.run_id.in_(run_ids)).order_by(PlanningRunFile.name))
    for run_id, name in rows:
        names[run_id].append(name)
    return names


def get_file(*, session: Session, run_id: str, name: str) -> PlanningRunFile | None:
    """One file of a run, or None."""
    return session.get(PlanningRunFile, (run_id, name))


def claim(*, session: Session, run_id: str, now: datetime) -> bool:
    """Move a queued run to running for this process; False if another process (or an earlier attempt) has it."""
    res = session.execute(update(PlanningRun)
                          .where(PlanningRun.id == run_id, PlanningRun.status == "queued")
                          .values(status="running", started_at=now, heartbeat_at=now, progress=0.0,
                                  attempts=PlanningRun.attempts + 1))
    return bool(getattr(res, "rowcount", 0) == 1)


def beat(*, session: Session, run_id: str, now: datetime, progress: float | None = None) -> bool:
    """The running process is alive (and, when given, has done this share of the run's replications); False when
    the run is no longer running here (deleted meanwhile)."""
    values: dict[str, Any] = {"heartbeat_at": now}
    if progress is not None:
        values["progress"] = progress
    res = session.execute(update(PlanningRun).where(PlanningRun.id == run_id, PlanningRun.status == "running")
                          .values(**values))
    return bool(getattr(res, "rowcount", 0) == 1)


def release(*, session: Session, run_id: str) -> None:
    """Give a running run back to the queue, its attempt not counted: this server stopped it, not the run itself."""
    session.execute(update(PlanningRun).where(PlanningRun.id == run_id, PlanningRun.status == "running")
                    .values(status="queued", started_at=None, heartbeat_at=None, progress=None,
                            attempts=PlanningRun.attempts - 1))


def finish(*, session: Session, run_id: str, now: datetime, status: str, result: dict[str, Any] | None = None,
           error: str | None = None, files: Sequence[PlanningRunFile] = ()) -> bool:
    """Record the end of a run (done with its result and the files it made, or failed with the reason), in one
    transaction: a run is never done without its files. Files of an earlier attempt are replaced. False, and nothing
    recorded, when the run was deleted meanwhile."""
    values: dict[str, Any] = {"status": status, "finished_at": now, "heartbeat_at": now, "result": result,
                              "error": error}
    if status == "done":
        values["progress"] = 1.0
    res = session.execute(update(PlanningRun).where(PlanningRun.id == run_id).values(**values))
    if getattr(res, "rowcount", 0) != 1:
        return False
    session.execute(delete(PlanningRunFile).where(PlanningRunFile.run_id == run_id))
    session.add_all(files)
    return True


def remove(*, session: Session, run_id: str) -> None:
    """Delete a run and its files."""
    session.execute(delete(PlanningRunFile).where(PlanningRunFile.run_id == run_id))
    session.execute(delete(PlanningRun).where(PlanningRun.id == run_id))


def has_unfinished(*, session: Session) -> bool:
    """Whether any run is queued or running (a server start takes them up only then)."""
    found = session.scalars(select(PlanningRun.id).where(PlanningRun.status.in_(("queued", "running"))).limit(1))
    return found.first() is not None


def requeue_stale(*, session: Session, now: datetime, stale_after_s: float, max_attempts: int) -> list[str]:
    """Runs whose process stopped beating go back to the queue (or fail after `max_attempts`); returns the queue."""
    cutoff = now - timedelta(seconds=stale_after_s)
    stale = session.scalars(select(PlanningRun).where(PlanningRun.status == "running",
                                                      PlanningRun.heartbeat_at < cutoff)).all()
    for run in stale:
        if run.attempts >= max_attempts:
            run.status, run.finished_at = "failed", now
            run.error = f"the server stopped while running it, {run.attempts} times: given up"
        else:
            run.status, run.progress = "queued", None
    session.flush()
    return list(session.scalars(select(PlanningRun.id).where(PlanningRun.status == "queued")
                                .order_by(PlanningRun.created_at)))
