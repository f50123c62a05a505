"""Demo responders for Helsinki: volunteers clustered at schools, clinics, AEDs, users, and an arrest that alerts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyrosm
from fastapi.testclient import TestClient

from lifechain.app import create_app
from lifechain.clock import ManualClock
from lifechain.db import transaction
from lifechain.geo.repo import CityStore
from lifechain.settings import Settings
from lifechain.volunteers import flows, repo

NOW = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)  # a Wednesday, 12:00 in Helsinki: schools open


def test_demo_load_for_helsinki(settings: Settings, helsinki_cities_dir: Path, helsinki_router: object) -> None:
    """Hundreds of volunteers (most near schools), school clinics and AEDs; idempotent; a demo user is alerted."""
    places = CityStore(helsinki_cities_dir).places("helsinki")
    app = create_app(settings, clock=ManualClock(NOW))
    app.state.volunteer_router_for = lambda city: helsinki_router
    pbf = Path(pyrosm.get_data("helsinki_pbf"))
    with transaction(app.state.sessionmaker) as s:
        loaded = flows.load_demo(session=s, city="helsinki", places=places, now=NOW, data_dir=settings.data_dir,
                                 pbf=pbf, count=200)
        again = flows.load_demo(session=s, city="helsinki", places=places, now=NOW, pbf=pbf, count=200)
        people = repo.list_volunteers(session=s, city="helsinki")
    assert loaded.volunteers == 200 and loaded.facilities >= 5 and loaded.aeds >= 10 and loaded.users == 5
    assert again.volunteers == 0 and again.users == 0
    assert sum(p.affiliation is not None for p in people) >= 100  # three in five belong to a school
    assert people[0].id == 1 and people[0].on_duty  # dispatch's demo user `volunteer` is bound to volunteer 1
    with TestClient(app) as client:
        token = client.post("/api/v1/auth/token", data={"username": "volunteer", "password": "lifechain-demo"})
        assert token.status_code == 200
        disp = {"Authorization": f"Bearer {_admin_token(client)}"}
        call = client.post("/api/v1/incidents", headers=disp, json={
            "city": "helsinki", "location": {"lat": 60.1699, "lon": 24.9384}, "complaint": "falls",
            "answers": {"fall_height_m": 1}})
        assert call.status_code == 201, call.text
        plan = client.post(f"/api/v1/incidents/{call.json()['id']}/responders", headers=disp,
                           json={"city": "helsinki", "lat": 60.1699, "lon": 24.9384, "ambulance_eta_s": 480})
        assert plan.status_code == 201, plan.text
        roles = {r["role"] for r in plan.json()["responders"]}
        assert len(plan.json()["responders"]) >= 5 and roles == {"cpr", "aed"}


def _admin_token(client: TestClient) -> str:
    from auth_helpers import add_user, bearer
    from lifechain.auth.core import Role

    add_user(client.app, "demo-dispatcher", Role.DISPATCHER)  # type: ignore[arg-type]
    return bearer(client, "demo-dispatcher")["Authorization"].split()[1]
