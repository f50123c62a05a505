"""Request and response bodies of the planning API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lifechain.planning.simulate import Scenario

RunStatus = Literal["queued", "running", "done", "failed"]

# `plan compare`'s default: enough replications for the paired intervals to tell a few percent from noise.
COMPARISON_REPLICATIONS = 10

# Scenario fields that name a file, and what a scenario sent over the API gives instead. `lifechain plan run` reads
# such files on its user's machine; a run started over the API would read them on the server, where an analyst has
# no business reading files (an error quoting a file's first line would even show it).
SERVER_FILES = (("calls", "replay_file", "the calls in calls.replayed"),
                ("volunteers", "aeds_file", "the AEDs in volunteers.aeds, or volunteers.aeds_from_city"))


def no_server_files(scenario: Scenario, name: str) -> None:
    """Raise a ValueError naming the first field of `scenario` that names a file (`SERVER_FILES`)."""
    for part, field, instead in SERVER_FILES:
        if getattr(getattr(scenario, part), field, None):
            raise ValueError(f"{name}.{part}.{field}: a run started over the API reads no files on the server; give "
                             f"{instead}, or run `lifechain plan run` where the file is")


class RunIn(BaseModel):
    """Start a simulation: the scenario itself (as in a scenario YAML file) and how many replications (default 1).

    With a `variant`, compare the two instead (as `lifechain plan compare`): both run on the scenario's seed, so
    replication k of each sees the same calls, and each figure's paired change comes with its 95% interval and whether
    it is larger than the noise. A comparison needs at least 2 replications (default 10). A scenario sent here names
    no files (`calls.replay_file`, `volunteers.aeds_file`): it carries its calls and AEDs itself."""

    model_config = ConfigDict(extra="forbid")
    scenario: Scenario
    variant: Scenario | None = None
    replications: int | None = Field(None, ge=1, le=50)

    @model_validator(mode="after")
    def _no_files(self) -> Self:
        no_server_files(self.scenario, "scenario")
        if self.variant is not None:
            no_server_files(self.variant, "variant")
        return self

    @model_validator(mode="after")
    def _replications(self) -> Self:
        if self.replications is None:
            self.replications = 1 if self.variant is None else COMPARISON_REPLICATIONS
        elif self.variant is not None and self.replications < 2:
            raise ValueError("replications: a comparison needs at least 2, since one gives no interval to tell a "
                             "difference from noise")
        return self


class RunBrief(BaseModel):
    """A planning run without its results: a simulation of `scenario`, or a comparison of `variant` with it."""

    id: str
    status: RunStatus
    kind: Literal["simulation", "comparison"]
    scenario: str
    variant: str | None = None
    replications: int
    created_by: str
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    progress: float | None = Field(None, ge=0, le=1, description="The share of the run's replications done (a "
                                   "comparison runs each twice), from 0 when it starts to 1 when it is done.")
    error: str | None = None
    files: list[str] = Field(default_factory=list,
                             description="The files GET /planning/runs/{id}/{name} serves once the run is done: a "
                                         "simulation's report.html and calls.csv (every call of replication 1 "
                                         "with each time node); a comparison makes none.")


class RunOut(RunBrief):
    """A planning run: where it stands and, once done, its results. A simulation's are the summary with 95%
    intervals over the replications and each replication's figures; a comparison's are both summaries and, figure by
    figure, the paired change (`difference`: mean, interval, `significant`)."""

    result: dict[str, Any] | None = None
