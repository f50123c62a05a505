"""Request and response bodies of the planning API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from lifechain.planning.simulate import Scenario


class RunIn(BaseModel):
    """Start a simulation: the scenario itself (as in a scenario YAML file) and how many replications."""

    model_config = ConfigDict(extra="forbid")
    scenario: Scenario
    replications: int = Field(1, ge=1, le=50)


class RunOut(BaseModel):
    """A simulation run: where it stands and, once done, its summary with confidence intervals."""

    id: str
    status: Literal["queued", "running", "done", "failed"]
    scenario: str
    replications: int
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None
    result: dict[str, Any] | None = None
