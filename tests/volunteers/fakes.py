"""Fakes at the volunteers domain's boundaries: a straight-line walking router and a recording notifier."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from lifechain.geo.core import LatLon, Route, haversine_m


class StraightLineRouter:
    """A `Router` where every walk is the straight line at `speed` m/s (a stand-in for the geo engines in tests)."""

    city = "fake"

    def __init__(self, speed: float = 1.4) -> None:
        self.speed = speed
        self.calls = 0

    def snap(self, points: Sequence[LatLon], *, mode: str = "drive", strict: bool = True) -> Any:
        return list(points)

    def _times(self, origin: LatLon, points: Sequence[LatLon], limit_s: float) -> np.ndarray:
        self.calls += 1
        t = np.array([haversine_m(origin, p) / self.speed for p in points], dtype=np.float64)
        t[t > limit_s] = np.inf
        return t

    def times_from(self, origin: LatLon, destinations: Sequence[LatLon], *, mode: str = "drive",
                   profile: str = "emergency", limit_s: float = float("inf")) -> np.ndarray:
        return self._times(origin, destinations, limit_s)

    def times_to(self, origins: Sequence[LatLon], destination: LatLon, *, mode: str = "drive",
                 profile: str = "emergency", limit_s: float = float("inf")) -> np.ndarray:
        return self._times(destination, origins, limit_s)

    def matrix(self, origins: Sequence[LatLon], destinations: Sequence[LatLon], *, mode: str = "drive",
               profile: str = "emergency") -> np.ndarray:
        return np.array([self._times(o, destinations, float("inf")) for o in origins])

    def route(self, origin: LatLon, destination: LatLon, *, mode: str = "drive",
              profile: str = "emergency") -> Route:
        m = haversine_m(origin, destination)
        return Route(seconds=m / self.speed, meters=m, geometry=(origin, destination))

    def isochrone(self, origin: LatLon, seconds: float, *, mode: str = "drive",
                  profile: str = "emergency") -> dict[str, Any]:
        return {"type": "Polygon", "coordinates": []}
