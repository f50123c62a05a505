"""Benchmark: the dispatch API over HTTP against a real uvicorn server (targets: creating incidents >= 300/s on
SQLite and >= 500/s on PostgreSQL with p99 < 50 ms; a recommendation with 300 units on Auckland <= 30 ms, also while
an analyst's planning run works in the same server).

Run:  PYTHONPATH=src .venv/bin/python bench/dispatch_api.py [--pg postgresql+psycopg://postgres@127.0.0.1:5432/test]
      [--workers N] [--seconds 10] [--connections 8] [--cities-dir DIR]
Load comes from `wrk` (Debian package; a Python client tops out near 230 req/s on this machine, see
docs STACK.md). Each created incident is a real call: chest pain, triaged by the protocol (priority 1, STEMI), with
an Idempotency-Key, two timeline nodes and live-stream messages. The recommendation is timed with one connection
(latency, not throughput) on the JEMSS Auckland network with 300 units when ../shared/data is present, else on
central Helsinki.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2
from sqlalchemy import create_engine, text

from lifechain import db
from lifechain.db import transaction
from lifechain.dispatch import demo
from lifechain.geo.core import LatLon
from lifechain.geo.repo import CityStore

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
LUA = """
local n = 0
function setup(thread) n = n + 1; thread:set("tid", n) end
function init(args) counter = 0; run = args[1]; token = args[2]; body = args[3] end
function request()
  counter = counter + 1
  local headers = {}
  headers["Content-Type"] = "application/json"
  headers["Authorization"] = "Bearer " .. token
  headers["Idempotency-Key"] = run .. "-" .. tid .. "-" .. counter
  return wrk.format("POST", "/api/v1/incidents", headers, body)
end
"""
GET_LUA = """
function init(args) token = args[1] end
function request()
  return wrk.format("GET", nil, {["Authorization"] = "Bearer " .. token}, nil)
end
"""


def need_wrk() -> str:
    """The wrk binary, installed with apt when missing (root on this machine)."""
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk is not installed: installing the Debian package 'wrk' with apt-get ...", flush=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False, capture_output=True)
    found = shutil.which("wrk")
    if not found:
        sys.exit("wrk is needed for this benchmark: apt-get update && apt-get install -y wrk")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pg_schema(url: str) -> tuple[str, str]:
    """A fresh schema on the PostgreSQL server and the URL that uses it."""
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with create_engine(url).begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in url else "?"
    # The application name finds the server's backends, whose CPU time the bench reports (`postgres_cpu_s`).
    return schema, f"{url}{sep}options=-csearch_path%3D{schema}&application_name={schema}"


def auckland_model() -> Path | None:
    """JEMSS Auckland model 1 in ../shared/data beside the checkout (or beside a parent of it), if there."""
    return next((p / "shared" / "data" / "jemss" / "auckland" / "models" / "1" for p in ROOT.parents
                 if (p / "shared" / "data" / "jemss" / "auckland" / "models" / "1").is_dir()), None)


def prepare_city(data_dir: Path, cities_dir: Path | None) -> str:
    """Cities for the bench: reuse `cities_dir`, or import Auckland (JEMSS) when present, else central Helsinki."""
    target = data_dir / "cities"
    if cities_dir is not None:
        target.symlink_to(cities_dir.resolve(), target_is_directory=True)
        return "auckland" if (cities_dir / "auckland").is_dir() else "helsinki"
    from lifechain.geo.flows import import_city

    model = auckland_model()
    target.mkdir(parents=True)
    if model is not None:
        print("importing JEMSS Auckland for the recommendation bench (a minute or two) ...", flush=True)
        import_city(str(model), name="auckland", cities_dir=target, now=NOW)
        return "auckland"
    import_city("builtin:helsinki", name="helsinki", cities_dir=target, now=NOW)
    return "helsinki"


def load_world(url: str, data_dir: Path, city: str) -> None:
    """Schema, demo users, and about 300 units spread over the city's stations."""
    db.upgrade(url)
    store = CityStore(data_dir / "cities")
    places = store.places(city)
    stations = len(demo.city_sites(city, places)[0])
    engine = db.make_engine(url)
    with transaction(db.make_sessionmaker(engine)) as s:
        demo.load(session=s, city=city, places=places, now=NOW, units_per_station=-(-300 // stations))
    engine.dispose()


def start_server(url: str, data_dir: Path, city: str, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "LIFECHAIN_DATABASE_URL": url, "LIFECHAIN_DATA_DIR": str(data_dir),
           "LIFECHAIN_DEMO_MODE": "1", "LIFECHAIN_DEFAULT_CITY": city, "PYTHONPATH": str(ROOT / "src")}
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "lifechain.server.asgi:app", "--host", "127.0.0.1",
           "--port", str(port), "--workers", str(workers), "--log-level", "warning", "--no-access-log"]
    proc = subprocess.Popen(cmd, env=env)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx2.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                return proc, base
        except httpx2.HTTPError:
            pass
        time.sleep(0.1)
    proc.terminate()
    sys.exit("the server did not start")


def wrk(binary: str, url: str, script: str, args: list[str], *, seconds: int, connections: int,
        threads: int) -> dict[str, Any]:
    """Run wrk and parse requests/s, latency percentiles and error counts."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    out = subprocess.run([binary, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", f.name,
                          url, "--", *args], capture_output=True, text=True, check=True).stdout
    os.unlink(f.name)
    pct = {m[0]: _ms(m[1], m[2]) for m in re.findall(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)}
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
            "p50_ms": pct.get("50"), "p90_ms": pct.get("90"), "p99_ms": pct.get("99"),
            "requests": int(re.search(r"(\d+) requests in", out).group(1)),  # type: ignore[union-attr]
            "non_2xx": int(non2xx.group(1)) if non2xx else 0, "socket_errors": errors.group(1) if errors else None}


def server_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by the server process and its worker processes (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, IndexError, ValueError):
            continue
    return total


def postgres_cpu_s(admin_url: str, application_name: str) -> float:
    """CPU seconds used so far by the PostgreSQL backends named `application_name` and by the server's auxiliary
    processes (WAL writer, checkpointer, ...), read from /proc: PostgreSQL must run on this machine."""
    with create_engine(admin_url).connect() as conn:
        pids = conn.execute(text("SELECT pid FROM pg_stat_activity WHERE application_name = :n "
                                 "OR backend_type <> 'client backend'"), {"n": application_name}).scalars().all()
    return sum(_cpu_s(pid) for pid in pids)


def _cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_idle(pid: int, *, limit_s: float = 120.0) -> None:
    """Wait until the server has used almost no CPU for a second (start-up work done), at most `limit_s`."""
    end = time.monotonic() + limit_s
    last = server_cpu_s(pid)
    while time.monotonic() < end:
        time.sleep(1.0)
        now = server_cpu_s(pid)
        if now - last < 0.05:
            return
        last = now


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pg", help="PostgreSQL URL (a fresh schema is made and dropped); default SQLite.")
    ap.add_argument("--workers", type=int, default=None, help="Server processes (default 1 SQLite, 2 PostgreSQL).")
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--cities-dir", type=Path, help="Reuse imported cities (skips the Auckland import).")
    opts = ap.parse_args()
    binary = need_wrk()
    workers = opts.workers or (2 if opts.pg else 1)
    with tempfile.TemporaryDirectory(prefix="lc-bench-") as tmp:
        data_dir = Path(tmp)
        schema, url = pg_schema(opts.pg) if opts.pg else ("", f"sqlite:///{data_dir / 'bench.db'}")
        try:
            city = prepare_city(data_dir, opts.cities_dir)
            load_world(url, data_dir, city)
            proc, base = start_server(url, data_dir, city, workers)
            try:
                return run(binary, base, city, opts, workers, proc.pid, (opts.pg, schema) if opts.pg else None)
            finally:
                proc.terminate()
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    print("the server did not stop within 20 s of SIGTERM: killed")
                    proc.kill()
                    proc.wait()
        finally:
            if opts.pg:
                with create_engine(opts.pg).begin() as conn:
                    conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


def run(binary: str, base: str, city: str, opts: argparse.Namespace, workers: int, pid: int,
        pg: tuple[str, str] | None) -> int:
    backend = "postgresql" if pg else "sqlite"
    token = httpx2.post(f"{base}/api/v1/auth/token", data={"username": "dispatcher",
                                                          "password": demo.DEMO_PASSWORD}).json()["access_token"]
    store_places = httpx2.get(f"{base}/api/v1/cities/{city}/places", params={"limit": 5},
                             headers={"Authorization": f"Bearer {token}"}).json()["results"]
    spot = LatLon(store_places[0]["lat"], store_places[0]["lon"])
    body = json.dumps({"city": city, "location": {"lat": spot.lat, "lon": spot.lon}, "complaint": "chest_pain",
                       "answers": {"pain_now": "yes", "sweating_or_breathless": "yes"}, "address": "bench"})
    # The server warms the city's router in a background thread at start (seconds of CPU): measure after it.
    wait_idle(pid)
    # Warm-up with as many connections as the measured run (the server opens its database connections), then the
    # measured run.
    wrk(binary, base, LUA, [uuid.uuid4().hex, token, body], seconds=2, connections=opts.connections, threads=2)
    cpu0, pg0 = server_cpu_s(pid), postgres_cpu_s(*pg) if pg else 0.0
    created = wrk(binary, base, LUA, [uuid.uuid4().hex, token, body], seconds=opts.seconds,
                  connections=opts.connections, threads=2)
    cpu_ms = (server_cpu_s(pid) - cpu0) * 1000 / max(created["requests"], 1)
    pg_ms = ((postgres_cpu_s(*pg) - pg0) * 1000 / max(created["requests"], 1)) if pg else 0.0
    target = 500 if backend == "postgresql" else 300
    print(f"create incident ({backend}, {workers} worker(s), {opts.connections} connections, {opts.seconds} s): "
          f"{created['rps']:.0f}/s (target >= {target}), p50 {created['p50_ms']:.1f} ms, "
          f"p90 {created['p90_ms']:.1f} ms, p99 {created['p99_ms']:.1f} ms (target < 50), "
          f"{created['requests']} requests, non-2xx {created['non_2xx']}, socket errors {created['socket_errors']}; "
          f"server CPU {cpu_ms:.2f} ms per request (= {1000 / cpu_ms:.0f}/s per free core)"
          + (f", PostgreSQL CPU {pg_ms:.2f} ms per request (its backends for this server and its auxiliary "
             f"processes)" if pg else ""))
    print(f"machine load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
          "(other processes compete with server and wrk for the cores)")
    headers = {"Authorization": f"Bearer {token}"}
    made = httpx2.post(f"{base}/api/v1/incidents", headers=headers, json=json.loads(body), timeout=10)
    assert made.status_code == 201, made.text
    incident = made.json()["id"]
    units = len(httpx2.get(f"{base}/api/v1/units", headers=headers, params={"city": city}, timeout=30).json())
    rec_url = f"{base}/api/v1/incidents/{incident}/recommendation"
    first = httpx2.get(rec_url, headers=headers, timeout=30)
    assert first.status_code == 200, first.text
    rec = wrk(binary, rec_url, GET_LUA, [token], seconds=max(3, opts.seconds // 2), connections=1, threads=1)
    print(f"recommendation ({city}, {units} units, 1 connection): {rec['rps']:.0f}/s, p50 {rec['p50_ms']:.1f} ms, "
          f"p90 {rec['p90_ms']:.1f} ms, p99 {rec['p99_ms']:.1f} ms (target <= 30), non-2xx {rec['non_2xx']}")
    busy = recommendation_during_planning(binary, base, rec_url, token, city, opts)
    ok = (created["rps"] >= target and (created["p99_ms"] or 1e9) < 50 and (rec["p99_ms"] or 1e9) <= 30
          and (busy["p99_ms"] or 1e9) <= 30 and created["non_2xx"] == 0 and rec["non_2xx"] == 0
          and busy["non_2xx"] == 0)
    print("targets met" if ok else "TARGETS MISSED")
    return 0


def planning_scenario() -> dict[str, Any]:
    """A year of calls for a planning run: JEMSS Auckland (straight-line travel) when ../shared/data is there, else
    the shipped Helsinki scenario on straight-line travel."""
    import yaml

    from lifechain.planning import flows

    model = auckland_model()
    if model is not None:
        data = flows.import_jemss(model, days=365.0, block=10, seed=1)
        data["dispatch_policy"] = {"redispatch": []}
        return data
    data = yaml.safe_load((ROOT / "src" / "lifechain" / "planning" / "scenarios" / "helsinki.yaml").read_text())
    return {**data, "days": 365, "travel": {"kind": "straight"}}


def recommendation_during_planning(binary: str, base: str, rec_url: str, token: str, city: str,
                                   opts: argparse.Namespace) -> dict[str, Any]:
    """The recommendation again while an analyst's planning run (a year of calls, minutes of CPU) works in the same
    server: live dispatch must not wait for planning."""
    analyst = httpx2.post(f"{base}/api/v1/auth/token", data={"username": "analyst",
                                                            "password": demo.DEMO_PASSWORD}).json()["access_token"]
    headers = {"Authorization": f"Bearer {analyst}"}
    scenario = planning_scenario()
    made = httpx2.post(f"{base}/api/v1/planning/runs", headers=headers, json={"scenario": scenario}, timeout=60)
    assert made.status_code == 202, made.text
    run_url = f"{base}/api/v1/planning/runs/{made.json()['id']}"
    for _ in range(600):
        if httpx2.get(run_url, headers=headers, timeout=30).json()["status"] == "running":
            break
        time.sleep(0.1)
    time.sleep(3.0)  # the run under way (a spawned process imports the simulation first)
    busy = wrk(binary, rec_url, GET_LUA, [token], seconds=max(3, opts.seconds // 2), connections=1, threads=1)
    status = httpx2.get(run_url, headers=headers, timeout=30).json()["status"]
    print(f"recommendation while a planning run works ({scenario['name']}, {scenario['days']:g} days; "
          f"{'still running' if status == 'running' else 'ENDED DURING THE MEASUREMENT: ' + status} at its end): "
          f"{busy['rps']:.0f}/s, p50 {busy['p50_ms']:.1f} ms, p90 {busy['p90_ms']:.1f} ms, "
          f"p99 {busy['p99_ms']:.1f} ms (target <= 30), non-2xx {busy['non_2xx']}; load average "
          f"{os.getloadavg()[0]:.1f}")
    return busy


if __name__ == "__main__":
    sys.exit(main())
