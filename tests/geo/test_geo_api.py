"""The geo HTTP API on Helsinki: cities, route, matrix, isochrone, roads, places, and clear 4xx errors."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.auth_helpers import bearer, signed_in

from lifechain.app import create_app
from lifechain.auth.core import Role
from lifechain.clock import ManualClock
from lifechain.db import upgrade
from lifechain.geo.core import LatLon, wgs84_to_gcj02
from lifechain.settings import Settings

A, B = "60.1685,24.9405", "60.1755,24.9500"


@pytest.fixture(scope="module")
def client(helsinki_cities_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    data = tmp_path_factory.mktemp("geoapi")
    shutil.copytree(helsinki_cities_dir, data / "cities")
    settings = Settings(data_dir=data, demo_mode=True, max_matrix_cells=100)
    upgrade(settings.sqlalchemy_url)
    from datetime import UTC, datetime

    with TestClient(create_app(settings, clock=ManualClock(datetime(2026, 1, 1, tzinfo=UTC)))) as c:
        c.headers.update(signed_in(c, "dispatcher", Role.DISPATCHER))
        yield c


GEO_READS = ["/api/v1/cities", "/api/v1/cities/helsinki", f"/api/v1/cities/helsinki/route?from={A}&to={B}",
             f"/api/v1/cities/helsinki/isochrone?at={A}&seconds=60", "/api/v1/cities/helsinki/roads?zoom=10",
             "/api/v1/cities/helsinki/places?q=Mannerheim"]


@pytest.mark.parametrize("path", GEO_READS)
def test_geo_reads_need_a_signed_in_user_of_any_role(client: TestClient, path: str) -> None:
    """Without a token the geo routes answer 401; a trainer (a role with no dispatch rights) may read them."""
    anonymous = client.get(path, headers={"Authorization": ""})
    assert anonymous.status_code == 401, anonymous.text
    assert client.get(path, headers=_trainer(client)).status_code == 200


def _trainer(client: TestClient) -> dict[str, str]:
    try:
        return bearer(client, "trainer")
    except AssertionError:  # not stored yet
        return signed_in(client, "trainer", Role.TRAINER)


def test_matrix_is_for_dispatchers_and_analysts_only(client: TestClient) -> None:
    """A matrix is planning work: an analyst may ask, a trainer gets 403 naming the roles, no token 401."""
    pts = [{"lat": 60.1685, "lon": 24.9405}, {"lat": 60.1755, "lon": 24.95}]
    body = {"origins": pts, "destinations": pts}
    analyst = signed_in(client, "analyst", Role.ANALYST)
    assert client.post("/api/v1/cities/helsinki/matrix", json=body, headers=analyst).status_code == 200
    trainer = client.post("/api/v1/cities/helsinki/matrix", json=body, headers=_trainer(client))
    assert trainer.status_code == 403 and "dispatcher" in trainer.json()["detail"]
    anonymous = client.post("/api/v1/cities/helsinki/matrix", json=body, headers={"Authorization": ""})
    assert anonymous.status_code == 401


def test_cities_list_and_info(client: TestClient) -> None:
    """The list shows Helsinki with bbox, node counts and profiles; info returns the same manifest. A city not
    imported is a 404 in the words of the 422 for a city in a body, and says how to add one (it said "unknown city
    'atlantis' (known: helsinki)")."""
    (city,) = client.get("/api/v1/cities").json()
    assert city["name"] == "helsinki" and city["networks"]["drive"]["profiles"] == ["emergency", "regular"]
    assert client.get("/api/v1/cities/helsinki").json()["bbox"] == city["bbox"]
    r = client.get("/api/v1/cities/atlantis")
    assert r.status_code == 404 and r.json()["detail"] == ("city 'atlantis' is not imported on this server "
                                                           "(imported: helsinki; lifechain city import adds one)")


def test_route_returns_seconds_meters_geometry(client: TestClient) -> None:
    """A route has positive seconds and metres and a LineString from origin to destination; regular is slower."""
    fast = client.get("/api/v1/cities/helsinki/route", params={"from": A, "to": B}).json()
    slow = client.get("/api/v1/cities/helsinki/route", params={"from": A, "to": B, "profile": "regular"}).json()
    assert 0 < fast["seconds"] < slow["seconds"]
    assert fast["geometry"]["type"] == "LineString"
    assert fast["geometry"]["coordinates"][0] == [24.9405, 60.1685]


def test_gcj02_input_is_converted(client: TestClient) -> None:
    """Coordinates given in GCJ-02 (crs=gcj02) route like their WGS-84 equivalents."""
    wgs = client.get("/api/v1/cities/helsinki/route", params={"from": A, "to": B}).json()
    a, b = (wgs84_to_gcj02(LatLon(*map(float, p.split(",")))) for p in (A, B))
    gcj = client.get("/api/v1/cities/helsinki/route",
                     params={"from": f"{a.lat},{a.lon}", "to": f"{b.lat},{b.lon}", "crs": "gcj02"}).json()
    assert gcj["seconds"] == pytest.approx(wgs["seconds"], abs=0.01)


@pytest.mark.parametrize(("params", "status", "text"), [
    ({"from": "91,24.94", "to": B}, 422, "latitude 91"),
    ({"from": "60.17", "to": B}, 422, "lat,lon"),
    ({"from": A, "to": B, "mode": "fly"}, 422, "unknown mode"),
    ({"from": A, "to": B, "profile": "fast"}, 422, "unknown profile"),
    ({"from": "60.10,24.94", "to": B}, 422, "more than 1000 m"),
    ({"from": A, "to": B, "crs": "osgb"}, 422, "unknown crs"),
])
def test_route_bad_input_is_a_clear_4xx(client: TestClient, params: dict[str, str], status: int, text: str) -> None:
    """Bad coordinates, modes, profiles and far-away points get a 4xx saying what was wrong."""
    r = client.get("/api/v1/cities/helsinki/route", params=params)
    assert r.status_code == status and text in r.json()["detail"]


def test_matrix_and_its_limit(client: TestClient) -> None:
    """A matrix answers origins x destinations; one larger than the configured limit is refused."""
    pts = [{"lat": 60.1685, "lon": 24.9405}, {"lat": 60.1755, "lon": 24.95}]
    body = client.post("/api/v1/cities/helsinki/matrix", json={"origins": pts, "destinations": pts}).json()
    assert len(body["seconds"]) == 2 and body["seconds"][0][1] > 0
    big = client.post("/api/v1/cities/helsinki/matrix", json={"origins": pts * 6, "destinations": pts * 6})
    assert big.status_code == 422 and "limit of 100" in big.json()["detail"]


def test_a_point_off_the_roads_is_named_as_the_request_names_it(client: TestClient) -> None:
    """A route or matrix point too far from the roads was refused as "point 0" whichever it was (origin and
    destination are snapped apart, so both are point 0): it is now named origin, destination or destinations[i]."""
    far = "60.10,24.94"
    start = client.get("/api/v1/cities/helsinki/route", params={"from": far, "to": B}).json()
    end = client.get("/api/v1/cities/helsinki/route", params={"from": A, "to": far}).json()
    assert start["detail"].startswith("origin (60.100000, 24.940000) is more than 1000 m from the drive network")
    assert end["detail"].startswith("destination (60.100000, 24.940000) is more than 1000 m")
    assert end["context"]["point"] == "destination"
    pts = [{"lat": 60.1685, "lon": 24.9405}, {"lat": 60.1755, "lon": 24.95}]
    body = {"origins": pts, "destinations": [*pts, {"lat": 60.10, "lon": 24.94}]}
    res = client.post("/api/v1/cities/helsinki/matrix", json=body)
    assert res.status_code == 422 and res.json()["detail"].startswith("destinations[2] (60.100000, 24.940000) is ")
    assert res.json()["context"] == {"index": 2, "lat": 60.10, "lon": 24.94, "point": "destinations[2]"}


def test_isochrone_roads_and_places(client: TestClient) -> None:
    """Isochrone is a GeoJSON Feature; roads come by class (fewer at low zoom); place search finds streets."""
    iso = client.get("/api/v1/cities/helsinki/isochrone", params={"at": A, "seconds": 240, "mode": "walk"}).json()
    assert iso["type"] == "Feature" and iso["geometry"]["type"] in ("Polygon", "MultiPolygon")
    low = client.get("/api/v1/cities/helsinki/roads", params={"zoom": 10}).json()
    high = client.get("/api/v1/cities/helsinki/roads", params={"zoom": 16}).json()
    classes = {f["properties"]["class"] for f in high["features"]}
    assert {"primary", "residential"} <= classes
    assert len(low["features"]) < len(high["features"])
    hits = client.get("/api/v1/cities/helsinki/places", params={"q": "Mannerheim"}).json()["results"]
    assert hits and hits[0]["name"].startswith("Mannerheim")


def test_router_for_gives_other_domains_a_router(client: TestClient) -> None:
    """Other domains get the same cached router from the app state, NotFound for an unknown city."""
    from lifechain.errors import NotFound
    from lifechain.geo.views import router_for

    class Req:
        app = client.app

    router = router_for(Req(), "helsinki")  # type: ignore[arg-type]
    assert router is router_for(Req(), "helsinki")  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        router_for(Req(), "atlantis")  # type: ignore[arg-type]


def test_unreachable_is_a_clear_422(tmp_path: Path) -> None:
    """On a one-way street driven backwards the API answers 422 "unreachable", and a matrix says null, not inf."""
    from datetime import UTC, datetime

    from lifechain.geo.network import make_network
    from lifechain.geo.repo import save_city

    drive = make_network([60.0, 60.0], [24.0, 24.01], [0], [1], {"emergency": [60.0], "regular": [90.0]})
    walk = make_network([60.0, 60.0], [24.0, 24.01], [0, 1], [1, 0], {"walk": [300.0, 300.0]})
    save_city(tmp_path / "cities", "oneway", networks={"drive": drive, "walk": walk}, places={},
              manifest={"source": "test", "kind": "test", "imported_at": "2026-01-01T00:00:00+00:00",
                        "bbox": [60.0, 24.0, 60.0, 24.01], "centre": [60.0, 24.005], "networks": {}, "places": {}})
    settings = Settings(data_dir=tmp_path, demo_mode=True, default_city="oneway")
    upgrade(settings.sqlalchemy_url)
    with TestClient(create_app(settings, clock=ManualClock(datetime(2026, 1, 1, tzinfo=UTC)))) as c:
        c.headers.update(signed_in(c, "dispatcher", Role.DISPATCHER))
        r = c.get("/api/v1/cities/oneway/route", params={"from": "60.0,24.01", "to": "60.0,24.0"})
        assert r.status_code == 422 and r.json()["code"] == "unreachable"
        ok = c.get("/api/v1/cities/oneway/route", params={"from": "60.0,24.0", "to": "60.0,24.01"}).json()
        assert ok["seconds"] == 60.0
        pts = [{"lat": 60.0, "lon": 24.0}, {"lat": 60.0, "lon": 24.01}]
        m = c.post("/api/v1/cities/oneway/matrix", json={"origins": pts, "destinations": pts}).json()
        assert m["seconds"] == [[0.0, 60.0], [None, 0.0]]
