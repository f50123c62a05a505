"""API models of the geo domain."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from lifechain.geo.core import Latitude, Longitude


class Point(BaseModel):
    """A position in degrees, WGS-84 (a travel-time request may say `crs=gcj02`). The one point model of the API."""

    lat: Latitude
    lon: Longitude


class MatrixIn(BaseModel):
    """A many-to-many travel-time question."""

    origins: list[Point] = Field(min_length=1)
    destinations: list[Point] = Field(min_length=1)
    mode: str = "drive"
    profile: str = "emergency"
    crs: str = "wgs84"
    engine: str | None = None


class MatrixOut(BaseModel):
    """Seconds from each origin (row) to each destination (column); `null` where unreachable."""

    seconds: list[list[float | None]]
    mode: str
    profile: str


class RouteOut(BaseModel):
    """A fastest route: seconds, metres and a GeoJSON LineString ([lon, lat] pairs)."""

    seconds: float
    meters: float
    mode: str
    profile: str
    geometry: dict[str, Any]


class NetworkInfo(BaseModel):
    """One network of a city: what was kept and what the import dropped."""

    nodes: int
    arcs: int
    profiles: list[str]
    dropped_nodes: int
    dropped_arcs: int
    components: int


class CityInfo(BaseModel):
    """An imported city's manifest."""

    model_config = ConfigDict(extra="allow")

    name: str
    source: str
    kind: str
    imported_at: str
    bbox: list[float]
    centre: list[float]
    networks: dict[str, NetworkInfo]
    places: dict[str, int]


class PlacesOut(BaseModel):
    """Places whose name matches the query."""

    city: str
    query: str
    results: list[dict[str, Any]]
