"""`lifechain plan run --ray ADDRESS` on a real Ray cluster (a head node started on this machine for the test)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.live_server import free_port

GOLDEN = Path(__file__).parent / "golden" / "scenario.yaml"
RAY = Path(sys.executable).parent / "ray"
ENV = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "LIFECHAIN_DEMO_MODE": "1"}


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[str]:
    """The address of a one-node Ray cluster with two CPUs, stopped after the module's tests."""
    pytest.importorskip("ray", reason="the 'ray' package is not installed (pip install 'lifechain[ray]')")
    port = free_port()
    start = subprocess.run([str(RAY), "start", "--head", "--port", str(port), "--num-cpus", "2",
                            "--include-dashboard", "false", "--disable-usage-stats"],
                           env=ENV, capture_output=True, text=True, timeout=120)
    assert start.returncode == 0, start.stderr[-2000:]
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([str(RAY), "stop", "--force"], env=ENV, capture_output=True, timeout=120)


def _plan_run(tmp_path: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lifechain", "--data-dir", str(tmp_path), "plan", "run", str(GOLDEN),
                           "--replications", "3", "--json", *options],
                          env=ENV, capture_output=True, text=True, timeout=300)


def test_replications_on_ray_give_what_local_processes_give(ray_cluster: str, tmp_path: Path) -> None:
    """Each replication is a Ray task on the cluster; its streams come from the seed, not from where it runs."""
    on_ray = _plan_run(tmp_path, "--ray", ray_cluster)
    assert on_ray.returncode == 0, on_ray.stderr[-2000:]
    assert "Connected to Ray cluster" in on_ray.stderr  # it did run there, not on a local fallback
    local = _plan_run(tmp_path, "--workers", "2")
    assert local.returncode == 0, local.stderr[-2000:]
    ray_result, local_result = json.loads(on_ray.stdout), json.loads(local.stdout)
    assert ray_result["replications"] == 3
    assert ray_result == local_result


def test_an_address_with_no_cluster_is_a_clear_error(tmp_path: Path) -> None:
    """A port nobody listens on is refused in one line at once (ray.init alone would wait for minutes)."""
    pytest.importorskip("ray", reason="the 'ray' package is not installed (pip install 'lifechain[ray]')")
    out = _plan_run(tmp_path, "--ray", f"127.0.0.1:{free_port()}")
    assert out.returncode == 2
    assert "error:" in out.stderr and "Traceback" not in out.stderr
