"""Benchmark: `recommend_units` for one call with 300 units on the Auckland road network (target p99 <= 5 ms).

Run: PYTHONPATH=src .venv/bin/python bench/dispatch_core.py [--calls 500] [--units 300]
Needs ../shared/data/jemss/auckland/models/1. Prints the end-to-end figures (core + router) and the core alone (with
the router's answers replayed), so the share of each is visible.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from lifechain.dispatch.core import DispatchPolicy, IncidentState, recommend_units
from lifechain.fleet.core import UnitState, UnitStatus, UnitType
from lifechain.geo.core import LatLon

MODEL = Path(__file__).resolve().parents[2] / "shared" / "data" / "jemss" / "auckland" / "models" / "1"
NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def load_router() -> tuple[Any, str]:
    """The geo domain's router on Auckland (contraction hierarchy), built from the JEMSS model."""
    from lifechain.geo import engines, jemss, network

    city = jemss.read_jemss(MODEL)
    drive = network.largest_scc(city.drive).net
    walk = network.largest_scc(city.walk).net
    return engines.CHRouter("auckland", {"drive": drive, "walk": walk}), "geo CHRouter (pyroutingkit CCH)"


class Replay:
    """A router that answers from precomputed arrays (to time the core alone)."""

    city = "replay"

    def __init__(self, answers: list[np.ndarray]) -> None:
        self.answers = answers
        self.i = 0

    def times_to(self, origins: Sequence[LatLon], destination: LatLon, **_: Any) -> np.ndarray:
        out = self.answers[self.i % len(self.answers)]
        self.i += 1
        return out


def make_units(rng: np.random.Generator, nodes: np.ndarray, stations: list[LatLon], n: int) -> list[UnitState]:
    """`n` units over the real stations: mixed ALS/BLS, statuses, fresh and stale GPS fixes on road nodes."""
    statuses = [UnitStatus.AVAILABLE_AT_STATION] * 5 + [UnitStatus.AVAILABLE_RETURNING] * 2 + [
        UnitStatus.EN_ROUTE, UnitStatus.ON_SCENE, UnitStatus.TRANSPORTING, UnitStatus.OUT_OF_SERVICE]
    units = []
    for i in range(n):
        status = statuses[int(rng.integers(len(statuses)))]
        lat, lon = nodes[int(rng.integers(len(nodes)))]
        age = float(rng.choice([10.0, 60.0, 600.0]))
        busy = status in (UnitStatus.EN_ROUTE, UnitStatus.ON_SCENE, UnitStatus.TRANSPORTING)
        units.append(UnitState(i + 1, f"AK{i + 1:03d}", UnitType.ALS if rng.random() < 0.6 else UnitType.BLS,
                               status, stations[i % len(stations)], LatLon(lat, lon), NOW - timedelta(seconds=age),
                               1000 + i if busy else None, int(rng.integers(2, 4)) if busy else None))
    return units


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.array(xs) * 1000, q))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=500)
    ap.add_argument("--units", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if not MODEL.exists():
        print(f"needs {MODEL}")
        return 1
    t0 = time.perf_counter()
    router, engine = load_router()
    print(f"router: {engine}; built in {time.perf_counter() - t0:.1f} s")
    g = router._graph("drive")  # the snapped node coordinates, to place calls and units on roads
    nodes = np.column_stack([g.net.lat, g.net.lon])
    from lifechain.geo.jemss import _points

    stations = [LatLon(p["lat"], p["lon"]) for p in _points(MODEL / "stations" / "stations_1.csv", "station")]
    rng = np.random.default_rng(args.seed)
    units = make_units(rng, nodes, stations, args.units)
    policy = DispatchPolicy()
    calls = [IncidentState(i, LatLon(*nodes[int(rng.integers(len(nodes)))]), int(rng.choice([1, 1, 2, 3])),
                           frozenset(), NOW) for i in range(args.calls)]
    for c in calls[:20]:  # warm-up
        recommend_units(c, units, router, now=NOW, policy=policy)
    times, answers = [], []
    recorder = _Recorder(router, answers)
    for c in calls:
        t = time.perf_counter()
        recommend_units(c, units, recorder, now=NOW, policy=policy)
        times.append(time.perf_counter() - t)
    replay = Replay(answers)
    core = []
    for c in calls:
        t = time.perf_counter()
        recommend_units(c, units, replay, now=NOW, policy=policy)
        core.append(time.perf_counter() - t)
    print(f"recommend_units, {args.units} units, {args.calls} calls on Auckland "
          f"({len(nodes)} drive nodes), one many-to-one router call per recommendation")
    print(f"  end-to-end (core + router): p50 {pct(times, 50):.2f} ms  p95 {pct(times, 95):.2f} ms  "
          f"p99 {pct(times, 99):.2f} ms  max {pct(times, 100):.2f} ms  (target p99 <= 5 ms)")
    print(f"  core alone (router replayed): p50 {pct(core, 50):.2f} ms  p99 {pct(core, 99):.2f} ms")
    return 0


class _Recorder:
    """Passes calls to the real router and keeps its answers for the replay."""

    def __init__(self, router: Any, answers: list[np.ndarray]) -> None:
        self.router, self.answers, self.city = router, answers, router.city

    def times_to(self, origins: Sequence[LatLon], destination: LatLon, **kw: Any) -> np.ndarray:
        out = self.router.times_to(origins, destination, **kw)
        self.answers.append(np.array(out))
        return out


if __name__ == "__main__":
    sys.exit(main())
