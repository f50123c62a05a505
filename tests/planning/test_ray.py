"""`lifechain plan run --ray ADDRESS` on a real Ray cluster (a head node started on this machine for the test)."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest
from tests.live_server import free_port

from lifechain.errors import Invalid
from lifechain.planning import flows

GOLDEN = Path(__file__).parent / "golden" / "scenario.yaml"
RAY = Path(sys.executable).parent / "ray"
ENV = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "LIFECHAIN_DEMO_MODE": "1"}


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[str]:
    """The address of a one-node Ray cluster with two CPUs, stopped after the module's tests."""
    pytest.importorskip("ray", reason="the 'ray' package is not installed (pip install 'lifechain[ray]')")
    port = free_port()
    # `--block` keeps the command running as the head's supervisor; terminating it stops this cluster's processes
    # and no other (`ray stop` would stop every Ray process on the machine).
    with tempfile.TemporaryFile() as log:  # a file, not a pipe: the supervisor logs as long as it runs
        head = subprocess.Popen([str(RAY), "start", "--head", "--port", str(port), "--num-cpus", "2",
                                 "--include-dashboard", "false", "--disable-usage-stats", "--block"],
                                env=ENV, stdout=log, stderr=subprocess.STDOUT)
        try:
            yield _wait_for_head(head, log, f"127.0.0.1:{port}")
        finally:
            head.terminate()
            try:
                head.wait(60)
            except subprocess.TimeoutExpired:
                head.kill()
                head.wait()


def _wait_for_head(head: subprocess.Popen[bytes], log: IO[bytes], address: str) -> str:
    deadline = time.monotonic() + 120
    while True:
        if head.poll() is not None:
            log.seek(0)
            pytest.fail(f"ray start exited: {log.read()[-2000:].decode(errors='replace')}")
        try:
            flows._check_reachable(address, timeout_s=2)
            return address
        except Invalid:
            assert time.monotonic() < deadline, "the Ray head did not answer within 120 s"
            time.sleep(0.5)


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


@contextlib.contextmanager
def _server(answer: bytes | None) -> Iterator[str]:
    """A TCP server on a free port that sends `answer` to each client after its first bytes (None: never answers)."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.recv(64)
                if answer is not None:
                    conn.sendall(answer)
                stop.wait(5 if answer is None else 0)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        listener.close()


def test_a_server_that_is_not_ray_is_refused_at_once() -> None:
    """Something else on the port (Redis on Ray's default 6379, a web server, a silent one) is named as not Ray:
    `ray.init` would wait minutes for it. A gRPC server, which answers the HTTP/2 preface with SETTINGS, passes."""
    with _server(b"-ERR unknown command 'PRI'\r\n") as redis_like, \
            pytest.raises(Invalid, match=r"does not speak gRPC \(it answered b'-ERR unkn'\)"):
        flows._check_reachable(redis_like)
    with _server(b"") as closing, pytest.raises(Invalid, match=r"does not speak gRPC \(it closed the connection\)"):
        flows._check_reachable(closing)
    with _server(None) as silent, pytest.raises(Invalid, match=r"says nothing to a gRPC client within 0\.5 s"):
        flows._check_reachable(silent, timeout_s=0.5)
    with _server(bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])) as grpc_like:
        flows._check_reachable(grpc_like)  # would raise Invalid
        flows._check_reachable(f"ray://{grpc_like}")


def test_plan_run_names_the_wrong_server(tmp_path: Path) -> None:
    """The command line says it in one line, without a traceback."""
    pytest.importorskip("ray", reason="the 'ray' package is not installed (pip install 'lifechain[ray]')")
    with _server(b"HTTP/1.1 400 Bad Request\r\n\r\n") as web:
        out = _plan_run(tmp_path, "--ray", web)
    assert out.returncode == 2
    assert f"error: no Ray cluster answers at {web}: the server there does not speak gRPC" in out.stderr
    assert "Traceback" not in out.stderr
