"""The planning API: analysts start a run in the background and fetch its results; others are refused."""

from __future__ import annotations

import json
import math
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


class Sender:
    """The end of a run process's pipe: keeps what `flows.run_job` sends."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []

    def send(self, message: tuple[str, Any]) -> None:
        self.sent.append(message)

    def close(self) -> None:
        self.sent.append(("closed", None))


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
    # JSON's NaN and Infinity (which Python's parser takes) and a policy of the wrong type: 422s naming the place.
    # Before, such a run was stored, then failed (a NaN weight) or ran on nonsense.
    nan = json.dumps({"scenario": {**SCENARIO, "demand": [{"lat": 60.1, "lon": 24.9, "weight": math.nan}]}})
    res = client.post("/api/v1/planning/runs", headers={**admin, "Content-Type": "application/json"}, content=nan)
    assert res.status_code == 422 and "finite number" in res.text and "weight" in res.text, res.text
    res = client.post("/api/v1/planning/runs", headers=admin,
                      json={"scenario": {**SCENARIO, "dispatch_policy": {"redispatch": "yes"}}})
    assert res.status_code == 422, res.text
    # The validator's own words, without pydantic's "Value error, " in front of them.
    assert [e["message"].startswith("dispatch policy: redispatch") for e in res.json()["errors"]] == [True]
    assert client.post("/api/v1/planning/runs", json={"scenario": SCENARIO}).status_code == 401


def test_a_scenario_over_the_api_reads_no_file_on_the_server(client: TestClient, tmp_path: Any) -> None:
    """A replay or AED file in a scenario (or a variant) sent over the API is a 422 naming the field, and no run is
    stored: the server would read the file, and its error would quote the first line. Before, the run failed with
    "/etc/passwd: a replay needs time, lat and lon columns (columns: root:x:0:0:root:/root:/bin/bash)". A run stored
    before the rule meets it in its process too."""
    from lifechain.planning import flows

    analyst = signed_in(client, "ana", Role.ANALYST)
    secret = tmp_path / "secret.csv"
    secret.write_text("password,lat,lon\nhunter2,60.1,24.9\n")
    replay = {**SCENARIO, "calls": {**SCENARIO["calls"], "replay_file": str(secret)}}
    aeds = {**SCENARIO, "volunteers": {"density_per_km2": 10, "aeds_file": str(secret)}}
    for body, field in (({"scenario": replay}, "scenario.calls.replay_file"),
                        ({"scenario": SCENARIO, "variant": aeds}, "variant.volunteers.aeds_file")):
        res = client.post("/api/v1/planning/runs", headers=analyst, json=body)
        assert res.status_code == 422, res.text
        assert [e["message"].startswith(f"{field}: a run started over the API reads no files on the server")
                for e in res.json()["errors"]] == [True]
        assert "hunter2" not in res.text
    assert client.get("/api/v1/planning/runs", headers=analyst).json() == []
    stored_before = Sender()
    flows.run_job(flows.RunJob("old", replay, None, 1, None), stored_before)
    kind, outcome = stored_before.sent[-2]
    assert kind == "outcome" and outcome["status"] == "failed"
    assert "scenario.calls.replay_file: a run started over the API reads no files" in outcome["error"]
    assert "hunter2" not in outcome["error"]


def test_a_city_that_is_not_imported_is_refused_before_the_run_is_stored(client: TestClient) -> None:
    """A city scenario (or variant) on a city this server has not imported is a 422 naming the field and the
    cities it has, and no run is stored. Before, the run was stored, then failed."""
    analyst = signed_in(client, "ana2", Role.ANALYST)
    sc = {**SCENARIO, "travel": {"kind": "city", "city": "atlantis"}}
    for body, field in (({"scenario": sc}, "scenario.travel.city"),
                        ({"scenario": SCENARIO, "variant": sc, "replications": 2}, "variant.travel.city")):
        res = client.post("/api/v1/planning/runs", headers=analyst, json=body)
        assert res.status_code == 422, res.text
        assert f"{field}: 'atlantis' is not imported on this server (imported: " in res.text
    assert client.get("/api/v1/planning/runs", headers=analyst).json() == []


def test_a_station_off_the_city_network_is_refused_before_the_run_is_stored(settings: Settings,
                                                                           helsinki_cities_dir: Any) -> None:
    """A Helsinki scenario (or variant) with a station in Auckland was stored, then failed in its process on
    "point 0"; it is a 422 naming the field and the station, checked on the server's own router, and no run is
    stored."""
    import shutil

    from lifechain.planning import flows

    shutil.copytree(helsinki_cities_dir, settings.cities_dir)
    good = flows.load_scenario(flows.Path(flows.__file__).parent / "scenarios" / "helsinki.yaml").model_dump(
        mode="json")
    bad = {**good, "stations": [{**good["stations"][0], "lat": -36.85, "lon": 174.76}, *good["stations"][1:]]}
    with TestClient(create_app(settings, clock=ManualClock(datetime(2026, 3, 1, 9, tzinfo=UTC)))) as client:
        analyst = signed_in(client, "ana3", Role.ANALYST)
        for body, field in (({"scenario": bad}, "scenario"),
                            ({"scenario": good, "variant": bad, "replications": 2}, "variant")):
            res = client.post("/api/v1/planning/runs", headers=analyst, json=body)
            assert res.status_code == 422, res.text
            assert res.json()["detail"] == (f"{field}: station 1 (Kamppi) at (-36.850000, 174.760000) is more than "
                                            "1000 m from the drive network of helsinki")
        assert client.get("/api/v1/planning/runs", headers=analyst).json() == []
        run = client.post("/api/v1/planning/runs", headers=analyst, json={"scenario": {**good, "days": 0.05}})
        assert run.status_code == 202, run.text  # the same scenario with its station in Helsinki runs
        assert wait(client, run.json()["id"], analyst)["status"] == "done"


def test_a_run_routes_with_the_servers_routing_settings(settings: Settings, helsinki_cities_dir: Any) -> None:
    """The check of a run's places used the server's router, the run itself a router with the default routing
    settings: with LIFECHAIN_SNAP_MAX_DISTANCE_M at 2000, a station 1.6 km off the roads was accepted, then the run
    failed on "more than 1000 m". The run uses the server's settings: it is done, from that station."""
    import shutil

    from lifechain.planning import flows

    shutil.copytree(helsinki_cities_dir, settings.cities_dir)
    good = flows.load_scenario(flows.Path(flows.__file__).parent / "scenarios" / "helsinki.yaml").model_dump(
        mode="json")
    harbour = {**good["stations"][0], "lat": 60.15, "lon": 24.95}  # in the sea, about 1,570 m from a road
    scenario = {**good, "days": 0.05, "stations": [harbour, *good["stations"][1:]]}
    wide = settings.model_copy(update={"snap_max_distance_m": 2000.0})
    with TestClient(create_app(wide, clock=ManualClock(datetime(2026, 3, 1, 9, tzinfo=UTC)))) as client:
        analyst = signed_in(client, "ana4", Role.ANALYST)
        run = client.post("/api/v1/planning/runs", headers=analyst, json={"scenario": scenario})
        assert run.status_code == 202, run.text
        done = wait(client, run.json()["id"], analyst)
        assert done["status"] == "done", done["error"]
        assert done["result"]["summary"]["calls"]["n"] > 0


def test_a_finished_run_outlives_the_server(settings: Settings) -> None:
    """Results are in the database: a new server process (a new app on the same database) returns them."""
    clock = ManualClock(datetime(2026, 3, 1, 9, tzinfo=UTC))
    with TestClient(create_app(settings, clock=clock)) as first:
        analyst = signed_in(first, "ana3", Role.ANALYST)
        run_id = first.post("/api/v1/planning/runs", headers=analyst, json={"scenario": SCENARIO}).json()["id"]
        summary = wait(first, run_id, analyst)["result"]["summary"]
    with TestClient(create_app(settings, clock=clock)) as second:
        again = second.get(f"/api/v1/planning/runs/{run_id}", headers=analyst).json()
    assert again["status"] == "done" and again["result"]["summary"] == summary


def test_runs_a_stopped_server_left_are_taken_up_at_start(settings: Settings) -> None:
    """A run stored as queued, and one whose process stopped beating 10 minutes ago, both run at the next start;
    a run that already failed three times this way is given up with the reason, and a live one is left alone."""
    from datetime import timedelta

    from lifechain.db import transaction
    from lifechain.planning.simulate import Scenario
    from lifechain.planning.tables import PlanningRun

    now = datetime(2026, 3, 1, 9, tzinfo=UTC)
    app = create_app(settings, clock=ManualClock(now))
    scenario = Scenario.model_validate(SCENARIO).model_dump(mode="json")

    def row(run_id: str, status: str, beat_min_ago: float | None, attempts: int) -> PlanningRun:
        beat = None if beat_min_ago is None else now - timedelta(minutes=beat_min_ago)
        return PlanningRun(id=run_id, status=status, scenario_name="toy", scenario=scenario, replications=1,
                           created_by="user:ana", created_at=now - timedelta(hours=1), started_at=beat,
                           heartbeat_at=beat, attempts=attempts)

    with transaction(app.state.sessionmaker) as s:
        s.add_all([row("queued1", "queued", None, 0), row("crashed1", "running", 10, 1),
                   row("crashed3", "running", 10, 3), row("alive1", "running", 0.5, 1)])
    with TestClient(app) as client:
        analyst = signed_in(client, "ana4", Role.ANALYST)
        assert wait(client, "queued1", analyst)["status"] == "done"
        crashed = wait(client, "crashed1", analyst)
        assert crashed["status"] == "done" and crashed["result"]["summary"]["calls"]["n"] == 1
        gave_up = client.get("/api/v1/planning/runs/crashed3", headers=analyst).json()
        assert gave_up["status"] == "failed" and "given up" in gave_up["error"]
        assert client.get("/api/v1/planning/runs/alive1", headers=analyst).json()["status"] == "running"


def test_only_one_process_claims_a_run(settings: Settings) -> None:
    """Two stores (two server processes) offered the same queued run: exactly one claim succeeds."""
    from lifechain.db import transaction
    from lifechain.planning import repo
    from lifechain.planning.simulate import Scenario
    from lifechain.planning.tables import PlanningRun

    now = datetime(2026, 3, 1, 9, tzinfo=UTC)
    app = create_app(settings, clock=ManualClock(now))
    with transaction(app.state.sessionmaker) as s:
        s.add(PlanningRun(id="r1", status="queued", scenario_name="toy", replications=1, created_by="user:a",
                          scenario=Scenario.model_validate(SCENARIO).model_dump(mode="json"), created_at=now,
                          attempts=0))
    with transaction(app.state.sessionmaker) as s:
        first = repo.claim(session=s, run_id="r1", now=now)
    with transaction(app.state.sessionmaker) as s:
        second = repo.claim(session=s, run_id="r1", now=now)
        run = repo.get(session=s, run_id="r1")
        assert run is not None and run.attempts == 1 and run.status == "running"
    assert (first, second) == (True, False)
    app.state.engine.dispose()


def test_a_finished_simulation_serves_its_report_and_every_call(client: TestClient) -> None:
    """A done run lists report.html and calls.csv; the report is the HTML page of the run and the calls are,
    byte for byte, what `plan run --calls` writes for the same scenario (a seed gives the same calls)."""
    import csv
    import io

    from lifechain.planning import flows
    from lifechain.planning.simulate import Scenario

    analyst = signed_in(client, "ana5", Role.ANALYST)
    run_id = client.post("/api/v1/planning/runs", headers=analyst, json={"scenario": SCENARIO}).json()["id"]
    done = wait(client, run_id, analyst)
    assert done["status"] == "done" and done["kind"] == "simulation" and done["variant"] is None
    assert done["files"] == ["calls.csv", "report.html"] and "first_run" not in done["result"]
    page = client.get(f"/api/v1/planning/runs/{run_id}/report.html", headers=analyst)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Planning report: toy" in page.text and "Key figures" in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]  # a name with <script> runs nothing
    calls = client.get(f"/api/v1/planning/runs/{run_id}/calls.csv", headers=analyst)
    assert calls.status_code == 200 and calls.headers["content-type"].startswith("text/csv")
    assert f"planning-{run_id}-calls.csv" in calls.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(calls.text)))
    assert len(rows) == done["result"]["runs"][0]["calls"] > 50
    expected = io.StringIO()
    flows.calls_csv(flows.run_scenario(Scenario.model_validate(SCENARIO), keep_first=True), expected)
    assert calls.text == expected.getvalue()
    assert client.get(f"/api/v1/planning/runs/{run_id}/calls.csv", headers=signed_in(
        client, "disp5", Role.DISPATCHER)).status_code == 403


def test_a_comparison_over_the_api_pairs_the_replications(client: TestClient) -> None:
    """scenario + variant runs `plan compare`: the same figures as `flows.compare_scenarios`, significant where the
    interval leaves out 0, its report as the only file; one replication is a 422 naming the field; replications
    default to 10."""
    from lifechain.planning import flows
    from lifechain.planning.simulate import Scenario

    analyst = signed_in(client, "ana6", Role.ANALYST)
    busy = {**SCENARIO, "calls": {**SCENARIO["calls"], "rate_per_day": 150}}
    more = {**busy, "name": "toy+1", "units": [*SCENARIO["units"], {"id": 4, "station": 2}]}
    res = client.post("/api/v1/planning/runs", headers=analyst, json={"scenario": busy, "variant": more,
                                                                      "replications": 1})
    assert res.status_code == 422 and "a comparison needs at least 2" in res.text, res.text
    assert [e["field"] for e in res.json()["errors"]] == ["body"], res.json()
    res = client.post("/api/v1/planning/runs", headers=analyst, json={"scenario": busy, "variant": more,
                                                                      "replications": 3})
    assert res.status_code == 202, res.text
    assert (res.json()["kind"], res.json()["scenario"], res.json()["variant"]) == ("comparison", "toy", "toy+1")
    done = wait(client, res.json()["id"], analyst)
    assert done["status"] == "done" and done["files"] == ["report.html"], done
    assert "first_runs" not in done["result"]
    expected = flows.compare_scenarios(Scenario.model_validate(busy), Scenario.model_validate(more), replications=3)
    assert done["result"]["difference"] == flows._finite(expected["difference"])
    assert done["result"]["difference"]["calls"]["mean"] == 0  # the same calls in every pair
    queueing = done["result"]["difference"]["queued_share"]
    assert queueing["mean"] < 0 and queueing["significant"] is True
    listed = client.get("/api/v1/planning/runs?status=done", headers=analyst).json()
    assert [(r["kind"], r["variant"]) for r in listed if r["id"] == done["id"]] == [("comparison", "toy+1")]
    report = client.get(f"/api/v1/planning/runs/{done['id']}/report.html", headers=analyst)
    assert report.status_code == 200 and "Comparison: toy+1 against toy" in report.text
    assert "default-src 'none'" in report.headers["content-security-policy"]
    calls = client.get(f"/api/v1/planning/runs/{done['id']}/calls.csv", headers=analyst)
    assert calls.status_code == 404 and "is a comparison: it has results and a report, no calls.csv" in calls.text
    defaulted = client.post("/api/v1/planning/runs", headers=analyst, json={"scenario": SCENARIO, "variant": SCENARIO})
    assert defaulted.status_code == 202 and defaulted.json()["replications"] == 10


def test_runs_are_listed_newest_first_without_results(settings: Settings) -> None:
    """GET /planning/runs pages newest first, filters by status and leaves results out; a file of a run that has not
    finished, or failed, is a 409 saying so."""
    from datetime import timedelta

    from lifechain.db import transaction
    from lifechain.planning.simulate import Scenario
    from lifechain.planning.tables import PlanningRun

    now = datetime(2026, 3, 1, 9, tzinfo=UTC)
    app = create_app(settings, clock=ManualClock(now))
    scenario = Scenario.model_validate(SCENARIO).model_dump(mode="json")
    with transaction(app.state.sessionmaker) as s:
        for k, status in enumerate(["done", "failed", "running", "done"]):
            s.add(PlanningRun(id=f"r{k}", status=status, scenario_name=f"s{k}", scenario=scenario, replications=1,
                              created_by="user:ana", created_at=now - timedelta(hours=4 - k), heartbeat_at=now,
                              attempts=1, result={"summary": {}} if status == "done" else None,
                              error="ValueError: boom" if status == "failed" else None))
    with TestClient(app) as client:
        analyst = signed_in(client, "ana7", Role.ANALYST)
        listed = client.get("/api/v1/planning/runs", headers=analyst).json()
        assert [r["id"] for r in listed] == ["r3", "r2", "r1", "r0"] and all("result" not in r for r in listed)
        page = client.get("/api/v1/planning/runs?limit=2&offset=1", headers=analyst).json()
        assert [r["id"] for r in page] == ["r2", "r1"]
        done = client.get("/api/v1/planning/runs?status=done", headers=analyst).json()
        assert [r["id"] for r in done] == ["r3", "r0"]
        assert client.get("/api/v1/planning/runs?status=lost", headers=analyst).status_code == 422
        running = client.get("/api/v1/planning/runs/r2/report.html", headers=analyst)
        assert running.status_code == 409 and "is running" in running.text
        failed = client.get("/api/v1/planning/runs/r1/calls.csv", headers=analyst)
        assert failed.status_code == 409 and "failed (ValueError: boom)" in failed.text
        assert client.get("/api/v1/planning/runs/nope/calls.csv", headers=analyst).status_code == 404
        assert client.get("/api/v1/planning/runs", headers=signed_in(client, "d7", Role.DISPATCHER)).status_code == 403


LONG = {**SCENARIO, "name": "long", "days": 365, "calls": {**SCENARIO["calls"], "rate_per_day": 300}}


def running_process(app: Any, run_id: str) -> Any:
    """The child process running a run, once it has started."""
    for _ in range(400):
        store = app.state.planning_runs
        child = store.processes.get(run_id) if store is not None else None
        if child is not None:
            return child
        time.sleep(0.05)
    raise AssertionError("the run's process did not start")


def exit_code(child: Any, timeout_s: float = 10.0) -> int | None:
    """How a run's process ended, waiting for it. Not `join`: the store's thread joins it too, and of two threads
    joining one process, the one that loses the race to reap it can see no exit code at all."""
    for _ in range(int(timeout_s / 0.05)):
        if child.exitcode is not None:
            break
        time.sleep(0.05)
    code: int | None = child.exitcode
    return code


def stored(app: Any, run_id: str) -> Any:
    from lifechain.db import transaction
    from lifechain.planning import repo

    with transaction(app.state.sessionmaker) as s:
        run = repo.get(session=s, run_id=run_id)
        assert run is not None
        s.expunge(run)
        return run


def test_a_run_works_in_a_process_of_its_own_that_the_server_stops_and_requeues(settings: Settings) -> None:
    """The simulation runs in a child process, not in the server's, at a lower priority: stopping the server ends it
    at once (a year of calls would take long) and gives the run back to the queue with its attempt not counted; the
    next start takes it up again."""
    import os

    app = create_app(settings, clock=ManualClock(datetime(2026, 3, 1, 9, tzinfo=UTC)))
    with TestClient(app) as client:
        analyst = signed_in(client, "ana8", Role.ANALYST)
        run_id = client.post("/api/v1/planning/runs", headers=analyst, json={"scenario": LONG}).json()["id"]
        child = running_process(app, run_id)
        assert child.pid != os.getpid() and child.is_alive()
        # Below the server's priority, so live requests come first when the cores are short.
        server_nice = os.getpriority(os.PRIO_PROCESS, 0)
        for _ in range(200):
            if os.getpriority(os.PRIO_PROCESS, child.pid) == min(server_nice + 10, 19):
                break
            time.sleep(0.05)
        assert os.getpriority(os.PRIO_PROCESS, child.pid) == min(server_nice + 10, 19)
        assert client.get(f"/api/v1/planning/runs/{run_id}", headers=analyst).json()["status"] == "running"
    assert exit_code(child) == -15  # SIGTERM from close(), not the end of the year
    run = stored(app, run_id)
    assert (run.status, run.attempts, run.started_at, run.progress) == ("queued", 0, None, None)
    app.state.engine.dispose()
    again = create_app(settings, clock=ManualClock(datetime(2026, 3, 1, 9, tzinfo=UTC)))
    with TestClient(again):
        running_process(again, run_id)
        assert stored(again, run_id).status == "running"
    again.state.engine.dispose()


def test_a_run_whose_process_dies_fails_saying_how(client: TestClient) -> None:
    """A run's process killed (out of memory, say) fails its run with the signal; the server carries on."""
    import os
    import signal

    analyst = signed_in(client, "ana9", Role.ANALYST)
    run_id = client.post("/api/v1/planning/runs", headers=analyst, json={"scenario": LONG}).json()["id"]
    os.kill(running_process(client.app, run_id).pid, signal.SIGKILL)
    done = wait(client, run_id, analyst)
    assert (done["status"], done["error"]) == ("failed", "the run's process ended without a result (killed by SIGKILL)")
    after = client.post("/api/v1/planning/runs", headers=analyst, json={"scenario": SCENARIO}).json()["id"]
    assert wait(client, after, analyst)["status"] == "done"


def test_a_run_reports_its_progress_and_then_its_outcome() -> None:
    """`run_job` (the body of a run's process) sends the share of replications done after each one (a comparison
    runs each twice), then the outcome with a simulation's files compressed."""
    import gzip

    from lifechain.planning import flows

    sim = Sender()
    flows.run_job(flows.RunJob("r1", SCENARIO, None, 3, None), sim)
    assert [m for m in sim.sent if m[0] == "progress"] == [("progress", 1 / 3), ("progress", 2 / 3), ("progress", 1.0)]
    kind, outcome = sim.sent[-2]
    assert kind == "outcome" and outcome["status"] == "done" and sim.sent[-1] == ("closed", None)
    files = {f["name"]: f for f in outcome["files"]}
    rows = gzip.decompress(files["calls.csv"]["content"]).decode().count("\n")
    assert rows == outcome["result"]["runs"][0]["calls"] + 1  # the header and every call
    assert len(gzip.decompress(files["report.html"]["content"])) == files["report.html"]["size"]
    comparison = Sender()
    flows.run_job(flows.RunJob("r2", SCENARIO, {**SCENARIO, "name": "same"}, 2, None), comparison)
    assert [v for k, v in comparison.sent if k == "progress"] == [0.25, 0.5, 0.75, 1.0]
    failed = Sender()
    flows.run_job(flows.RunJob("r3", {**SCENARIO, "travel": {"kind": "city", "city": "atlantis"}}, None, 1, None),
                  failed)
    assert failed.sent[-2] == ("outcome", {"status": "failed", "error": "Invalid: travel.kind 'city' needs travel.city "
                                                                        "and an imported city (lifechain city import)"})


def test_a_run_process_ends_when_its_server_is_killed(tmp_path: Any) -> None:
    """A server killed outright cannot stop its run's process: the process sees it gone and ends within seconds,
    instead of holding a core for the rest of the run."""
    import os
    import subprocess
    import sys

    script = (
        "import json, multiprocessing, sys, time\n"
        "from lifechain.planning import flows\n"
        "if __name__ == '__main__':\n"
        "    ctx = multiprocessing.get_context('spawn')\n"
        "    results, sender = ctx.Pipe(duplex=False)\n"
        "    job = flows.RunJob('r', json.loads(sys.argv[1]), None, 1, None)\n"
        "    child = ctx.Process(target=flows.run_job, args=(job, sender))\n"
        "    child.start()\n"
        "    print(child.pid, flush=True)\n"
        "    time.sleep(600)\n"
    )
    server = subprocess.Popen([sys.executable, "-c", script, json.dumps({**LONG, "days": 3650})],
                              stdout=subprocess.PIPE, text=True, env={**os.environ})
    try:
        pid = int(server.stdout.readline())  # type: ignore[union-attr]
        time.sleep(2)  # into the year of calls
        assert _alive(pid)
    finally:
        server.kill()
        server.wait()
    for _ in range(100):
        if not _alive(pid):
            break
        time.sleep(0.1)
    assert not _alive(pid)


def _alive(pid: int) -> bool:
    """Whether a process runs (a zombie nobody reaped has ended)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_runs_are_deleted_by_their_analyst_or_an_admin_and_a_running_one_stops(client: TestClient) -> None:
    """DELETE removes a run with its files (its creator or an admin; another analyst gets 403 saying who started it);
    a running run's process is stopped and nothing of it is recorded later; a queued one never runs; the queue goes
    on."""
    ana, other = signed_in(client, "ana10", Role.ANALYST), signed_in(client, "ana11", Role.ANALYST)
    admin = signed_in(client, "root10", Role.ADMIN)
    done_id = client.post("/api/v1/planning/runs", headers=ana, json={"scenario": SCENARIO}).json()["id"]
    assert wait(client, done_id, ana)["status"] == "done"
    refused = client.delete(f"/api/v1/planning/runs/{done_id}", headers=other)
    assert refused.status_code == 403 and "started by user:ana10" in refused.text
    gone = client.delete(f"/api/v1/planning/runs/{done_id}", headers=ana)
    assert gone.status_code == 200 and gone.json()["status"] == "done"
    assert gone.json()["files"] == ["calls.csv", "report.html"]
    assert client.get(f"/api/v1/planning/runs/{done_id}", headers=ana).status_code == 404
    assert client.get(f"/api/v1/planning/runs/{done_id}/calls.csv", headers=ana).status_code == 404
    assert client.delete(f"/api/v1/planning/runs/{done_id}", headers=ana).status_code == 404

    long_id = client.post("/api/v1/planning/runs", headers=ana, json={"scenario": LONG}).json()["id"]
    queued_id = client.post("/api/v1/planning/runs", headers=ana, json={"scenario": SCENARIO}).json()["id"]
    child = running_process(client.app, long_id)
    assert client.delete(f"/api/v1/planning/runs/{queued_id}", headers=admin).json()["status"] == "queued"
    assert client.delete(f"/api/v1/planning/runs/{long_id}", headers=admin).json()["status"] == "running"
    assert exit_code(child) == -15
    after = client.post("/api/v1/planning/runs", headers=ana, json={"scenario": SCENARIO}).json()["id"]
    assert wait(client, after, ana)["status"] == "done"
    listed = {r["id"] for r in client.get("/api/v1/planning/runs", headers=ana).json()}
    assert listed == {after}  # neither deleted run came back when its thread ended


def test_a_run_deleted_by_another_server_process_stops_at_the_next_heartbeat(settings: Settings) -> None:
    """Another process deletes the row: this store's next heartbeat finds it gone and stops the run's process."""
    from lifechain.db import transaction
    from lifechain.planning import repo
    from lifechain.planning.flows import RunStore
    from lifechain.planning.simulate import Scenario

    clock = ManualClock(datetime(2026, 3, 1, 9, tzinfo=UTC))
    app = create_app(settings, clock=clock)
    store = RunStore(sessionmaker=app.state.sessionmaker, cities=None, clock=clock, heartbeat_s=0.2)
    try:
        run_id = store.start(Scenario.model_validate(LONG), 1, actor="user:ana12")["id"]
        for _ in range(400):
            child = store.processes.get(run_id)
            if child is not None:
                break
            time.sleep(0.05)
        assert child is not None
        with transaction(app.state.sessionmaker) as s:
            repo.remove(session=s, run_id=run_id)
        assert exit_code(child) == -15
    finally:
        store.close()
        app.state.engine.dispose()


def test_a_run_whose_process_cannot_start_fails_saying_why(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """No process for a run (file descriptors or memory exhausted): the run fails at once with the reason, instead of
    staying `running` until a restart finds it stale; the next run works."""
    import errno
    import multiprocessing.context

    def refuse(self: Any) -> None:
        raise OSError(errno.EMFILE, "Too many open files")

    analyst = signed_in(client, "ana13", Role.ANALYST)
    with monkeypatch.context() as patch:
        patch.setattr(multiprocessing.context.SpawnProcess, "start", refuse)
        run_id = client.post("/api/v1/planning/runs", headers=analyst, json={"scenario": SCENARIO}).json()["id"]
        done = wait(client, run_id, analyst)
    assert (done["status"], done["error"]) == ("failed", "the run's process could not start: [Errno 24] Too many "
                                                         "open files")
    after = client.post("/api/v1/planning/runs", headers=analyst, json={"scenario": SCENARIO}).json()["id"]
    assert wait(client, after, analyst)["status"] == "done"


def test_a_server_may_work_on_several_runs_at_once(settings: Settings) -> None:
    """planning_runs_at_once = 2: two long runs work side by side, each in its process; a third waits in the queue
    until one of them ends (here: is deleted)."""
    app = create_app(settings.model_copy(update={"planning_runs_at_once": 2}),
                     clock=ManualClock(datetime(2026, 3, 1, 9, tzinfo=UTC)))
    with TestClient(app) as client:
        analyst = signed_in(client, "ana14", Role.ANALYST)
        first, second, third = (client.post("/api/v1/planning/runs", headers=analyst,
                                            json={"scenario": LONG}).json()["id"] for _ in range(3))
        a, b = running_process(app, first), running_process(app, second)
        assert a.pid != b.pid and a.is_alive() and b.is_alive()
        assert client.get(f"/api/v1/planning/runs/{third}", headers=analyst).json()["status"] == "queued"
        client.delete(f"/api/v1/planning/runs/{first}", headers=analyst)
        assert running_process(app, third).is_alive()
    app.state.engine.dispose()


def _children(pid: int) -> set[int]:
    """The processes a process started (Linux /proc)."""
    from pathlib import Path

    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        found |= {int(c) for c in (task / "children").read_text().split()}
    return found


def test_a_run_spreads_its_replications_over_processes_that_end_with_it(settings: Settings) -> None:
    """planning_workers_per_run = 2: a run's replications work in two processes of its own, with the same results as
    one after another; when the run is stopped, they end too (they watch the run's process)."""
    from lifechain.planning import flows
    from lifechain.planning.simulate import Scenario

    app = create_app(settings.model_copy(update={"planning_workers_per_run": 2}),
                     clock=ManualClock(datetime(2026, 3, 1, 9, tzinfo=UTC)))
    with TestClient(app) as client:
        analyst = signed_in(client, "ana15", Role.ANALYST)
        run_id = client.post("/api/v1/planning/runs", headers=analyst,
                             json={"scenario": SCENARIO, "replications": 3}).json()["id"]
        done = wait(client, run_id, analyst)
        expected = flows.run_scenario(Scenario.model_validate(SCENARIO), replications=3)
        assert done["status"] == "done" and done["result"]["summary"] == flows._finite(expected["summary"])

        long_id = client.post("/api/v1/planning/runs", headers=analyst,
                              json={"scenario": LONG, "replications": 2}).json()["id"]
        child = running_process(app, long_id)
        for _ in range(200):
            workers = _children(child.pid)
            if len(workers) >= 2:
                break
            time.sleep(0.05)
        assert len(workers) >= 2, workers  # the pool's processes (and nothing else the test would mistake for them)
        client.delete(f"/api/v1/planning/runs/{long_id}", headers=analyst)
        assert exit_code(child) == -15
        for _ in range(100):
            if not any(_alive(w) for w in workers):
                break
            time.sleep(0.1)
        assert not any(_alive(w) for w in workers)
    app.state.engine.dispose()


def test_a_heartbeat_the_database_refuses_does_not_stop_the_run(client: TestClient,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The first heartbeat fails (the database busy for a moment): the thread waiting for the run carries on, and the
    run ends done with its results, not stuck `running` with its process unwatched."""
    from sqlalchemy.exc import OperationalError

    from lifechain.planning import repo

    real, calls = repo.beat, []

    def flaky(**kwargs: Any) -> bool:
        calls.append(kwargs["progress"])
        if len(calls) == 1:
            raise OperationalError("UPDATE planning_run", {}, Exception("database is locked"))
        return real(**kwargs)

    monkeypatch.setattr(repo, "beat", flaky)
    analyst = signed_in(client, "ana16", Role.ANALYST)
    run_id = client.post("/api/v1/planning/runs", headers=analyst,
                         json={"scenario": SCENARIO, "replications": 3}).json()["id"]
    done = wait(client, run_id, analyst)
    assert done["status"] == "done" and done["progress"] == 1.0, done
    assert calls[:2] == [1 / 3, 2 / 3]  # the refused beat, then the next one
