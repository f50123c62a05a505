"""Benchmark: one replication of a year of Auckland (JEMSS model 1: ~102,000 calls, its stations, ambulances and
hospitals, its call distributions from gen_config.xml) on the live dispatch core, volunteers off, diversions off
(--redispatch keeps the default redispatch table).

The scenario comes from `flows.import_jemss` (what `lifechain plan import-jemss` writes): demand from the
population raster (40 m cells summed over --block x --block). Travel: straight line x 1.3 at 50/40 km/h by default,
or the geo router of an imported city with --city NAME --cities-dir DIR (`lifechain city import
.../auckland/models/1 --name auckland`); either way precomputed into a MatrixRouter, and every dispatch decision
is still `lifechain.dispatch.core.recommend_units`.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import time
from pathlib import Path

from lifechain.geo.repo import CityStore
from lifechain.planning import core, flows

SHARED = Path(os.environ.get("LIFECHAIN_SHARED_DATA") or Path(__file__).resolve().parents[1].parent / "shared" / "data")
MODEL = SHARED / "jemss" / "auckland" / "models" / "1"


def main() -> None:
    """Build the scenario, time one replication, print the figures (and the top of a profile with --profile)."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--days", type=float, default=365.0)
    ap.add_argument("--block", type=int, default=10, help="raster cells summed per demand point")
    ap.add_argument("--city", default=None, help="imported geo city for travel (else straight line)")
    ap.add_argument("--cities-dir", type=Path, default=None)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--model", type=Path, default=MODEL)
    ap.add_argument("--redispatch", action="store_true", help="keep the default redispatch table (diversions on)")
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    data = flows.import_jemss(args.model, city=args.city, days=args.days, block=args.block, seed=args.seed)
    if not args.redispatch:
        data["dispatch_policy"] = {"redispatch": []}
    t0 = time.perf_counter()
    sc, router, travel = flows.prepare(core.Scenario.model_validate(data),
                                    cities=None if args.cities_dir is None else CityStore(args.cities_dir))
    t_matrix = time.perf_counter() - t0
    prof = cProfile.Profile() if args.profile else None
    t0, c0 = time.perf_counter(), time.process_time()
    if prof:
        prof.enable()
    run = core.run_replication(sc, router, core.replication_seeds(sc, 1)[0])
    if prof:
        prof.disable()
    t_run, c_run = time.perf_counter() - t0, time.process_time() - c0
    summary = core.summarise(run, targets_min=sc.targets_min, arrest=sc.arrest)
    n = len(run.times)
    print(f"Auckland JEMSS model 1: {len(sc.stations)} stations, {len(sc.units)} ambulances, "
          f"{len(sc.hospitals)} hospitals, {len(sc.demand)} demand points, {args.days:g} days; travel {travel}")
    print(f"  matrix precompute: {t_matrix:.2f} s")
    print(f"  one replication: {n} calls in {t_run:.2f} s ({1e6 * t_run / n:.0f} us per call; CPU {c_run:.2f} s)"
          f"  target <= 30 s: {'met' if t_run <= 30 else 'MISSED'}")
    print(f"  mean response {summary['all.mean_response_min']:.2f} min; within 8 min "
          f"{summary['all.within_8_min']:.1%}; queued {summary['queued_share']:.1%}; "
          f"utilisation {summary['mean_utilisation']:.1%}; redispatches {run.redispatches}; "
          f"place-to-place times asked {len(router.pair_cache)}")
    if prof:
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(12)
        print(out.getvalue())


if __name__ == "__main__":
    main()
