"""The timeline over the API: recorded by hand, corrected with a reason, never edited; roles enforced."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from auth_helpers import signed_in
from lifechain.app import create_app
from lifechain.auth.core import Role
from lifechain.clock import ManualClock
from lifechain.db import transaction
from lifechain.settings import Settings
from lifechain.timeline import flows, repo
from lifechain.timeline.core import EventKind, Source, TimelineEvent

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def client(settings: Settings) -> TestClient:
    client = TestClient(create_app(settings, clock=ManualClock(T0)))
    # This domain alone: which incidents a crew may reach is dispatch's rule (its guard is tested in
    # tests/dispatch/test_api.py), so here the incident exists only as timeline events and is open to all.
    client.app.state.incident_guard = None  # type: ignore[attr-defined]
    with transaction(client.app.state.sessionmaker) as s:  # type: ignore[attr-defined]
        flows.record(session=s, event=TimelineEvent(EventKind.PSAP_CALL, T0, incident_id=1, actor="system"), now=T0)
    return client


def test_record_and_read_a_node_with_its_actor(client: TestClient) -> None:
    """A crew member records "at patient"; the timeline shows it with its NEMSIS element and who recorded it."""
    crew = signed_in(client, "crew1", Role.CREW, unit_id=4)
    at = (T0 + timedelta(minutes=7)).isoformat()
    res = client.post("/api/v1/incidents/1/timeline", headers=crew,
                      json={"kind": "at_patient", "at": at, "unit_id": 4, "source": "crew_app"})
    assert res.status_code == 201
    tl = client.get("/api/v1/incidents/1/timeline", headers=crew).json()
    assert [e["kind"] for e in tl["effective"]] == ["psap_call", "at_patient"]
    node = tl["effective"][1]
    assert node["actor"] == "user:crew1" and node["nemsis"] == "eTimes.07" and node["source"] == "crew_app"


def test_correction_supersedes_and_keeps_the_original(client: TestClient) -> None:
    """A correction moves a time with a reason; the original stays recorded, the effective view uses the new time."""
    disp = signed_in(client, "disp1", Role.DISPATCHER)
    node = client.post("/api/v1/incidents/1/timeline", headers=disp, json={
        "kind": "first_instructed_compression", "at": (T0 + timedelta(seconds=95)).isoformat()}).json()
    fix = client.post("/api/v1/incidents/1/timeline/corrections", headers=disp, json={
        "supersedes": node["id"], "at": (T0 + timedelta(seconds=80)).isoformat(), "reason": "clock of console 2"})
    assert fix.status_code == 201
    tl = client.get("/api/v1/incidents/1/timeline", headers=disp).json()
    assert len(tl["recorded"]) == 3
    eff = {e["kind"]: e for e in tl["effective"]}
    assert datetime.fromisoformat(eff["first_instructed_compression"]["at"]) == T0 + timedelta(seconds=80)
    assert eff["first_instructed_compression"]["reason"] == "clock of console 2"
    second = client.post("/api/v1/incidents/1/timeline/corrections", headers=disp, json={
        "supersedes": node["id"], "at": (T0 + timedelta(seconds=85)).isoformat(), "reason": "audio log checked"})
    assert second.status_code == 201
    eff = [e for e in client.get("/api/v1/incidents/1/timeline", headers=disp).json()["effective"]
           if e["kind"] == "first_instructed_compression"]
    assert [datetime.fromisoformat(e["at"]) for e in eff] == [T0 + timedelta(seconds=85)]


def test_bad_corrections_and_system_kinds_are_refused(client: TestClient) -> None:
    """No reason -> 422; an event of another incident -> 404; a system-only kind by hand -> 422."""
    disp = signed_in(client, "disp1", Role.DISPATCHER)
    no_reason = client.post("/api/v1/incidents/1/timeline/corrections", headers=disp,
                            json={"supersedes": 1, "at": T0.isoformat()})
    assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["field"] == "body.reason"
    other = client.post("/api/v1/incidents/2/timeline/corrections", headers=disp,
                        json={"supersedes": 1, "at": T0.isoformat(), "reason": "typo fix"})
    assert other.status_code == 404
    closing = client.post("/api/v1/incidents/1/timeline", headers=disp, json={"kind": "incident_closed"})
    assert closing.status_code == 422 and "system" in closing.json()["detail"]
    naive = client.post("/api/v1/incidents/1/timeline", headers=disp,
                        json={"kind": "at_patient", "at": "2026-03-01T09:05:00"})
    assert naive.status_code == 422


def test_roles_on_timeline_routes(client: TestClient) -> None:
    """A volunteer may neither read nor write an incident's timeline; nobody signed in gets 401."""
    vol = signed_in(client, "vol1", Role.VOLUNTEER, volunteer_id=9)
    analyst = signed_in(client, "ana", Role.ANALYST)
    assert client.get("/api/v1/incidents/1/timeline", headers=vol).status_code == 403
    assert client.get("/api/v1/incidents/1/timeline").status_code == 401
    assert client.get("/api/v1/incidents/1/timeline", headers=analyst).status_code == 200
    assert client.post("/api/v1/incidents/1/timeline", headers=analyst, json={"kind": "note"}).status_code == 403
    assert client.post("/api/v1/incidents/1/timeline/corrections", headers=vol,
                       json={"supersedes": 1, "at": T0.isoformat(), "reason": "xyz"}).status_code == 403
    assert client.get("/api/v1/incidents/99/timeline", headers=analyst).status_code == 404


def test_repository_is_append_only(settings: Settings) -> None:
    """Appending returns ids in order; reading back gives the same events, aware times included."""
    app = create_app(settings, clock=ManualClock(T0))
    with transaction(app.state.sessionmaker) as s:
        a = repo.append(session=s, event=TimelineEvent(EventKind.PSAP_CALL, T0, incident_id=5), recorded_at=T0)
        b = repo.append(session=s, event=TimelineEvent(EventKind.UNIT_NOTIFIED, T0 + timedelta(seconds=50),
                                                       incident_id=5, unit_id=2, source=Source.CONSOLE,
                                                       actor="user:d"), recorded_at=T0)
    with transaction(app.state.sessionmaker) as s:
        got = repo.list_for_incident(session=s, incident_id=5)
    assert [e.id for e in got] == [a.id, b.id] and a.id is not None and b.id is not None and a.id < b.id
    assert got[1].at == T0 + timedelta(seconds=50) and got[1].unit_id == 2 and got[1].actor == "user:d"
    app.state.engine.dispose()
