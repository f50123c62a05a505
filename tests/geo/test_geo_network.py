"""Networks as arrays: pruning to the largest strongly connected component, adjacency, snapping onto arcs."""

from __future__ import annotations

import numpy as np
import pytest

from lifechain.geo.core import LatLon, OffNetwork
from lifechain.geo.engines import ScipyRouter
from lifechain.geo.network import build_adjacency, largest_scc, make_network

# A 3-node one-way triangle plus a dangling node reached by a one-way arc only.
LAT = [60.0, 60.0, 60.001, 60.002]
LON = [24.0, 24.001, 24.0005, 24.0005]


def _triangle() -> object:
    return make_network(LAT, LON, [0, 1, 2, 2], [1, 2, 0, 3], {"emergency": [10, 10, 10, 5],
                                                               "regular": [20, 20, 20, 10]})


def test_largest_scc_drops_what_cannot_return() -> None:
    """The dangling node is reachable but cannot come back: it and its arc are dropped and reported."""
    pruned = largest_scc(_triangle())  # type: ignore[arg-type]
    assert pruned.network.n_nodes == 3
    assert pruned.network.n_arcs == 3
    assert (pruned.dropped_nodes, pruned.dropped_arcs, pruned.components) == (1, 1, 2)


def test_adjacency_keeps_the_fastest_parallel_arc() -> None:
    """Two arcs between the same nodes: the adjacency keeps the faster, not their sum."""
    net = make_network([0, 0], [0, 0.001], [0, 0], [1, 1], {"walk": [30.0, 12.0]})
    adj = build_adjacency(net, "walk")
    assert adj.matrix[0, 1] == 12.0
    assert adj.matrix.shape == (3, 3)


def test_snap_projects_onto_the_arc_not_the_nearest_node() -> None:
    """A point beside the middle of an arc is snapped to the middle, so its time is half the arc's."""
    net = make_network([60.0, 60.0], [24.0, 24.01], [0, 1], [1, 0], {"walk": [100.0, 100.0]})
    router = ScipyRouter("t", {"walk": net}, offroad_speed_mps=1.0)
    mid = router.snap([LatLon(60.0001, 24.005)], mode="walk")
    assert mid.t[0] == pytest.approx(0.5, abs=1e-3)
    assert mid.offroad_m[0] == pytest.approx(11.1, abs=0.2)
    secs = router.times_from(LatLon(60.0, 24.0), mid, mode="walk")
    assert secs[0] == pytest.approx(50.0 + 11.1, abs=0.3)


def test_point_far_from_any_road_is_refused_by_name() -> None:
    """A point 2 km away raises OffNetwork naming its index and position."""
    net = make_network([60.0, 60.0], [24.0, 24.01], [0, 1], [1, 0], {"walk": [100.0, 100.0]})
    router = ScipyRouter("t", {"walk": net}, snap_max_distance_m=1000)
    with pytest.raises(OffNetwork, match=r"point 1 \(60.020000"):
        router.snap([LatLon(60.0, 24.0), LatLon(60.02, 24.0)], mode="walk")


def test_one_way_arc_is_not_driven_backwards() -> None:
    """On a one-way arc a -> b, going from b's end back to a's end is unreachable (inf)."""
    net = make_network([60.0, 60.0], [24.0, 24.01], [0], [1], {"emergency": [60.0], "regular": [90.0]})
    router = ScipyRouter("t", {"drive": net}, offroad_speed_mps=1.0)
    a, b = LatLon(60.0, 24.0), LatLon(60.0, 24.01)
    assert router.times_from(a, [b])[0] == pytest.approx(60.0)
    assert np.isinf(router.times_from(b, [a])[0])
    assert router.times_to([a], b, profile="regular")[0] == pytest.approx(90.0)


def test_lenient_snap_keeps_far_points_unreachable() -> None:
    """With strict=False a far point is kept in place and every time to it is inf, the others unaffected."""
    net = make_network([60.0, 60.0], [24.0, 24.01], [0, 1], [1, 0], {"walk": [100.0, 100.0]})
    router = ScipyRouter("t", {"walk": net}, offroad_speed_mps=1.0)
    snapped = router.snap([LatLon(60.0, 24.01), LatLon(60.05, 24.0)], mode="walk", strict=False)
    secs = router.times_from(LatLon(60.0, 24.0), snapped, mode="walk")
    assert secs[0] == pytest.approx(100.0) and np.isinf(secs[1])
    assert np.isinf(router.matrix(snapped, snapped, mode="walk")[1]).all()


def test_negative_limit_reaches_nothing_and_nan_is_refused() -> None:
    """A limit below zero (e.g. a budget already spent) gives inf for everyone; NaN is refused."""
    from lifechain.errors import Invalid

    net = make_network([60.0, 60.0], [24.0, 24.01], [0, 1], [1, 0], {"walk": [100.0, 100.0]})
    router = ScipyRouter("t", {"walk": net})
    a = LatLon(60.0, 24.0)
    assert np.isinf(router.times_from(a, [a, a], mode="walk", limit_s=-3.0)).all()
    assert np.isinf(router.times_to([a], a, mode="walk", limit_s=float("-inf"))).all()
    with pytest.raises(Invalid, match="NaN"):
        router.times_from(a, [a], mode="walk", limit_s=float("nan"))


def test_snapped_batches_join_and_copies_never_reuse_stale_offsets() -> None:
    """`Snapped.concat` joins batches; a `dataclasses.replace` copy (sharing the cache) gets its own offsets."""
    import dataclasses

    from lifechain.geo.engines import Snapped

    net = make_network([60.0, 60.0], [24.0, 24.01], [0, 1], [1, 0], {"walk": [100.0, 100.0]})
    router = ScipyRouter("t", {"walk": net}, offroad_speed_mps=1.0)
    a, b = router.snap([LatLon(60.0, 24.0)], mode="walk"), router.snap([LatLon(60.0, 24.01)], mode="walk")
    origin = LatLon(60.0, 24.0)
    assert router.times_from(origin, a, mode="walk")[0] == pytest.approx(0.0)  # fills a's cache
    moved = dataclasses.replace(a, t=b.t, seg=b.seg, offroad_m=b.offroad_m)
    assert router.times_from(origin, moved, mode="walk")[0] == pytest.approx(100.0)
    both = Snapped.concat([a, b])
    assert router.times_from(origin, both, mode="walk") == pytest.approx([0.0, 100.0])


def test_snap_finds_the_nearest_segment_as_brute_force_does(helsinki_router: object) -> None:
    """Every point gets the segment at the least distance (the lowest index among equals, e.g. at a shared node),
    and exactly the points farther than the limit from every segment get none."""
    import shapely

    from lifechain.geo.network import snap_points

    segs = helsinki_router.graphs["drive"].segs  # type: ignore[attr-defined]
    rng = np.random.default_rng(3)
    node = rng.integers(0, segs.xy.shape[0], 400)
    xy = segs.xy[node] + rng.normal(0, 150, (400, 2))
    xy[:25] = segs.xy[node[:25]]  # on nodes: several segments at distance 0
    lat, lon = segs.proj.inverse(xy)
    res = snap_points(segs, lat, lon, 120.0)
    dist = shapely.distance(segs.lines[None, :], shapely.points(segs.proj.forward(lat, lon))[:, None])
    nearest = dist.argmin(axis=1)
    within = dist.min(axis=1) <= 120.0
    assert 20 < (~within).sum() < 380  # both kinds are tested
    np.testing.assert_array_equal(res.seg, np.where(within, nearest, -1))
    np.testing.assert_allclose(res.offroad_m[within], dist.min(axis=1)[within], atol=1e-6)
