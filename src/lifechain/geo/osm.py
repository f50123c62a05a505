"""Read an OpenStreetMap extract (.osm.pbf or .osm XML) into driving and walking networks plus named places.

Parsed with pyosmium's `FileProcessor` (see docs/decisions/geo-osm-parsing.md). Rules:
- driving: the road classes in `DRIVE_KMH`; `oneway=yes/1/true/-1`, roundabouts and motorways are one-way unless
  `oneway=no`; `access=no/private` without a motor-vehicle or emergency permission is left out; the speed is
  `maxspeed` where tagged (km/h, mph, `xx:urban`/`xx:rural`/`walk`) or the class default, times the profile factor;
- walking: footways, paths, steps, pedestrian ways and areas, tracks, cycleways and every road below trunk, both
  directions, at the walking speed (steps at half speed); `foot=no` or `access=no` without `foot=yes` excluded;
- places: named streets (one point per name: the middle of its longest way), named nodes (amenities, shops,
  places), hospitals, and AEDs (`emergency=defibrillator` with their `indoor`, `level`, `opening_hours`,
  `defibrillator:location`, `access` and `operator` tags).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lifechain.errors import Invalid
from lifechain.geo.core import haversine_many
from lifechain.geo.network import ROAD_CLASSES, WALK_KEY, Network, make_network

DRIVE_KMH = {
    "motorway": 100.0, "trunk": 80.0, "primary": 60.0, "secondary": 50.0, "tertiary": 40.0,
    "unclassified": 30.0, "residential": 30.0, "living_street": 10.0, "service": 15.0, "road": 30.0,
    "motorway_link": 60.0, "trunk_link": 50.0, "primary_link": 40.0, "secondary_link": 35.0, "tertiary_link": 30.0,
}
WALK_CLASSES = {
    "footway", "path", "pedestrian", "steps", "track", "cycleway", "bridleway", "living_street", "residential",
    "service", "unclassified", "tertiary", "tertiary_link", "secondary", "secondary_link", "primary",
    "primary_link", "road", "corridor",
}
MAXSPEED_ZONES = {"urban": 50.0, "rural": 80.0, "motorway": 120.0, "living_street": 20.0, "walk": 7.0}
AED_TAGS = ("indoor", "level", "opening_hours", "defibrillator:location", "access", "operator", "description",
            "phone")


@dataclass(frozen=True)
class DriveSpeeds:
    """How fast each driving profile goes relative to the road's speed (limit or class default)."""

    emergency_factor: float = 1.2
    regular_factor: float = 0.85
    min_kmh: float = 5.0


@dataclass
class OsmCity:
    """What an OSM extract yields: the two networks (before pruning) and named places."""

    drive: Network
    walk: Network
    places: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def parse_maxspeed(value: str | None) -> float | None:
    """A `maxspeed` tag in km/h, or None when absent or unreadable."""
    if not value:
        return None
    v = value.strip().lower()
    if v == "none":
        return 130.0
    if v in MAXSPEED_ZONES:
        return MAXSPEED_ZONES[v]
    if ":" in v:
        return MAXSPEED_ZONES.get(v.split(":", 1)[1])
    m = re.match(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(mph|km/h|kmh|kph)?", v)
    if not m:
        return None
    speed = float(m.group(1))
    return speed * 1.609344 if m.group(2) == "mph" else speed


def drive_direction(tags: dict[str, str]) -> int:
    """+1 forward only, -1 backward only, 0 both ways."""
    oneway = tags.get("oneway", "").lower()
    if oneway in ("yes", "true", "1"):
        return 1
    if oneway in ("-1", "reverse"):
        return -1
    if oneway == "no":
        return 0
    if tags.get("junction") in ("roundabout", "circular") or tags.get("highway") in ("motorway", "motorway_link"):
        return 1
    return 0


def drivable(tags: dict[str, str]) -> bool:
    """Whether a way is open to motor vehicles (emergency vehicles use the same roads)."""
    if tags.get("highway") not in DRIVE_KMH or tags.get("area") == "yes":
        return False
    if tags.get("emergency") in ("yes", "designated", "permissive"):
        return True
    closed = ("no", "private")
    for key in ("motor_vehicle", "motorcar", "vehicle"):
        if key in tags:
            return tags[key] not in closed
    return tags.get("access", "yes") not in closed


def walkable(tags: dict[str, str]) -> bool:
    """Whether a way is open on foot."""
    if tags.get("highway") not in WALK_CLASSES:
        return False
    if "foot" in tags:
        return tags["foot"] not in ("no", "private")
    return tags.get("access", "yes") not in ("no", "private")


class _Builder:
    """Accumulates arcs and node positions while the file streams by."""

    def __init__(self) -> None:
        self.ids: dict[int, int] = {}
        self.lat: list[float] = []
        self.lon: list[float] = []
        self.tail: list[int] = []
        self.head: list[int] = []
        self.kmh: list[float] = []
        self.cls: list[int] = []

    def node(self, ref: int, lat: float, lon: float) -> int:
        i = self.ids.get(ref)
        if i is None:
            i = self.ids[ref] = len(self.lat)
            self.lat.append(lat)
            self.lon.append(lon)
        return i

    def way(self, nodes: list[tuple[int, float, float]], direction: int, kmh: float, cls: int) -> None:
        idx = [self.node(*n) for n in nodes]
        for a, b in itertools.pairwise(idx):
            if a == b:
                continue
            if direction >= 0:
                self._arc(a, b, kmh, cls)
            if direction <= 0:
                self._arc(b, a, kmh, cls)

    def _arc(self, a: int, b: int, kmh: float, cls: int) -> None:
        self.tail.append(a)
        self.head.append(b)
        self.kmh.append(kmh)
        self.cls.append(cls)

    def arrays(self) -> tuple[Any, Any, Any, Any, Any, Any, Any]:
        lat, lon = np.array(self.lat), np.array(self.lon)
        tail, head = np.array(self.tail, np.int64), np.array(self.head, np.int64)
        length = haversine_many(lat[tail], lon[tail], lat[head], lon[head]) if tail.size else np.zeros(0)
        return lat, lon, tail, head, length, np.array(self.kmh), np.array(self.cls, np.uint8)


def _class_code(highway: str) -> int:
    base = highway.removesuffix("_link")
    if base == "road":
        base = "unclassified"
    if base in ("bridleway", "corridor"):
        base = "path"
    return ROAD_CLASSES.index(base) if base in ROAD_CLASSES else ROAD_CLASSES.index("other")


def _way_nodes(way: Any) -> list[list[tuple[int, float, float]]]:
    """The way's node positions, split where the extract clipped a node away."""
    runs: list[list[tuple[int, float, float]]] = [[]]
    for n in way.nodes:
        if n.location.valid():
            runs[-1].append((n.ref, n.location.lat, n.location.lon))
        elif runs[-1]:
            runs.append([])
    return [r for r in runs if len(r) >= 2]


class _Places:
    """Collects named streets, named points, hospitals and AEDs."""

    def __init__(self) -> None:
        self.streets: dict[str, tuple[float, float, float]] = {}
        self.points: list[dict[str, Any]] = []
        self.hospitals: list[dict[str, Any]] = []
        self.aeds: list[dict[str, Any]] = []

    def street(self, name: str, runs: list[list[tuple[int, float, float]]]) -> None:
        for run in runs:
            lat = np.array([p[1] for p in run])
            lon = np.array([p[2] for p in run])
            length = float(haversine_many(lat[:-1], lon[:-1], lat[1:], lon[1:]).sum())
            mid = run[len(run) // 2]
            if name not in self.streets or self.streets[name][2] < length:
                self.streets[name] = (mid[1], mid[2], length)

    def node(self, obj: Any) -> None:
        self.feature(obj.id, {t.k: t.v for t in obj.tags}, obj.location.lat, obj.location.lon)

    def area(self, obj: Any, tags: dict[str, str]) -> None:
        """A tagged closed way (a hospital, a named building): placed at the mean of its nodes."""
        pts = [(n.location.lat, n.location.lon) for n in obj.nodes if n.location.valid()]
        if pts:
            self.feature(obj.id, tags, sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts))

    def feature(self, osm_id: int, tags: dict[str, str], lat: float, lon: float) -> None:
        """Record whatever this tagged object is: an AED, a hospital, a named place."""
        if tags.get("emergency") == "defibrillator":
            info = {k: tags[k] for k in AED_TAGS if k in tags}
            self.aeds.append({"osm_id": osm_id, "lat": lat, "lon": lon, "name": tags.get("name"), "tags": info})
        if tags.get("amenity") == "hospital" or tags.get("healthcare") == "hospital":
            self.hospitals.append({"osm_id": osm_id, "lat": lat, "lon": lon, "name": tags.get("name", "hospital")})
        if "name" in tags and any(k in tags for k in ("amenity", "shop", "place", "tourism", "railway", "office")):
            kind = next(tags[k] for k in ("amenity", "shop", "place", "tourism", "railway", "office") if k in tags)
            self.points.append({"name": tags["name"], "kind": kind, "lat": lat, "lon": lon})

    def result(self) -> dict[str, list[dict[str, Any]]]:
        streets = [{"name": n, "kind": "street", "lat": la, "lon": lo}
                   for n, (la, lo, _) in sorted(self.streets.items())]
        return {"streets": streets, "points": self.points, "hospitals": self.hospitals, "aeds": self.aeds,
                "stations": []}


def osm_objects(path: Path, *, locations: bool = False, key: str | None = None) -> Iterator[Any]:
    """The objects of an OSM file (.osm.pbf or .osm), read by osmium, with node locations on ways when `locations`,
    only those tagged `key` when given. A missing or unreadable file raises `Invalid` naming it and osmium's reason."""
    import osmium

    try:
        reader = osmium.FileProcessor(str(path))
        if locations:
            reader = reader.with_locations()
        if key is not None:
            reader = reader.with_filter(osmium.filter.KeyFilter(key))
        yield from reader
    except RuntimeError as exc:  # osmium's errors for a missing, truncated or non-OSM file
        raise Invalid(f"cannot read the OSM file {path}: {exc}") from exc


def read_osm(path: Path, *, walk_speed_mps: float = 1.8, speeds: DriveSpeeds | None = None) -> OsmCity:
    """Parse an OSM file into raw driving and walking networks and its named places."""
    speeds = speeds or DriveSpeeds()
    drive, walk, places = _Builder(), _Builder(), _Places()
    obj: Any
    for obj in osm_objects(path, locations=True):
        if obj.is_node():
            if len(obj.tags):
                places.node(obj)
            continue
        if not obj.is_way():
            continue
        if "highway" not in obj.tags:
            if "name" in obj.tags or "emergency" in obj.tags or "amenity" in obj.tags:
                places.area(obj, {t.k: t.v for t in obj.tags})
            continue
        tags = {t.k: t.v for t in obj.tags}
        runs = _way_nodes(obj)
        hw = tags["highway"]
        if "name" in tags and hw in DRIVE_KMH | dict.fromkeys(WALK_CLASSES, 0.0):
            places.street(tags["name"], runs)
        if drivable(tags):
            kmh = parse_maxspeed(tags.get("maxspeed")) or DRIVE_KMH[hw]
            for run in runs:
                drive.way(run, drive_direction(tags), kmh, _class_code(hw))
        if walkable(tags):
            factor = 0.5 if hw == "steps" else 1.0
            for run in runs:
                walk.way(run, 0, walk_speed_mps * factor * 3.6, _class_code(hw))
    return OsmCity(_drive_network(drive, speeds), _walk_network(walk), places.result())


def _drive_network(b: _Builder, speeds: DriveSpeeds) -> Network:
    lat, lon, tail, head, length, kmh, cls = b.arrays()
    mps = np.maximum(kmh, speeds.min_kmh) / 3.6
    secs = {"emergency": length / (mps * speeds.emergency_factor), "regular": length / (mps * speeds.regular_factor)}
    return make_network(lat, lon, tail, head, secs, length_m=length, road_class=cls)


def _walk_network(b: _Builder) -> Network:
    lat, lon, tail, head, length, kmh, cls = b.arrays()
    return make_network(lat, lon, tail, head, {WALK_KEY: length / (kmh / 3.6)}, length_m=length, road_class=cls)
