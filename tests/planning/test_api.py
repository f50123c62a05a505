"""The planning API: analysts start a run in the background and fetch its results; others are refused."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.planning.test_simulate import SCENARIO

from auth_helpers import signed_in
from lifechain.app import create_app
from lifechain.auth.core import Role
from lifechain.clock import ManualClock
from lifechain.settings import Settings


@pytest.fixture
def client(settings: Settings) -> TestClient:
    return TestClient(create_app(settings, clock=ManualClock(datetime(2026, 3, 1, 9, tzinfo=UTC))))


def wait(client: TestClient, run_id: str, headers: dict[str, str]) -> dict[str, Any]:
    for _ in range(200):
        body: dict[str, Any] = client.get(f"/api/v1/planning/runs/{run_id}", headers=headers).json()
        if body["status"] in ("done", "failed"):
            return body
        time.sleep(0.05)
    raise AssertionError("the run did not finish")


def test_analyst_starts_a_run_and_fetches_its_results(client: TestClient) -> None:
    """POST returns 202 queued; GET later returns done with the summary and CIs of both replications."""
    analyst = signed_in(client, "ana", Role.ANALYST)
    res = client.post("/api/v1/planning/runs", headers=analyst, json={"scenario": SCENARIO, "replications": 2})
    assert res.status_code == 202, res.text
    assert res.json()["status"] == "queued" and res.json()["scenario"] == "toy"
    done = wait(client, res.json()["id"], analyst)
    assert done["status"] == "done", done
    summary = done["result"]["summary"]
    assert summary["calls"]["n"] == 2 and 0 < summary["all.within_12_min"]["mean"] <= 1
    assert done["finished_at"] is not None


def test_planning_runs_need_analyst_or_admin_and_a_valid_scenario(client: TestClient) -> None:
    """A dispatcher gets 403; a unit at an unknown station is a 422 naming it; an unknown run id is a 404."""
    dispatcher = signed_in(client, "disp", Role.DISPATCHER)
    assert client.post("/api/v1/planning/runs", headers=dispatcher, json={"scenario": SCENARIO}).status_code == 403
    admin = signed_in(client, "root", Role.ADMIN)
    bad = {**SCENARIO, "units": [{"id": 1, "station": 99}]}
    res = client.post("/api/v1/planning/runs", headers=admin, json={"scenario": bad})
    assert res.status_code == 422 and "name a station" in res.text
    assert client.get("/api/v1/planning/runs/nope", headers=admin).status_code == 404
    assert client.post("/api/v1/planning/runs", json={"scenario": SCENARIO}).status_code == 401


def test_a_run_that_fails_says_why(client: TestClient) -> None:
    """A city scenario on a city that is not imported ends `failed` with the reason."""
    analyst = signed_in(client, "ana2", Role.ANALYST)
    sc = {**SCENARIO, "travel": {"kind": "city", "city": "atlantis"}}
    run_id = client.post("/api/v1/planning/runs", headers=analyst, json={"scenario": sc}).json()["id"]
    done = wait(client, run_id, analyst)
    assert done["status"] == "failed" and "atlantis" in done["error"]
