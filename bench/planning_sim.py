"""Benchmark: one replication of a year of Auckland (JEMSS model 1: ~102,000 calls, its stations, ambulances and
hospitals, its call distributions) on the live dispatch core, volunteers off.

Demand cells: 3,000 road nodes of the JEMSS Auckland graph, uniformly weighted (the population raster is a zipped
GeoTIFF not read yet). Travel: straight line x 1.3 at 50 km/h (emergency) / 40 km/h, precomputed into a
MatrixRouter; the per-call dispatch decision is still `lifechain.dispatch.core.recommend_units`.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import time
import zipfile
from pathlib import Path

import numpy as np

from lifechain.geo.jemss import read_tables
from lifechain.planning import core, flows

SHARED = Path(os.environ.get("LIFECHAIN_SHARED_DATA") or Path(__file__).resolve().parents[1].parent / "shared" / "data")
MODEL = SHARED / "jemss" / "auckland" / "models" / "1"


def auckland(model: Path, days: float, cells: int, seed: int) -> core.Scenario:
    """A scenario from the JEMSS Auckland model files (gen_config: 280 calls/day, priorities 57/24.5/18.5%)."""
    table = lambda p: next(iter(read_tables((model / p).read_text(encoding="utf-8-sig")).values()))  # noqa: E731
    stations, hospitals, ambulances = table("stations/stations_1.csv"), table("hospitals/hospitals_1.csv"), \
        table("ambulances/ambulances_1.csv")
    with zipfile.ZipFile(model / "travel" / "roads" / "roads.zip") as z:
        name = next(n for n in z.namelist() if n.endswith("nodes.csv"))
        nodes = next(iter(read_tables(z.read(name).decode("utf-8-sig")).values()))
    pick = np.random.default_rng(seed).choice(len(nodes), size=cells, replace=False)
    demand = [{"lat": float(r.y), "lon": float(r.x)} for r in nodes.iloc[pick].itertuples()]
    minutes = lambda m: {"kind": "exponential", "mean": m * 60}  # noqa: E731
    return core.Scenario.model_validate({
        "name": "auckland-jemss-1", "seed": seed, "days": days,
        "stations": [{"id": int(r.index), "lat": float(r.y), "lon": float(r.x)} for r in stations.itertuples()],
        "units": [{"id": int(r.index), "station": int(r.stationIndex)} for r in ambulances.itertuples()],
        "hospitals": [{"id": int(r.index), "name": str(r.name), "lat": float(r.y), "lon": float(r.x)}
                      for r in hospitals.itertuples()],
        "demand": demand,
        "calls": {"rate_per_day": 280, "priorities": {1: 0.57, 2: 0.245, 3: 0.185}},
        "durations": {"dispatch_delay": {"kind": "fixed", "mean": 50}, "on_scene": minutes(12),
                      "transport_probability": 0.8, "handover": minutes(12)},
        "travel": {"kind": "straight", "speed_kmh": 50, "regular_speed_kmh": 40},
        "dispatch_policy": {"redispatch": []},
    })


def main() -> None:
    """Build the scenario, time one replication, print the figures (and the top of a profile with --profile)."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--days", type=float, default=365.0)
    ap.add_argument("--cells", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--model", type=Path, default=MODEL)
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    sc = auckland(args.model, args.days, args.cells, args.seed)
    t0 = time.perf_counter()
    router = flows.matrix_router(sc)
    t_matrix = time.perf_counter() - t0
    prof = cProfile.Profile() if args.profile else None
    t0 = time.perf_counter()
    if prof:
        prof.enable()
    run = core.run_replication(sc, router, core.replication_seeds(sc, 1)[0])
    if prof:
        prof.disable()
    t_run = time.perf_counter() - t0
    summary = core.summarise(run, targets_min=sc.targets_min, arrest=sc.arrest)
    n = len(run.times)
    print(f"Auckland JEMSS model 1: {len(sc.stations)} stations, {len(sc.units)} ambulances, "
          f"{len(sc.hospitals)} hospitals, {args.cells} demand cells, {args.days:g} days")
    print(f"  matrix precompute: {t_matrix:.2f} s")
    print(f"  one replication: {n} calls in {t_run:.2f} s ({1e6 * t_run / n:.0f} us per call)"
          f"  target <= 30 s: {'met' if t_run <= 30 else 'MISSED'}")
    print(f"  mean response {summary['all.mean_response_min']:.2f} min; within 8 min "
          f"{summary['all.within_8_min']:.1%}; queued {summary['queued_share']:.1%}; "
          f"utilisation {summary['mean_utilisation']:.1%}")
    if prof:
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(12)
        print(out.getvalue())


if __name__ == "__main__":
    main()
