"""The whole call on the real Helsinki road network (no fake router): recommendation by road ETA through the API."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from auth_helpers import add_user, bearer
from lifechain.app import create_app
from lifechain.auth.core import Role
from lifechain.db import transaction
from lifechain.dispatch import demo
from lifechain.geo.repo import CityStore
from lifechain.settings import Settings


def _demo_helsinki(settings: Settings, cities_dir: Path) -> tuple[FastAPI, TestClient]:
    """An app on the real Helsinki roads with the demo fleet and hospitals, and a dispatcher "d"."""
    app = create_app(settings)
    app.state.cities = CityStore(cities_dir)
    with transaction(app.state.sessionmaker) as s:
        demo.load(session=s, city="helsinki", places=app.state.cities.places("helsinki"), now=app.state.clock.now())
    add_user(app, "d", Role.DISPATCHER)
    return app, TestClient(app)


def test_helsinki_call_recommended_by_road_and_followed_to_hospital(settings: Settings,
                                                                    helsinki_cities_dir: Path) -> None:
    """On real roads: the nearest eligible ALS by ETA is recommended, sent, and followed to the PCI centre."""
    _app, client = _demo_helsinki(settings, helsinki_cities_dir)
    h = bearer(client, "d")
    inc = client.post("/api/v1/incidents", headers=h, json={
        "city": "helsinki", "location": {"lat": 60.1699, "lon": 24.9384}, "complaint": "chest_pain",
        "answers": {"pain_now": "yes", "sweating_or_breathless": "yes"}}).json()
    rec = client.get(f"/api/v1/incidents/{inc['id']}/recommendation", headers=h).json()
    eligible = [c for c in rec["units"] if c["eligible"]]
    assert eligible and all(c["unit_type"] == "ALS" for c in eligible)
    etas = [c["eta_s"] for c in eligible]
    assert etas == sorted(etas) and 0 < etas[0] < 600
    assert rec["hospital"]["name"].startswith("Demo Heart and Stroke Centre")
    unit = rec["best_unit_id"]
    assert client.post(f"/api/v1/incidents/{inc['id']}/dispatch", headers=h, json={"unit_id": unit}).status_code == 200
    for status in ("en_route", "on_scene", "transporting", "at_hospital", "available_returning"):
        body = {"status": status, **({"hospital_id": rec["hospital"]["hospital_id"]} if status == "transporting"
                                     else {})}
        assert client.post(f"/api/v1/units/{unit}/status", headers=h, json=body).status_code == 200
    assert client.post(f"/api/v1/incidents/{inc['id']}/close", headers=h).json()["status"] == "closed"


def test_a_hospital_in_the_sea_leaves_the_recommendations_of_its_city_working(settings: Settings,
                                                                              helsinki_cities_dir: Path) -> None:
    """A hospital placed 7 km out at sea (a typo in its position) made every recommendation of Helsinki a 422
    ("destinations[i] ... is more than 1000 m from the drive network"): no unit could be recommended either. It
    is now a candidate without an ETA, and the units and the reachable hospitals are ranked as before."""
    app, client = _demo_helsinki(settings, helsinki_cities_dir)
    add_user(app, "a", Role.ADMIN)
    h = bearer(client, "d")
    sea = client.post("/api/v1/hospitals", headers=bearer(client, "a"), json={
        "city": "helsinki", "name": "Sea", "location": {"lat": 60.10, "lon": 24.94}, "capabilities": ["ed"]})
    assert sea.status_code == 201, sea.text
    inc = client.post("/api/v1/incidents", headers=h, json={
        "city": "helsinki", "location": {"lat": 60.1699, "lon": 24.9384}, "complaint": "chest_pain",
        "answers": {"pain_now": "yes", "sweating_or_breathless": "yes"}}).json()
    rec = client.get(f"/api/v1/incidents/{inc['id']}/recommendation", headers=h)
    assert rec.status_code == 200, rec.text
    assert rec.json()["best_unit_id"] is not None
    assert rec.json()["hospital"]["name"].startswith("Demo Heart and Stroke Centre")
    [at_sea] = [c for c in rec.json()["hospital"]["candidates"] if c["hospital_id"] == sea.json()["id"]]
    assert at_sea["eta_s"] is None
