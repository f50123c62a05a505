"""Both engines against networkx shortest paths (random graphs and Helsinki), and against each other."""

from __future__ import annotations

from typing import Any

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lifechain.geo.core import LatLon, Unreachable
from lifechain.geo.engines import CHRouter, ScipyRouter
from lifechain.geo.network import Network, make_network

ENGINES = (ScipyRouter, CHRouter)


def _random_network(seed: int, n: int, arcs: int) -> Network:
    rng = np.random.default_rng(seed)
    lat = 60.0 + rng.random(n) * 0.01
    lon = 24.0 + rng.random(n) * 0.02
    tail, head = rng.integers(0, n, arcs), rng.integers(0, n, arcs)
    secs = rng.integers(0, 300, arcs).astype(float)
    return make_network(lat, lon, tail, head, {"emergency": secs, "regular": secs * 2})


def _nx(net: Network, key: str) -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_nodes_from(range(net.n_nodes))
    for a, b, w in zip(net.tail, net.head, net.seconds[key], strict=True):
        if not g.has_edge(a, b) or g[a][b]["weight"] > w:
            g.add_edge(int(a), int(b), weight=float(w))
    return g


def _truth(net: Network, key: str, nodes: list[int]) -> np.ndarray[Any, Any]:
    g = _nx(net, key)
    out = np.full((len(nodes), len(nodes)), np.inf)
    for i, a in enumerate(nodes):
        dist = nx.single_source_dijkstra_path_length(g, a)
        for j, b in enumerate(nodes):
            out[i, j] = dist.get(b, np.inf)
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31), n=st.integers(2, 25), density=st.floats(0.5, 3.0))
def test_engines_match_networkx_on_random_graphs(seed: int, n: int, density: float) -> None:
    """Points on nodes: matrix, bounded one-to-many/many-to-one and routes equal networkx (1 s), inf where none."""
    net = _random_network(seed, n, max(1, int(n * density)))
    touched = sorted(set(net.tail.tolist()) | set(net.head.tolist()))
    pts = [LatLon(float(net.lat[i]), float(net.lon[i])) for i in touched]
    truth = _truth(net, "emergency", touched)
    limit = 200.5  # off the integer weights: ties at the limit are not the question here
    for engine in ENGINES:
        router = engine("rand", {"drive": net}, offroad_speed_mps=1.4, snap_max_distance_m=5000)
        got = router.matrix(pts, pts)
        assert np.array_equal(np.isinf(got), np.isinf(truth)), engine.engine
        assert np.allclose(got[np.isfinite(got)], truth[np.isfinite(truth)], atol=1.0), engine.engine
        snapped = router.snap(pts)
        bounded = np.where(truth <= limit, truth, np.inf)
        out = router.times_from(pts[0], snapped, limit_s=limit)
        assert np.array_equal(np.isinf(out), np.isinf(bounded[0]))
        assert np.allclose(out[np.isfinite(out)], bounded[0][np.isfinite(bounded[0])], atol=1.0)
        into = router.times_to(snapped, pts[-1], limit_s=limit)
        assert np.array_equal(np.isinf(into), np.isinf(bounded[:, -1]))
        assert np.allclose(into[np.isfinite(into)], bounded[:, -1][np.isfinite(bounded[:, -1])], atol=1.0)
        if np.isfinite(truth[0, -1]):
            assert router.route(pts[0], pts[-1]).seconds == pytest.approx(truth[0, -1], abs=1.0)
        else:
            with pytest.raises(Unreachable):
                router.route(pts[0], pts[-1])


def test_helsinki_node_routes_equal_networkx(helsinki_cities_dir: Any) -> None:
    """On Helsinki's driving network, routes between nodes equal networkx for both engines and profiles."""
    from lifechain.geo.repo import CityStore

    store = CityStore(helsinki_cities_dir)
    net = store.router("helsinki", "scipy").graphs["drive"].net  # type: ignore[attr-defined]
    rng = np.random.default_rng(7)
    nodes = [int(i) for i in rng.choice(net.n_nodes, 12, replace=False)]
    pts = [LatLon(float(net.lat[i]), float(net.lon[i])) for i in nodes]
    for key in ("emergency", "regular"):
        truth = _truth(net, key, nodes)
        for engine in ("scipy", "ch"):
            router = store.router("helsinki", engine)
            got = router.matrix(pts, pts, profile=key)  # type: ignore[arg-type]
            assert np.allclose(got, truth, atol=1.0), (engine, key)
            route = router.route(pts[0], pts[1], profile=key)  # type: ignore[arg-type]
            assert route.seconds == pytest.approx(truth[0, 1], abs=1.0)


@settings(max_examples=30, deadline=None)
@given(lat=st.floats(60.165, 60.178), lon=st.floats(24.937, 24.952), lat2=st.floats(60.165, 60.178),
       lon2=st.floats(24.937, 24.952), mode=st.sampled_from(["drive", "walk"]))
def test_engines_agree_on_helsinki_points(helsinki_cities_dir: Any, lat: float, lon: float, lat2: float,
                                          lon2: float, mode: str) -> None:
    """Arbitrary points in Helsinki: both engines give the same route time, metres and bounded times (1 s)."""
    from lifechain.geo.repo import CityStore

    store = CityStore(helsinki_cities_dir)
    a, b = LatLon(lat, lon), LatLon(lat2, lon2)
    scipy_r, ch_r = store.router("helsinki", "scipy"), store.router("helsinki", "ch")
    r1, r2 = scipy_r.route(a, b, mode=mode), ch_r.route(a, b, mode=mode)  # type: ignore[arg-type]
    assert r1.seconds == pytest.approx(r2.seconds, abs=1.0)
    assert r1.meters == pytest.approx(r2.meters, rel=0.05, abs=5.0)
    t1 = scipy_r.times_to([a, b], b, mode=mode, limit_s=900)  # type: ignore[arg-type]
    t2 = ch_r.times_to([a, b], b, mode=mode, limit_s=900)  # type: ignore[arg-type]
    assert np.array_equal(np.isinf(t1), np.isinf(t2))
    assert np.allclose(t1[np.isfinite(t1)], t2[np.isfinite(t2)], atol=1.0)
    off_b = float(scipy_r.snap([b], mode=mode).offroad_m[0])  # type: ignore[arg-type]
    assert t1[1] == pytest.approx(2 * off_b / 1.4, abs=1e-6)  # to itself: only its two off-road legs
    assert t1[0] == pytest.approx(r1.seconds, abs=1.0) or r1.seconds > 900


def test_route_geometry_runs_from_origin_to_destination(helsinki_router: Any) -> None:
    """The route's geometry starts at the origin, ends at the destination, and its length is about its metres."""
    from lifechain.geo.core import haversine_m

    a, b = LatLon(60.1685, 24.9405), LatLon(60.1755, 24.9500)
    route = helsinki_router.route(a, b, mode="walk")
    assert route.geometry[0] == a and route.geometry[-1] == b
    drawn = sum(haversine_m(p, q) for p, q in zip(route.geometry, route.geometry[1:], strict=False))
    assert drawn == pytest.approx(route.meters, rel=0.02)
    assert route.seconds == pytest.approx(route.meters / 1.8, rel=0.3)


def test_isochrone_grows_with_time(helsinki_router: Any) -> None:
    """A 4-minute walk covers less area than an 8-minute one, and both contain the start."""
    import shapely.geometry

    at = LatLon(60.1699, 24.9384)
    small = shapely.geometry.shape(helsinki_router.isochrone(at, 240, mode="walk"))
    large = shapely.geometry.shape(helsinki_router.isochrone(at, 480, mode="walk"))
    assert small.area < large.area
    assert large.buffer(1e-4).contains(small.representative_point())
    assert small.buffer(1e-4).contains(shapely.geometry.Point(at.lon, at.lat))


def test_concurrent_queries_agree_with_serial_ones(helsinki_cities_dir: Any) -> None:
    """Threads sharing one router (as the server's worker threads do) get the same answers as one thread."""
    from concurrent.futures import ThreadPoolExecutor

    from lifechain.geo.repo import CityStore

    rng = np.random.default_rng(5)
    pts = [LatLon(60.166 + rng.random() * 0.01, 24.938 + rng.random() * 0.012) for _ in range(24)]
    for engine in ("scipy", "ch"):
        router = CityStore(helsinki_cities_dir).router("helsinki", engine)
        serial = [router.times_to(pts, p, limit_s=600) for p in pts]
        with ThreadPoolExecutor(4) as pool:
            threaded = list(pool.map(lambda p: router.times_to(pts, p, limit_s=600), pts))  # noqa: B023
        for a, b in zip(serial, threaded, strict=True):
            assert np.array_equal(a, b), engine
