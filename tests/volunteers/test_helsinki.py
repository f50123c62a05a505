"""Alerting on the real Helsinki walking network (no fake router)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from auth_helpers import signed_in
from lifechain.app import create_app
from lifechain.auth.core import Role
from lifechain.db import transaction
from lifechain.geo.repo import CityStore
from lifechain.settings import Settings
from lifechain.volunteers import flows

PATIENT = {"lat": 60.1699, "lon": 24.9384}
CERT = [{"kind": "cpr", "issued": "2025-01-01", "expires": "2099-12-31"}]


def test_an_aed_off_the_walking_network_is_never_fetched_and_fails_no_alert(settings: Settings,
                                                                           helsinki_cities_dir: Path) -> None:
    """An AED registered 2 km out at sea (a typo in its position) was asked about strictly whenever it lay within
    walking reach of an arrest, so the router refused the whole alert ("destinations[0] ... is more than 1000 m
    from the walk network"): nobody was alerted. It is now never fetched, and the volunteer nearby is alerted."""
    app = create_app(settings)
    app.state.cities = CityStore(helsinki_cities_dir)
    with TestClient(app) as client:
        admin, dispatcher = signed_in(client, "admin", Role.ADMIN), signed_in(client, "disp", Role.DISPATCHER)
        # The API refuses such an AED now (test_api); one registered before, or left off the paths when the city
        # was imported again from a smaller extract, is still in the table.
        with transaction(app.state.sessionmaker) as s:
            flows.upsert_aed(session=s, city="helsinki", values={"lat": 60.153, "lon": 24.956})
        res = client.post("/api/v1/volunteers", headers=admin,
                          json={"city": "helsinki", "name": "anna", "qualifications": CERT})
        anna = res.json()["id"]
        anna_h = signed_in(client, "anna", Role.VOLUNTEER, volunteer_id=anna)
        assert client.put("/api/v1/volunteers/me/duty", headers=anna_h, json={"on_duty": True}).status_code == 200
        near = {"lat": PATIENT["lat"] + 0.001, "lon": PATIENT["lon"]}
        assert client.put("/api/v1/volunteers/me/location", headers=anna_h, json=near).status_code == 200
        inc = client.post("/api/v1/incidents", headers=dispatcher, json={
            "city": "helsinki", "location": PATIENT, "complaint": "falls", "answers": {"fall_height_m": 1}})
        assert inc.status_code == 201, inc.text
        res = client.post(f"/api/v1/incidents/{inc.json()['id']}/responders", headers=dispatcher,
                          json={"city": "helsinki", **PATIENT, "nature": "cardiac_arrest", "ambulance_eta_s": 3600})
        assert res.status_code == 201, res.text
        [alerted] = res.json()["responders"]
        assert alerted["responder_id"] == anna and alerted["aed_id"] is None
