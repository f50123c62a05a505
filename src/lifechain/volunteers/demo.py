"""Demo first responders for a city: a few hundred volunteers (more around schools), school clinics, AEDs, and
volunteer demo users. Demo mode only; idempotent (a second load adds nothing)."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lifechain.auth import flows as auth_flows
from lifechain.auth import repo as auth_repo
from lifechain.auth.core import Role
from lifechain.geo.core import M_PER_DEG, LatLon
from lifechain.volunteers import flows, repo
from lifechain.volunteers.tables import Volunteer

DEMO_PASSWORD = "lifechain-demo"  # the same password as dispatch's demo users
TIMEZONES = {"helsinki": "Europe/Helsinki", "auckland": "Pacific/Auckland", "edmonton": "America/Edmonton",
             "manhattan": "America/New_York", "sf": "America/Los_Angeles"}
SCHOOL_KINDS = ("school", "college", "university")
FIRST_NAMES = ("Aino", "Eero", "Li Wei", "Mei", "Juha", "Sanna", "Zhang Min", "Oskari", "Leena", "Chen Jing",
               "Mikko", "Helmi", "Wang Fang", "Ville", "Kaisa", "Liu Yang")
# Where demo AEDs hang, by kind of place, with their hours and an indoor description.
AED_SITES = {"school": ("Mo-Fr 07:30-17:00", "Main entrance hall, by the janitor's office"),
             "college": ("Mo-Fr 07:30-20:00", "Lobby, ground floor"),
             "university": ("Mo-Fr 07:00-21:00", "Main lobby, next to the information desk"),
             "railway": ("24/7", "Station hall, by the ticket machines"),
             "pharmacy": ("Mo-Sa 08:00-21:00", "Behind the counter: ask the pharmacist"),
             "library": ("Mo-Fr 09:00-20:00; Sa 10:00-16:00", "Entrance, left wall"),
             "townhall": ("Mo-Fr 08:00-16:00", "Reception desk")}


@dataclass
class DemoLoaded:
    """What a demo load created (zero everywhere when run again)."""

    volunteers: int = 0
    facilities: int = 0
    aeds: int = 0
    users: int = 0


def osm_schools(path: Path) -> list[dict[str, Any]]:
    """Schools, colleges and universities of an OSM file (nodes, and ways at their first node), named."""
    import osmium

    found: list[dict[str, Any]] = []
    fp = osmium.FileProcessor(str(path)).with_locations().with_filter(osmium.filter.KeyFilter("amenity"))
    for obj in fp:
        kind = obj.tags.get("amenity")
        if kind not in SCHOOL_KINDS:
            continue
        where = obj.location if hasattr(obj, "location") else _first_located(getattr(obj, "nodes", ()))
        if where is None or not where.valid():
            continue  # a clipped extract: the way's nodes lie outside it
        lat, lon = where.lat, where.lon
        found.append({"name": obj.tags.get("name", kind.title()), "kind": kind, "lat": lat, "lon": lon})
    return found


def _first_located(nodes: Any) -> Any:
    for node in nodes:
        if node.location.valid():
            return node.location
    return None


def load(*, session: Session, city: str, places: dict[str, Any], now: datetime, count: int = 300,
         pbf: Path | None = None, timezone: str | None = None, seed: int = 120) -> DemoLoaded:
    """Create demo volunteers, school clinics, AEDs and volunteer users for `city` unless it already has some."""
    out = DemoLoaded()
    existing = session.scalar(select(func.count()).select_from(Volunteer).where(Volunteer.city == city)) or 0
    if existing:
        return out
    rng = random.Random(seed)
    tz = timezone or TIMEZONES.get(city, "UTC")
    schools = _schools(places, pbf)
    spots = [p for p in places.get("points", []) + places.get("streets", []) if "lat" in p]
    if not spots and not schools:
        raise ValueError(f"the city {city!r} has no named places or schools to put demo volunteers at")
    out.facilities = _clinics(session, city, schools, tz)
    out.aeds = _aeds(session, city, places, schools, tz, rng)
    out.volunteers = _volunteers(session, city, schools, spots, now, rng, count)
    out.users = _users(session, now)
    return out


def _schools(places: dict[str, Any], pbf: Path | None) -> list[dict[str, Any]]:
    found = [p for p in places.get("points", []) if p.get("kind") in SCHOOL_KINDS]
    if pbf is not None and pbf.is_file():
        seen = {(round(p["lat"], 4), round(p["lon"], 4)) for p in found}
        found += [s for s in osm_schools(pbf) if (round(s["lat"], 4), round(s["lon"], 4)) not in seen]
    return found


def _clinics(session: Session, city: str, schools: list[dict[str, Any]], tz: str) -> int:
    for i, school in enumerate(schools[:12]):
        flows.facilities_add(session=session, city=city, name=f"{school['name']} clinic", kind="school_clinic",
                             location=LatLon(school["lat"], school["lon"]), opening_hours="Mo-Fr 08:00-16:00",
                             timezone=tz, staff_on_duty=1, has_aed=i % 2 == 0)
    return min(len(schools), 12)


def _aeds(session: Session, city: str, places: dict[str, Any], schools: list[dict[str, Any]], tz: str,
          rng: random.Random) -> int:
    made = 0
    for aed in places.get("aeds", []):  # real ones from OSM first
        flows.upsert_aed(session=session, city=city, values={
            "lat": aed["lat"], "lon": aed["lon"], "indoor": (aed.get("tags") or {}).get("defibrillator:location", ""),
            "opening_hours": flows._osm_hours((aed.get("tags") or {}).get("opening_hours")), "timezone": tz,
            "source": "osm", "external_ref": f"node/{aed['osm_id']}"})
        made += 1
    sites = schools + [p for p in places.get("points", []) if p.get("kind") in AED_SITES and p not in schools]
    for i, site in enumerate(sites[:60]):
        hours, indoor = AED_SITES.get(site.get("kind", ""), ("24/7", "Entrance"))
        status = "needs_service" if rng.random() < 0.05 else "ready"
        flows.upsert_aed(session=session, city=city, values={
            "lat": site["lat"], "lon": site["lon"], "indoor": f"{site.get('name', '')}: {indoor}",
            "opening_hours": hours, "timezone": tz, "status": status, "last_check": date(2026, 1, 1 + i % 28),
            "source": "demo", "external_ref": f"demo-{i}"})
        made += 1
    return made


def _volunteers(session: Session, city: str, schools: list[dict[str, Any]], spots: list[dict[str, Any]],
                now: datetime, rng: random.Random, count: int) -> int:
    for i in range(count):
        near_school = schools and (i % 5 < 3 or not spots)  # three in five around a school
        site = rng.choice(schools) if near_school else rng.choice(spots)
        jitter = 150.0 if near_school else 250.0
        lat = site["lat"] + rng.gauss(0, jitter) / M_PER_DEG
        lon = site["lon"] + rng.gauss(0, jitter) / (M_PER_DEG * math.cos(math.radians(site["lat"])))
        row = flows.register_volunteer(
            session=session, now=now, city=city, name=f"{rng.choice(FIRST_NAMES)} {i + 1}",
            affiliation=f"{site['name']}" if near_school else None, channels=("app", "sms"),
            phone=f"+000 {i:06d}", qualifications=_certificates(rng, now.date()))
        if i < 5 or rng.random() < 0.7:  # the demo users' volunteers are always on duty
            row.on_duty, row.lat, row.lon, row.position_at, row.last_heartbeat = True, lat, lon, now, now
    session.flush()
    return count


def _certificates(rng: random.Random, today: date) -> list[flows.QualificationIn]:
    kind = rng.choices(["cpr", "aed", "first_aid", "healthcare_professional"], weights=[5, 3, 2, 1])[0]
    issued = today - timedelta(days=rng.randint(30, 900))
    expires = issued + timedelta(days=730) if rng.random() > 0.05 else today - timedelta(days=10)
    return [flows.QualificationIn(kind, issued, max(expires, issued))]


def _users(session: Session, now: datetime) -> int:
    """Demo users `volunteer` (bound to volunteer 1, as dispatch's demo has it) and `volunteer2`..`volunteer5`."""
    made = 0
    first = session.scalars(select(Volunteer.id).order_by(Volunteer.id).limit(5)).all()
    for n, vid in enumerate(first, start=1):
        username = "volunteer" if n == 1 else f"volunteer{n}"
        if auth_repo.by_username(session=session, username=username) is None:
            name = repo.get_volunteer(session=session, volunteer_id=vid).name
            auth_flows.create_user(session=session, now=now, username=username, display_name=f"Demo Volunteer {name}",
                                   password=DEMO_PASSWORD, roles=[Role.VOLUNTEER], volunteer_id=vid)
            made += 1
    return made
