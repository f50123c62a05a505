"""A small dispatch world for API tests: users of every role, two stations, three units, two hospitals."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

from auth_helpers import add_user, bearer
from lifechain.app import create_app
from lifechain.auth.core import Role
from lifechain.clock import ManualClock
from lifechain.settings import Settings

from .fakes import FakeCities

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
CITY = "testville"
SCENE = {"lat": 60.1700, "lon": 24.9400}


def north(km: float) -> dict[str, float]:
    """A point `km` kilometres north of the scene (1 km = 100 s at emergency speed in the fake router)."""
    return {"lat": SCENE["lat"] + km / 111.195, "lon": SCENE["lon"]}


def at_once(*calls: Callable[[], Any]) -> list[Any]:
    """Run each call in its own thread, all released together by one barrier; their results in order (an exception
    raised in a thread is raised here, so it fails the test)."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(k: int) -> None:
        barrier.wait()
        try:
            results[k] = calls[k]()
        except BaseException as exc:  # handed to the test's thread below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


@dataclass
class World:
    """The client, its clock, headers per role, and the ids of what was created."""

    client: TestClient
    clock: ManualClock
    h: dict[str, dict[str, str]] = field(default_factory=dict)
    units: dict[str, int] = field(default_factory=dict)
    hospitals: dict[str, int] = field(default_factory=dict)
    stations: dict[str, int] = field(default_factory=dict)

    def post(self, path: str, role: str = "disp", **kw: object) -> object:
        return self.client.post(f"/api/v1{path}", headers=self.h[role], **kw)  # type: ignore[arg-type]

    def get(self, path: str, role: str = "disp", **kw: object) -> object:
        return self.client.get(f"/api/v1{path}", headers=self.h[role], **kw)  # type: ignore[arg-type]


def build_world(settings: Settings) -> World:
    """Create the app with a fake router, the users, stations, units and hospitals (through the admin API)."""
    clock = ManualClock(T0)
    app = create_app(settings, clock=clock)
    app.state.cities = FakeCities()
    w = World(TestClient(app), clock)
    add_user(app, "admin", Role.ADMIN)
    w.h["admin"] = bearer(w.client, "admin")
    for name, km in (("North", 2.0), ("Far", 9.0)):
        res = w.client.post("/api/v1/stations", headers=w.h["admin"],
                            json={"city": CITY, "name": name, "location": north(km)})
        assert res.status_code == 201, res.text
        w.stations[name] = res.json()["id"]
    for sign, typ, station in (("A1", "ALS", "North"), ("A2", "ALS", "Far"), ("B1", "BLS", "North")):
        res = w.client.post("/api/v1/units", headers=w.h["admin"],
                            json={"call_sign": sign, "type": typ, "station_id": w.stations[station]})
        assert res.status_code == 201, res.text
        w.units[sign] = res.json()["id"]
    for name, km, caps in (("City ED", 1.0, ["ed"]), ("Heart Centre", 6.0, ["ed", "pci_24_7", "icu"])):
        res = w.client.post("/api/v1/hospitals", headers=w.h["admin"],
                            json={"city": CITY, "name": name, "location": north(-km), "capabilities": caps})
        assert res.status_code == 201, res.text
        w.hospitals[name] = res.json()["id"]
    users = {"disp": (Role.DISPATCHER, {}), "disp2": (Role.DISPATCHER, {}),
             "crew": (Role.CREW, {"unit_id": w.units["A1"]}), "crew2": (Role.CREW, {"unit_id": w.units["A2"]}),
             "nurse": (Role.HOSPITAL_STAFF, {"hospital_id": w.hospitals["Heart Centre"]}),
             "vol": (Role.VOLUNTEER, {"volunteer_id": 1}), "analyst": (Role.ANALYST, {}),
             "trainer": (Role.TRAINER, {})}
    for name, (role, bindings) in users.items():
        add_user(app, name, role, **bindings)
        w.h[name] = bearer(w.client, name)
    w.h["nobody"] = {}
    return w


def new_call(w: World, complaint: str | None = "chest_pain", answers: dict[str, object] | None = None,
             km: float = 0.0, key: str | None = None) -> dict[str, object]:
    """Take a call at `km` north of the scene and return the incident."""
    body: dict[str, object] = {"city": CITY, "location": north(km), "address": "Mannerheimintie 1",
                               "caller_number": "+358 40 123 4567"}
    if complaint is not None:
        body["complaint"] = complaint
        body["answers"] = answers if answers is not None else {"pain_now": "yes", "sweating_or_breathless": "yes"}
    headers = {**w.h["disp"], **({"Idempotency-Key": key} if key else {})}
    res = w.client.post("/api/v1/incidents", headers=headers, json=body)
    assert res.status_code in (200, 201), res.text
    out: dict[str, object] = res.json()
    return out
