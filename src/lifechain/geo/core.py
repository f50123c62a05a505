"""Pure geography: coordinates, travel modes and the `Router` contract every domain asks "how long to get there".

Engines (scipy Dijkstra, contraction hierarchies) implement `Router`; dispatch, volunteers and planning depend
only on this protocol, so the live service and the simulation ask the very same questions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Protocol

import numpy as np
import numpy.typing as npt
from annotated_types import Interval

from lifechain.errors import DomainError, Invalid

Mode = Literal["drive", "walk"]
Profile = Literal["emergency", "regular"]
MODES: tuple[Mode, ...] = ("drive", "walk")
PROFILES: tuple[Profile, ...] = ("emergency", "regular")
FloatArray = npt.NDArray[np.float64]


class GeoError(DomainError):
    """A geographic question that cannot be answered as asked."""


class Unreachable(GeoError):
    """No path exists (or none within the time limit) between the points asked."""

    status_code = 422
    code = "unreachable"


class OffNetwork(GeoError):
    """A point lies farther from any road or path than the configured snapping distance."""

    status_code = 422
    code = "off_network"


# A position's degrees as a model field takes them (pydantic refuses others with a 422 naming the field).
Latitude = Annotated[float, Interval(ge=-90, le=90)]
Longitude = Annotated[float, Interval(ge=-180, le=180)]


@dataclass(frozen=True, slots=True)
class LatLon:
    """A WGS-84 position in degrees."""

    lat: float
    lon: float

    def __post_init__(self) -> None:
        if not (-90.0 <= self.lat <= 90.0):
            raise Invalid(f"latitude {self.lat} is out of range [-90, 90]")
        if not (-180.0 <= self.lon <= 180.0):
            raise Invalid(f"longitude {self.lon} is out of range [-180, 180]")


@dataclass(frozen=True, slots=True)
class Route:
    """A path on the network: travel time in seconds, length in metres, and its geometry from origin to destination."""

    seconds: float
    meters: float
    geometry: tuple[LatLon, ...]


class Router(Protocol):
    """Travel times on one city's networks. Every time is in seconds; `inf` means unreachable within the limit.

    Positions may be given as `LatLon` sequences or as the result of `snap` (pre-snapped, faster when the same
    points are asked about many times, e.g. stations or AEDs).
    """

    city: str

    def snap(self, points: Sequence[LatLon], *, mode: Mode = "drive", strict: bool = True) -> Any:
        """Snap points onto the network of `mode`; raises `OffNetwork` naming the first point too far from it
        (with `strict=False` such a point is kept and every time to or from it is `inf`)."""
        ...

    def route(self, origin: LatLon, destination: LatLon, *, mode: Mode = "drive",
              profile: Profile = "emergency") -> Route:
        """Fastest path between two points; raises `Unreachable` when none exists."""
        ...

    def times_to(self, origins: Sequence[LatLon] | Any, destination: LatLon, *, mode: Mode = "drive",
                 profile: Profile = "emergency", limit_s: float = float("inf")) -> FloatArray:
        """Many-to-one: seconds from each origin to `destination`, `inf` beyond `limit_s`."""
        ...

    def times_from(self, origin: LatLon, destinations: Sequence[LatLon] | Any, *, mode: Mode = "drive",
                   profile: Profile = "emergency", limit_s: float = float("inf")) -> FloatArray:
        """One-to-many: seconds from `origin` to each destination, `inf` beyond `limit_s`."""
        ...

    def matrix(self, origins: Sequence[LatLon] | Any, destinations: Sequence[LatLon] | Any, *,
               mode: Mode = "drive", profile: Profile = "emergency") -> FloatArray:
        """Many-to-many: an origins x destinations array of seconds (`inf` where unreachable)."""
        ...

    def isochrone(self, origin: LatLon, seconds: float, *, mode: Mode = "drive",
                  profile: Profile = "emergency") -> dict[str, Any]:
        """The area reachable from `origin` within `seconds`, as a GeoJSON Polygon or MultiPolygon geometry."""
        ...


def check_on_network(router: Router, location: LatLon, *, mode: Mode, what: str, field: str | None = None) -> None:
    """Refuse (`Invalid`, naming `field` when given) a place registered to be routed to or from, `what` (a station,
    an AED), farther from the city's network of `mode` than the snapping distance: stored anyway, it would be left
    out of every search of its city without a word."""
    try:
        router.snap([location], mode=mode)
    except OffNetwork as exc:
        said = f"the {what} {exc.message.removeprefix('point 0 ')}, so no route to or from it can be timed; check " \
               "the coordinates (latitude first)"
        if field is None:
            raise Invalid(said) from None
        raise Invalid(f"{field}: {said}", field=field) from None


EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG)
M_PER_DEG = EARTH_RADIUS_M * math.pi / 180.0  # metres per degree of latitude (of longitude at the equator)


def local_offsets_m(origin: LatLon, lat: Any, lon: Any) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Metres east and north of `origin` of points given as degree arrays, by the equirectangular projection at
    `origin`'s latitude: within 0.5% of the great circle over a city's distances, and far cheaper."""
    dy = (np.asarray(lat, dtype=np.float64) - origin.lat) * M_PER_DEG
    dx = (np.asarray(lon, dtype=np.float64) - origin.lon) * (M_PER_DEG * math.cos(math.radians(origin.lat)))
    return dx, dy


@dataclass(frozen=True)
class LocalProjection:
    """An equirectangular projection around a city's centre, in metres (accurate to ~1% across a city)."""

    lat0: float
    lon0: float

    def forward(self, lat: Any, lon: Any) -> FloatArray:
        """(lat, lon) degrees -> (n, 2) array of metres east/north of the centre."""
        return np.stack(local_offsets_m(LatLon(self.lat0, self.lon0), lat, lon), axis=-1)

    def inverse(self, xy: Any) -> tuple[FloatArray, FloatArray]:
        """(n, 2) metres -> (lat, lon) degree arrays."""
        xy = np.asarray(xy, dtype=np.float64)
        k = np.cos(np.radians(self.lat0))
        return xy[..., 1] / M_PER_DEG + self.lat0, xy[..., 0] / (k * M_PER_DEG) + self.lon0


def haversine_m(a: LatLon, b: LatLon) -> float:
    """Great-circle distance in metres (plain `math`: numpy's scalar functions cost several times as much)."""
    p1, p2 = math.radians(a.lat), math.radians(b.lat)
    dp, dl = p2 - p1, math.radians(b.lon - a.lon)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(h))


def haversine_many(lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> npt.NDArray[np.float64]:
    """Great-circle distances in metres between arrays of points (degrees; the arrays broadcast)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    h = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0))), dtype=np.float64)


def check_mode(mode: str) -> Mode:
    """Validate a travel mode name."""
    if mode not in MODES:
        raise Invalid(f"unknown mode {mode!r}: expected one of {', '.join(MODES)}")
    return mode  # type: ignore[return-value,unused-ignore]


def check_profile(profile: str) -> Profile:
    """Validate a driving profile name."""
    if profile not in PROFILES:
        raise Invalid(f"unknown profile {profile!r}: expected one of {', '.join(PROFILES)}")
    return profile  # type: ignore[return-value,unused-ignore]


def parse_latlon(text: str) -> LatLon:
    """A point written `lat,lon` in degrees; raises `Invalid` saying what was wrong."""
    parts = text.split(",")
    if len(parts) != 2:
        raise Invalid(f"expected a point as lat,lon, got {text!r}")
    try:
        lat, lon = float(parts[0]), float(parts[1])
    except ValueError as exc:
        raise Invalid(f"expected a point as lat,lon with numbers, got {text!r}") from exc
    if not (np.isfinite(lat) and np.isfinite(lon)):
        raise Invalid(f"expected finite coordinates, got {text!r}")
    return LatLon(lat, lon)


# GCJ-02 ("Mars coordinates") is the obfuscated datum Chinese map apps use; outside China it equals WGS-84.
_GCJ_A = 6378245.0
_GCJ_EE = 0.00669342162296594323


def _outside_china(lat: float, lon: float) -> bool:
    return not (72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _gcj_offset(lat: float, lon: float) -> tuple[float, float]:
    """The GCJ-02 shift (degrees of latitude, longitude) at a WGS-84 position."""
    x, y = lon - 105.0, lat - 35.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(abs(x))
    dlat += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlat += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * np.pi) + 320 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(abs(x))
    dlon += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlon += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    rad = lat / 180.0 * np.pi
    magic = 1 - _GCJ_EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_GCJ_A * (1 - _GCJ_EE)) / (magic * sqrt_magic) * np.pi)
    dlon = (dlon * 180.0) / (_GCJ_A / sqrt_magic * np.cos(rad) * np.pi)
    return float(dlat), float(dlon)


def wgs84_to_gcj02(p: LatLon) -> LatLon:
    """Convert a WGS-84 position to GCJ-02 (unchanged outside China)."""
    if _outside_china(p.lat, p.lon):
        return p
    dlat, dlon = _gcj_offset(p.lat, p.lon)
    return LatLon(p.lat + dlat, p.lon + dlon)


def gcj02_to_wgs84(p: LatLon) -> LatLon:
    """Convert a GCJ-02 position to WGS-84 by fixed-point iteration (error well below a centimetre)."""
    if _outside_china(p.lat, p.lon):
        return p
    lat, lon = p.lat, p.lon
    for _ in range(30):
        g = wgs84_to_gcj02(LatLon(lat, lon))
        dlat, dlon = g.lat - p.lat, g.lon - p.lon
        lat, lon = lat - dlat, lon - dlon
        if abs(dlat) < 1e-10 and abs(dlon) < 1e-10:
            break
    return LatLon(lat, lon)


def to_wgs84(p: LatLon, crs: str) -> LatLon:
    """A position given in `crs` ("wgs84" or "gcj02") as WGS-84; raises `Invalid` for another name."""
    if crs == "wgs84":
        return p
    if crs == "gcj02":
        return gcj02_to_wgs84(p)
    raise Invalid(f"unknown crs {crs!r}: expected wgs84 or gcj02")
