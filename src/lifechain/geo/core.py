"""Pure geography: coordinates, travel modes and the `Router` contract every domain asks "how long to get there".

Engines (scipy Dijkstra, contraction hierarchies) implement `Router`; dispatch, volunteers and planning depend
only on this protocol, so the live service and the simulation ask the very same questions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

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

    def snap(self, points: Sequence[LatLon], *, mode: Mode = "drive") -> Any:
        """Snap points onto the network of `mode`; raises `OffNetwork` naming the first point too far from it."""
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


def haversine_m(a: LatLon, b: LatLon) -> float:
    """Great-circle distance in metres."""
    r = 6_371_008.8
    p1, p2 = np.radians(a.lat), np.radians(b.lat)
    dp, dl = p2 - p1, np.radians(b.lon - a.lon)
    h = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return float(2 * r * np.arcsin(np.sqrt(h)))


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
