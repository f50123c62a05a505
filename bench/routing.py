"""Routing engines compared on Helsinki (built in) and Auckland (shared JEMSS data, skipped when absent).

Prints import time, router load time and memory, server start time (a fresh `lifechain serve` until it answers a
route on the city), and p50/p99 latency per query kind for the scipy (bounded Dijkstra) and ch (contraction
hierarchy, pyroutingkit) engines.
Run: `make bench` or `PYTHONPATH=src .venv/bin/python bench/routing.py [--quick]`.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from lifechain.geo.core import LatLon
from lifechain.geo.flows import import_city
from lifechain.geo.repo import CityStore

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("LIFECHAIN_SHARED_DATA") or ROOT.parent / "shared" / "data")
TARGETS = {"many_to_one_300_30min_ms": 5.0, "one_to_many_walk_6min_ms": 2.0, "matrix_1000_s": 2.0,
           "import_s": 30.0, "server_start_s": 1.0}


def rss_mb() -> float:
    """Resident memory of this process in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def timed(fn: Callable[[], Any], n: int) -> tuple[float, float, float, float]:
    """Wall-clock p50 and p99, then this thread's CPU-time p50 and p99, of `n` calls in ms (after a warm-up).

    The CPU times leave out waiting for a core, which dominates the wall p99 on a shared, oversubscribed machine.
    """
    fn()
    wall, cpu = [], []
    for _ in range(n):
        t0, c0 = time.perf_counter(), time.thread_time()
        fn()
        cpu.append((time.thread_time() - c0) * 1000)
        wall.append((time.perf_counter() - t0) * 1000)
    return (float(np.percentile(wall, 50)), float(np.percentile(wall, 99)), float(np.percentile(cpu, 50)),
            float(np.percentile(cpu, 99)))


def points(router: Any, mode: str, n: int, rng: np.random.Generator, jitter_m: float = 20.0) -> tuple[Any, Any]:
    """`n` random positions near nodes of the `mode` network (lat, lon arrays)."""
    net = router.graphs[mode].net
    idx = rng.integers(0, net.n_nodes, n)
    dlat = rng.normal(0, jitter_m / 111_000, n)
    dlon = rng.normal(0, jitter_m / 111_000 / np.cos(np.radians(net.lat[idx])), n)
    return net.lat[idx] + dlat, net.lon[idx] + dlon


def compile_sources() -> None:
    """Write the bytecode of the project's own modules, as an installed server has it: with
    PYTHONDONTWRITEBYTECODE set (as on the benchmark machine) every start would otherwise compile ~13k lines
    of source again (~0.13 s), a cost no deployed server pays."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "src" / "lifechain")], check=True,
                   stdout=subprocess.DEVNULL)


def bench_token() -> str:
    """A dispatcher's bearer token signed with the demo secret (the benchmark server runs in demo mode)."""
    from lifechain.auth.core import Principal, Role
    from lifechain.auth.flows import issue_token
    from lifechain.settings import DEMO_SECRET

    who = Principal(id=1, username="bench", display_name="Benchmark", roles=frozenset({Role.DISPATCHER}))
    return issue_token(who, secret=DEMO_SECRET, now=datetime.now(UTC), ttl_s=3600)


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far (Linux; NaN elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_start_s(data_dir: Path, city: str, origin: LatLon,
                   destination: LatLon) -> tuple[float, float, float]:
    """Seconds from launching `lifechain serve` (a fresh process: schema check, app, city) to its first health
    answer and to its first answer to a drive route between two points of the city (200 with a route), and the
    CPU seconds the server had used by then (unlike the wall time, hardly affected by other work on the machine)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "LIFECHAIN_DEMO_MODE": "1", "LIFECHAIN_DEFAULT_CITY": city, "PYTHONPATH": str(ROOT / "src")}
    base = f"http://127.0.0.1:{port}/api/v1"
    route = urllib.request.Request(
        f"{base}/cities/{city}/route?from={origin.lat},{origin.lon}&to={destination.lat},{destination.lon}",
        headers={"Authorization": f"Bearer {bench_token()}"})
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "lifechain", "--data-dir", str(data_dir), "serve", "--port",
                             str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    health = float("nan")
    try:
        while time.perf_counter() - t0 < 60:
            try:
                if health != health:
                    urllib.request.urlopen(f"{base}/health", timeout=5).read()
                    health = time.perf_counter() - t0
                with urllib.request.urlopen(route, timeout=10) as resp:
                    body = json.loads(resp.read())
                routed, cpu = time.perf_counter() - t0, process_cpu_s(proc.pid)
                if not body["seconds"] > 0:
                    raise RuntimeError(f"route answer without a route: {body}")
                return health, routed, cpu
            except urllib.error.HTTPError:
                raise
            except OSError:
                time.sleep(0.01)
        return health, float("nan"), float("nan")
    finally:
        proc.terminate()
        proc.wait(10)


def server_starts(data_dir: Path, city: str, router: Any, runs: int) -> str:
    """`runs` fresh server starts (after one that creates the database): median seconds to health and to a
    route, and each start's route time."""
    rng = np.random.default_rng(7)
    lat, lon = points(router, "drive", 2, rng, jitter_m=5.0)
    a, b = LatLon(float(lat[0]), float(lon[0])), LatLon(float(lat[1]), float(lon[1]))
    compile_sources()
    server_start_s(data_dir, city, a, b)  # creates and migrates the database: every later start finds it current
    times = [server_start_s(data_dir, city, a, b) for _ in range(runs)]
    health, routed, cpu = (float(np.median([t[i] for t in times])) for i in range(3))
    return (f"server start (new process, schema check, city, until a route answer) median {routed:.2f} s "
            f"[{', '.join(f'{t[1]:.2f}' for t in times)}], health after {health:.2f} s, server CPU {cpu:.2f} s "
            f"(target <= {TARGETS['server_start_s']:.0f} s)")


def bench_city(name: str, source: str, data_dir: Path, quick: bool) -> None:
    """Import one city and measure both engines on it."""
    cities = data_dir / "cities"
    t0 = time.perf_counter()
    manifest = import_city(source, name=name, cities_dir=cities, now=datetime.now(UTC))
    import_s = time.perf_counter() - t0
    drive = manifest["networks"]["drive"]
    print(f"\n## {name}: drive {drive['nodes']} nodes / {drive['arcs']} arcs, "
          f"walk {manifest['networks']['walk']['nodes']} nodes / {manifest['networks']['walk']['arcs']} arcs")
    print(f"import {import_s:.2f} s (target <= {TARGETS['import_s']:.0f} s on Auckland)")
    start_in_process = time.perf_counter()
    router = CityStore(cities).router(name, "ch")
    router.route(*[LatLon(float(la), float(lo)) for la, lo in zip(*points(router, "drive", 2,
                                                                            np.random.default_rng(1)), strict=True)])
    print(f"router load and first route (ch, in process) {time.perf_counter() - start_in_process:.2f} s")
    print(server_starts(data_dir, name, router, 3 if quick else 5))
    n = 50 if quick else 200
    print(f"{'engine':6} {'query':44} {'p50':>10} {'p99':>10} {'cpu p50':>10} {'cpu p99':>10}")
    for engine in ("scipy", "ch"):
        load_s, mem_mb = load_in_fresh_process(cities, name, engine)
        print(f"{engine:6} load {load_s:.2f} s, memory {mem_mb:.0f} MB (fresh process, router loaded and warm)")
        bench_engine(engine, CityStore(cities).router(name, engine), n)


def load_in_fresh_process(cities: Path, name: str, engine: str) -> tuple[float, float]:
    """Seconds to load a router and build all its parts (`warm`), and the RSS growth it causes, measured in a fresh
    Python process."""
    code = ("import sys, time; from bench.routing import rss_mb; from lifechain.geo.repo import CityStore; "
            "b = rss_mb(); t = time.perf_counter(); r = CityStore(sys.argv[1]).router(sys.argv[2], sys.argv[3]); "
            "r.warm(); "
            "print(time.perf_counter() - t, rss_mb() - b)")
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
    out = subprocess.run([sys.executable, "-c", code, str(cities), name, engine], env=env, capture_output=True,
                         text=True, check=True).stdout.split()
    return float(out[0]), float(out[1])


def bench_engine(engine: str, router: Any, n: int) -> None:
    """Latency of each query kind on one router."""
    rng = np.random.default_rng(42)
    units = router.snap_arrays(*points(router, "drive", 300, rng), mode="drive")
    ilat, ilon = points(router, "drive", n + 1, rng)
    volunteers = router.snap_arrays(*points(router, "walk", 20_000, rng), mode="walk")
    aeds = router.snap_arrays(*points(router, "walk", 2_000, rng), mode="walk")
    incidents = [LatLon(float(la), float(lo)) for la, lo in zip(ilat, ilon, strict=True)]
    it = iter(range(10**9))

    def nxt() -> LatLon:
        return incidents[next(it) % len(incidents)]

    def volunteers_and_aeds() -> None:
        at = nxt()
        router.times_from(at, volunteers, mode="walk", limit_s=360)
        router.times_from(at, aeds, mode="walk", limit_s=360)

    rows = [
        ("route drive (point to point)", lambda: router.route(nxt(), nxt())),
        ("many-to-one 300 units, 30 min, emergency", lambda: router.times_to(units, nxt(), limit_s=1800)),
        ("many-to-one 300 units, 20 min, emergency", lambda: router.times_to(units, nxt(), limit_s=1200)),
        ("one-to-many walk 6 min, 20,000 volunteers",
         lambda: router.times_from(nxt(), volunteers, mode="walk", limit_s=360)),
        ("volunteers: 20k + 2k AEDs walk 6 min", volunteers_and_aeds),
        ("isochrone drive 8 min", lambda: router.isochrone(nxt(), 480)),
    ]
    for label, fn in rows:
        p50, p99, c50, c99 = timed(fn, n if "isochrone" not in label else max(10, n // 10))
        print(f"{engine:6} {label:44} {p50:8.2f}ms {p99:8.2f}ms {c50:8.2f}ms {c99:8.2f}ms")
    big = router.snap_arrays(*points(router, "drive", 1000, rng), mode="drive")
    t0 = time.perf_counter()
    router.matrix(big, big)
    print(f"{engine:6} {'matrix 1000 x 1000 drive':44} {time.perf_counter() - t0:9.2f}s")


def main() -> None:
    """Benchmark Helsinki and, when the shared data is present, Auckland."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer samples")
    parser.add_argument("--city", choices=["helsinki", "auckland"], help="only this city")
    args = parser.parse_args()
    print(f"routing benchmark, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; targets: {TARGETS}")
    with tempfile.TemporaryDirectory() as tmp:
        if args.city in (None, "helsinki"):
            bench_city("helsinki", "builtin:helsinki", Path(tmp) / "h", args.quick)
        auckland = SHARED / "jemss" / "auckland" / "models" / "1"
        if args.city in (None, "auckland"):
            if auckland.is_dir():
                bench_city("auckland", str(auckland), Path(tmp) / "a", args.quick)
            else:
                print(f"\nAuckland skipped: {auckland} absent (set LIFECHAIN_SHARED_DATA)")


if __name__ == "__main__":
    main()
