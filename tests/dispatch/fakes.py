"""A fake city store at the geo boundary: straight-line travel at fixed speeds, for API tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from lifechain.geo.core import LatLon, haversine_m


class StraightLineRouter:
    """Straight-line travel at 10 m/s (emergency) or 5 m/s (regular)."""

    city = "testville"

    def _t(self, a: LatLon, b: LatLon, profile: str, limit_s: float) -> float:
        t = haversine_m(a, b) / (10.0 if profile == "emergency" else 5.0)
        return t if t <= limit_s else float("inf")

    def snap(self, points: Sequence[LatLon], *, mode: str = "drive", strict: bool = True) -> Any:
        """Every point is on the network."""
        return points

    def times_to(self, origins: Sequence[LatLon], destination: LatLon, *, mode: str = "drive",
                 profile: str = "emergency", limit_s: float = float("inf")) -> Any:
        return np.array([self._t(o, destination, profile, limit_s) for o in origins])

    def times_from(self, origin: LatLon, destinations: Sequence[LatLon], *, mode: str = "drive",
                   profile: str = "emergency", limit_s: float = float("inf")) -> Any:
        return np.array([self._t(origin, d, profile, limit_s) for d in destinations])


class FakeCities:
    """Stands in for geo's CityStore: one router for every city."""

    def __init__(self) -> None:
        self.routers: dict[str, StraightLineRouter] = {}

    def router(self, name: str, engine: str | None = None) -> StraightLineRouter:
        return self.routers.setdefault(name, StraightLineRouter())

    def check_imported(self, name: str, *, field: str = "city") -> None:
        """Every city is imported."""

    def names(self) -> list[str]:
        """The cities asked for so far (a store lists its imported ones)."""
        return sorted(self.routers)
