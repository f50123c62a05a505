"""Benchmark: the full volunteer alert plan (who, which role, via which AED) for one arrest on Auckland with 20,000
on-duty volunteers and 2,000 AEDs (target p99 <= 20 ms).

Run: PYTHONPATH=src .venv/bin/python bench/volunteers.py [--arrests 300] [--volunteers 20000] [--aeds 2000]
Needs ../shared/data/jemss/auckland/models/1 and the geo engines. Volunteers and AEDs stand near random nodes of the
walking network (so density follows the streets); each arrest is at a random node with an ambulance 5-15 min away.
Two figures: responders handed over as plain lists (pools built and candidates snapped per call, what a one-off
caller pays) and as `ResponderPool`/`AedPool` built and snapped once (what the planning simulation keeps between
calls, and what a live service keeps by snapping each position when it arrives).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from lifechain.geo.core import M_PER_DEG, LatLon
from lifechain.volunteers.core import (
    Aed,
    AedPool,
    AlertPolicy,
    Qualification,
    QualificationKind,
    Responder,
    ResponderPool,
    parse_opening_hours,
    plan_alerts,
)


def _shared_data() -> Path:
    """../shared/data beside the checkout (searched upwards, so git worktrees find it too)."""
    for parent in Path(__file__).resolve().parents:
        if (parent / "shared" / "data").is_dir():
            return parent / "shared" / "data"
    return Path(__file__).resolve().parents[2] / "shared" / "data"


MODEL = _shared_data() / "jemss" / "auckland" / "models" / "1"
NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
CERT = (Qualification(QualificationKind.CPR, date(2025, 1, 1), date(2027, 12, 31)),)


def load_router() -> tuple[Any, Any]:
    """The geo domain's router on Auckland's walking network (derived from the JEMSS roads) and that network."""
    from lifechain.geo import engines, jemss, network

    city = jemss.read_jemss(MODEL)
    walk = network.largest_scc(city.walk).network
    return engines.ScipyRouter("auckland", {"walk": walk}), walk


def scatter(rng: np.random.Generator, walk: Any, n: int, jitter_m: float = 30.0) -> list[LatLon]:
    """`n` points near random walking-network nodes."""
    idx = rng.integers(0, walk.n_nodes, n)
    lat = walk.lat[idx] + rng.normal(0, jitter_m / M_PER_DEG, n)
    lon = walk.lon[idx] + rng.normal(0, jitter_m / M_PER_DEG / np.cos(np.radians(walk.lat[idx])), n)
    return [LatLon(float(a), float(b)) for a, b in zip(lat, lon, strict=True)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arrests", type=int, default=300)
    parser.add_argument("--volunteers", type=int, default=20_000)
    parser.add_argument("--aeds", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if not MODEL.is_dir():
        print(f"needs {MODEL} (the shared JEMSS Auckland model)", file=sys.stderr)
        return 2
    try:
        t = time.perf_counter()
        router, walk = load_router()
    except ImportError as exc:
        print(f"needs the geo engines (lifechain.geo.engines/jemss/network): {exc}", file=sys.stderr)
        return 2
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (the machine is shared: compare CPU time)")
    print(f"walking network: {walk.n_nodes} nodes, {walk.n_arcs} arcs, loaded in {time.perf_counter() - t:.1f} s")
    rng = np.random.default_rng(args.seed)
    office = parse_opening_hours("Mo-Fr 08:00-18:00")
    responders = [Responder(id=i + 1, kind="volunteer", position=p, qualifications=CERT, on_duty=True,
                            last_heartbeat=NOW - timedelta(seconds=int(rng.integers(0, 240))))
                  for i, p in enumerate(scatter(rng, walk, args.volunteers))]
    aeds = [Aed(id=i + 1, location=p, hours=office if i % 3 == 0 else parse_opening_hours("24/7"),
                timezone="Pacific/Auckland") for i, p in enumerate(scatter(rng, walk, args.aeds))]
    arrests = scatter(rng, walk, args.arrests, jitter_m=10.0)
    etas = rng.uniform(300, 900, args.arrests)
    policy = AlertPolicy()
    t = time.perf_counter()
    pools = (ResponderPool.build(responders, router=router), AedPool.build(aeds, router=router))
    print(f"pools built and snapped once in {time.perf_counter() - t:.2f} s")
    for label, (people, defibs) in (("plain lists", (responders, aeds)), ("prebuilt pools", pools)):
        times, cpu, alerted, via = [], [], [], []
        plan_alerts(arrests[0], people, defibs, router, now=NOW, ambulance_eta_s=600.0, policy=policy)  # warm-up
        for where, eta in zip(arrests, etas, strict=True):
            t, c = time.perf_counter(), time.process_time()
            plan = plan_alerts(where, people, defibs, router, now=NOW, ambulance_eta_s=float(eta), policy=policy)
            times.append((time.perf_counter() - t) * 1000)
            cpu.append((time.process_time() - c) * 1000)
            alerted.append(len(plan.alerts))
            via.append(sum(a.aed_id is not None for a in plan.alerts))
        p50, p95, p99 = np.percentile(times, [50, 95, 99])
        print(f"{label:15s} {args.arrests} arrests, {args.volunteers} volunteers, {args.aeds} AEDs: "
              f"wall p50 {p50:.1f} ms, p95 {p95:.1f} ms, p99 {p99:.1f} ms, max {max(times):.1f} ms; "
              f"CPU p50 {np.percentile(cpu, 50):.1f} ms, p99 {np.percentile(cpu, 99):.1f} ms; "
              f"alerted mean {np.mean(alerted):.1f} (via an AED {np.mean(via):.1f}), "
              f"none alerted in {sum(a == 0 for a in alerted)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
