"""Simulation travel: moving units are timed exactly where it matters, and the source router survives processes."""

from __future__ import annotations

import math
import pickle
from typing import Any

import numpy as np
import pytest
from tests.planning.test_simulate import scenario

from lifechain.errors import Invalid
from lifechain.geo.core import LatLon
from lifechain.planning import flows
from lifechain.planning.travel import FleetRouter, Moving, StraightRouter, build_matrix_router


class Counting:
    """A straight-line source router that counts the questions it is asked."""

    def __init__(self) -> None:
        self.router = StraightRouter(city="t", speed_mps={"emergency": 12.0, "regular": 9.0}, detour=1.3)
        self.city, self.asked = "t", 0

    def matrix(self, origins: Any, destinations: Any, **kw: Any) -> Any:
        self.asked += 1
        return self.router.matrix(origins, destinations, **kw)


def test_fleet_router_times_the_fastest_unit_exactly_and_asks_the_source_only_when_it_could_win() -> None:
    """Against brute force over both legs of every moving unit: the fastest origin and its time are exact, every
    other time is an upper bound, and place-to-place legs that cannot win are never asked of the source."""
    rng = np.random.default_rng(7)
    stations = [LatLon(60.1 + rng.uniform(0, 0.1), 24.8 + rng.uniform(0, 0.2)) for _ in range(4)]
    cells = [LatLon(60.1 + rng.uniform(0, 0.1), 24.8 + rng.uniform(0, 0.2)) for _ in range(80)]
    src = Counting()
    m = build_matrix_router(src, anchors=stations, cells=cells, hospitals=[])
    fleet = FleetRouter(m)
    exact = src.router.matrix(m.places, m.places, profile="emergency")
    far_legs, asked_before = 0, src.asked
    for _ in range(300):
        fleet.now_s = now = float(rng.uniform(0, 3600))
        origins: list[LatLon] = [stations[int(rng.integers(4))]]
        brute = [float(exact[m.place(origins[0]), 0])]
        d = int(rng.integers(m.n_anchors, len(m.places)))
        brute[0] = float(exact[m.place(origins[0]), d])
        for _ in range(5):
            a, b = (int(x) for x in rng.integers(0, len(m.places), 2))
            left_at, to_at = now + float(rng.uniform(-900, 300)), now + float(rng.uniform(0, 900))
            origins.append(Moving(m.places[a].lat, m.places[a].lon, a, left_at, b, to_at))
            brute.append(min(abs(now - left_at) + exact[a, d], max(to_at - now, 0.0) + exact[b, d]))
            far_legs += (a >= m.n_anchors) + (b >= m.n_anchors)
        got = fleet.times_to(origins, m.places[d], profile="emergency")
        best = int(np.argmin(got))
        assert got[best] == pytest.approx(min(brute), abs=1e-6)
        assert brute[best] == pytest.approx(min(brute), abs=1e-6)
        assert (got >= np.asarray(brute) - 1e-6).all()
    asked = src.asked - asked_before
    assert 0 < asked < far_legs / 3  # the lower bound spared most place-to-place questions


def test_via_names_the_place_a_moving_unit_goes_through() -> None:
    """Early on its way home a unit turns back through the scene; late, it goes on through its station."""
    stations = [LatLon(60.0, 24.0)]
    scene, call = LatLon(60.0, 24.2), LatLon(60.0, 24.21)
    m = build_matrix_router(Counting(), anchors=stations, cells=[scene, call], hospitals=[])
    s, p = m.place(stations[0]), m.place(scene)
    home = m.time(p, s, "regular")
    unit = Moving(scene.lat, scene.lon, p, 0.0, s, home)
    fleet = FleetRouter(m, now_s=30.0)
    eta = float(fleet.times_to([unit], call)[0])
    assert eta == pytest.approx(30.0 + m.time(p, m.place(call), "emergency"))
    assert fleet.via(unit, call, "emergency", eta) == (p, 60.0)
    fleet.now_s = home - 5.0
    eta = float(fleet.times_to([unit], call)[0])
    assert eta == pytest.approx(5.0 + m.time(s, m.place(call), "emergency"))
    assert fleet.via(unit, call, "emergency", eta) == (s, home)


def test_the_source_router_is_not_pickled_and_is_attached_again() -> None:
    """A router sent to a worker process loses its source; `flows.attach_source` gives it back, and place-to-place
    questions then work as before."""
    sc = scenario()
    sc, router, _ = flows.prepare(sc)
    a, b = router.n_anchors, router.n_anchors + 1
    before = router.time(a, b, "emergency")
    copy = pickle.loads(pickle.dumps(router))
    assert copy.source is None and copy.pair_cache == {}
    with pytest.raises(Invalid, match="source router"):
        copy.time(a, b, "emergency")
    flows.attach_source(copy, sc, cities=None)
    assert copy.time(a, b, "emergency") == pytest.approx(before) and math.isfinite(before) and before > 0


def test_replications_in_worker_processes_repeat_the_in_process_ones() -> None:
    """Two worker processes (each re-attaching the source router) give the very figures of a single process."""
    sc = scenario(days=1)
    one = flows.run_scenario(sc, replications=2)
    two = flows.run_scenario(sc, replications=2, workers=2)
    assert one["runs"] == two["runs"]
