"""HTTP routes of the geo domain: cities, routes, matrices, isochrones, the base map's roads and place search.

For other domains' views:
    from lifechain.geo.views import CitiesDep, check_on_roads, router_for
    def view(request: Request, city: str, cities: CitiesDep):
        router = router_for(request, city)          # raises NotFound (404) for an unknown city
        router.times_to(points, incident, limit_s=1200)
    def create(request: Request, body: StationIn):
        check_on_roads(request, body.city, location, what="station")  # a 422 naming `city` or `location`
`setup(app)` puts a `CityStore` on `app.state.cities` and preloads the default city's router at startup
(its contraction-hierarchy metrics are then customized in a background thread).
"""

from __future__ import annotations

import gc
import threading
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, FastAPI, Query, Request

from lifechain.auth.core import Principal, Role
from lifechain.auth.deps import CurrentUser, require_roles
from lifechain.errors import Invalid, Unavailable
from lifechain.geo.core import LatLon, Router, check_mode, check_on_network, check_profile, parse_latlon, to_wgs84
from lifechain.geo.repo import CityStore
from lifechain.geo.schemas import CityInfo, MatrixIn, MatrixOut, PlacesOut, RouteOut
from lifechain.settings import Settings

router = APIRouter(prefix="/cities", tags=["geo"])


def setup(app: FastAPI) -> None:
    """Attach the city store and warm the default city's router when the server starts."""
    settings: Settings = app.state.settings
    store = CityStore.from_settings(settings)
    app.state.cities = store
    app.state.health_problems.append(store.problems)

    async def warm(_app: FastAPI) -> None:
        if store.exists(settings.default_city):
            try:
                store.router(settings.default_city)  # loaded already when `lifechain serve` preloaded it
            except Unavailable:  # logged: the other cities serve, and `/health` names this one
                return
            # Snapping indexes, hierarchy metrics and adjacencies are built in the background, what a drive route
            # needs first: serving starts at once, and a query that needs a part not built yet builds it (or waits
            # for it) then.
            threading.Thread(target=_warm, args=(store, settings.default_city), name="geo-warm", daemon=True).start()

    app.state.startup_hooks.append(warm)


def _warm(store: CityStore, city: str) -> None:
    store.warm(city)
    # What was built lives as long as the server: out of the cyclic GC's way, like what start-up loaded (app.py).
    gc.freeze()


def get_cities(request: Request) -> CityStore:
    """The app's city store."""
    store: CityStore = request.app.state.cities
    return store


CitiesDep = Annotated[CityStore, Depends(get_cities)]
# Every signed-in role reads maps, routes and isochrones (crews and volunteers navigate with them); a matrix is
# planning work, and costly, so only dispatchers and analysts (and admins) may ask for one.
Planner = Annotated[Principal, Depends(require_roles(Role.DISPATCHER, Role.ANALYST))]


def router_for(request: Request, city: str, engine: str | None = None) -> Router:
    """The router of `city` (raises `NotFound` for an unknown city)."""
    return get_cities(request).router(city, engine)


def check_city(request: Request, city: str) -> None:
    """Refuse (`Invalid`, 422 naming `city`) a city this server has not imported, for what is registered in a city:
    stored under a misspelt name, a station, hospital, volunteer, facility or AED was never found by the city's
    dispatch or alerts, without a word."""
    get_cities(request).check_imported(city)


def check_on_roads(request: Request, city: str, location: LatLon, *, what: str) -> None:
    """Refuse (`Invalid`, 422 naming the field) a place ambulances start from or drive to, a station or a hospital,
    in a city this server has not imported (`check_city`) or farther from its drive network than the snapping
    distance. Stored anyway, it was left out of every recommendation of its city without a word: its units never
    recommended, or the hospital never chosen (a misspelt city, latitude and longitude swapped, a point in the
    sea)."""
    check_city(request, city)
    check_on_network(router_for(request, city), location, mode="drive", what=what, field="location")


def _point(text: str, crs: str) -> LatLon:
    return to_wgs84(parse_latlon(text), crs)


def _json_seconds(values: Any) -> list[Any]:
    """Seconds for JSON, rounded to the millisecond, `null` where unreachable."""
    arr = np.asarray(values, dtype=np.float64)
    out = np.round(arr, 3).astype(object)
    out[~np.isfinite(arr)] = None
    rows: list[Any] = out.tolist()
    return rows


@router.get("", response_model=list[CityInfo])
def list_cities(request: Request, cities: CitiesDep, _user: CurrentUser) -> list[dict[str, Any]]:
    """Every imported city (bbox, centre, node and arc counts, profiles): the server's default city first (the
    screens show the first), then by name. A city whose files cannot be read is left out, and `/health` names it."""
    default = request.app.state.settings.default_city
    return sorted(cities.list(), key=lambda c: c["name"] != default)


@router.get("/{city}", response_model=CityInfo)
def city_info(city: str, cities: CitiesDep, _user: CurrentUser) -> dict[str, Any]:
    """One city's manifest."""
    return cities.info(city)


@router.get("/{city}/route", response_model=RouteOut)
def route(
    request: Request,
    city: str,
    _user: CurrentUser,
    origin: Annotated[str, Query(alias="from", description="lat,lon", examples=["60.1699,24.9384"])],
    destination: Annotated[str, Query(alias="to", description="lat,lon")],
    mode: str = "drive",
    profile: str = "emergency",
    crs: Annotated[str, Query(description="wgs84 or gcj02 (input coordinates)")] = "wgs84",
    engine: Annotated[str | None, Query(description="ch or scipy (default from settings)")] = None,
) -> dict[str, Any]:
    """Fastest route: seconds, metres and the geometry as a GeoJSON LineString (422 "unreachable" if none)."""
    o, d = _point(origin, crs), _point(destination, crs)
    result = router_for(request, city, engine).route(o, d, mode=check_mode(mode), profile=check_profile(profile))
    coords = [[p.lon, p.lat] for p in result.geometry]
    return {"seconds": round(result.seconds, 3), "meters": round(result.meters, 1), "mode": mode,
            "profile": profile, "geometry": {"type": "LineString", "coordinates": coords}}


@router.post("/{city}/matrix", response_model=MatrixOut)
def matrix(request: Request, city: str, body: MatrixIn, _planner: Planner) -> dict[str, Any]:
    """Seconds from every origin to every destination (`null` where unreachable)."""
    limit = request.app.state.settings.max_matrix_cells
    cells = len(body.origins) * len(body.destinations)
    if cells > limit:
        raise Invalid(f"matrix of {len(body.origins)} x {len(body.destinations)} = {cells} cells is larger than "
                      f"the limit of {limit}", cells=cells, limit=limit)
    mode, profile = check_mode(body.mode), check_profile(body.profile)
    origins = [to_wgs84(LatLon(p.lat, p.lon), body.crs) for p in body.origins]
    dests = [to_wgs84(LatLon(p.lat, p.lon), body.crs) for p in body.destinations]
    r = router_for(request, city, body.engine)
    secs = r.matrix(origins, dests, mode=mode, profile=profile)
    return {"seconds": _json_seconds(secs), "mode": mode, "profile": profile}


@router.get("/{city}/isochrone")
def isochrone(
    request: Request,
    city: str,
    _user: CurrentUser,
    at: Annotated[str, Query(description="lat,lon")],
    seconds: Annotated[float, Query(gt=0, le=7200)],
    mode: str = "drive",
    profile: str = "emergency",
    crs: str = "wgs84",
) -> dict[str, Any]:
    """The area reachable from `at` within `seconds`, as a GeoJSON Feature."""
    geometry = router_for(request, city).isochrone(_point(at, crs), seconds, mode=check_mode(mode),
                                                   profile=check_profile(profile))
    return {"type": "Feature", "properties": {"seconds": seconds, "mode": mode, "profile": profile},
            "geometry": geometry}


@router.get("/{city}/roads")
def roads(city: str, cities: CitiesDep, _user: CurrentUser, zoom: Annotated[int, Query(ge=0, le=22)] = 14,
          mode: str = "drive") -> dict[str, Any]:
    """The road (or path) network as GeoJSON, one feature per road class, simplified for `zoom`."""
    return cities.roads(city, zoom=zoom, mode=check_mode(mode))


@router.get("/{city}/places", response_model=PlacesOut)
def places(city: str, cities: CitiesDep, _user: CurrentUser, q: str = "",
           limit: Annotated[int, Query(ge=1, le=200)] = 20) -> dict[str, Any]:
    """Address search over named streets and places (and stations, hospitals, AEDs)."""
    return {"city": city, "query": q, "results": cities.search(city, q, limit=limit)}
