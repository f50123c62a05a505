"""Benchmark: `recommend_units` for one call with 300 units on the Auckland road network (target p99 <= 5 ms).

Run: PYTHONPATH=src .venv/bin/python bench/dispatch_core.py [--calls 500] [--units 300]
Needs ../shared/data/jemss/auckland/models/1 (or LIFECHAIN_SHARED_DATA). Prints the end-to-end figures
(core + router) and the core alone (with the router's answers replayed), so the share of each is visible.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from lifechain.dispatch.core import DispatchPolicy, IncidentState, recommend_units
from lifechain.fleet.core import UnitState, UnitStatus, UnitType
from lifechain.geo.core import LatLon

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("LIFECHAIN_SHARED_DATA") or ROOT.parent / "shared" / "data")
MODEL = SHARED / "jemss" / "auckland" / "models" / "1"
NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def load_city(cities: Path) -> tuple[Any, list[LatLon], np.ndarray]:
    """Import Auckland the way the service does and open its contraction-hierarchy router, stations and nodes."""
    from lifechain.geo.flows import import_city
    from lifechain.geo.repo import CityStore

    import_city(str(MODEL), name="auckland", cities_dir=cities, now=NOW)
    store = CityStore(cities)
    router = store.router("auckland", "ch")
    stations = [LatLon(p["lat"], p["lon"]) for p in store.places("auckland")["stations"]]
    with np.load(cities / "auckland" / "drive.npz") as net:
        nodes = np.column_stack([net["lat"], net["lon"]])
    return router, stations, nodes


class SnapEveryCallRouter:
    """Wraps the geo router but snaps every position anew on each call (what the router's snap cache avoids)."""

    def __init__(self, router: Any) -> None:
        self.router, self.city = router, router.city

    def times_to(self, origins: Sequence[LatLon], destination: LatLon, **kw: Any) -> np.ndarray:
        return self.router.times_to(self.router.snap(list(origins), mode=kw.get("mode", "drive")), destination, **kw)


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


def run(calls: list[IncidentState], units: list[UnitState], router: Any, policy: DispatchPolicy, *,
        warmup: int) -> list[float]:
    """Seconds per recommendation, after `warmup` untimed calls."""
    for c in calls[:warmup]:
        recommend_units(c, units, router, now=NOW, policy=policy)
    times = []
    for c in calls:
        t = time.perf_counter()
        recommend_units(c, units, router, now=NOW, policy=policy)
        times.append(time.perf_counter() - t)
    return times


def summary(xs: list[float]) -> str:
    ms = np.array(xs) * 1000
    p50, p95, p99, top = np.percentile(ms, [50, 95, 99, 100])
    return f"p50 {p50:.2f} ms  p95 {p95:.2f} ms  p99 {p99:.2f} ms  max {top:.2f} ms"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=500)
    ap.add_argument("--units", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if not MODEL.exists():
        print(f"needs {MODEL} (set LIFECHAIN_SHARED_DATA)")
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        router, stations, nodes = load_city(Path(tmp) / "cities")
        print(f"router: geo CHRouter (pyroutingkit CCH) on Auckland; import + load {time.perf_counter() - t0:.1f} s")
        measure(args, router, stations, nodes)
    return 0


def measure(args: argparse.Namespace, router: Any, stations: list[LatLon], nodes: np.ndarray) -> None:
    """Time the recommendation end to end (with and without repeated snapping) and the core alone."""
    rng = np.random.default_rng(args.seed)
    units = make_units(rng, nodes, stations, args.units)
    policy = DispatchPolicy()
    calls = [IncidentState(i, LatLon(*nodes[int(rng.integers(len(nodes)))]), int(rng.choice([1, 1, 2, 3])),
                           frozenset(), NOW) for i in range(args.calls)]
    print(f"recommend_units, {args.units} units, {args.calls} calls on Auckland ({len(nodes)} drive nodes), "
          f"one many-to-one router call per recommendation (target p99 <= 5 ms)")
    runs: list[list[np.ndarray]] = []
    for label, r in (("end-to-end, positions snapped anew on every call", SnapEveryCallRouter(router)),
                     ("end-to-end, the router's snap cache (positions seen before)", router)):
        runs.append([])
        times = run(calls, units, _Recorder(r, runs[-1]), policy, warmup=20)
        print(f"  {label}: {summary(times)}")
    same = all(np.allclose(a, b, equal_nan=True) for a, b in zip(runs[0], runs[1], strict=True))
    print(f"  cached snapping gives the same ETAs as snapping every call: {same}")
    core = run(calls, units, Replay(runs[1][20:]), policy, warmup=0)  # same calls, same order: same answers
    print(f"  core alone (router answers replayed): {summary(core)}")


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
