"""Server start-up: what it imports, that `lifechain serve` answers a route on a fresh data directory, and the GC.

Speed itself is measured by bench/routing.py ("server start"); these tests guard the behaviour the speed rests on.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient
from tests.live_server import free_port

from lifechain import db
from lifechain.app import create_app
from lifechain.settings import Settings

SRC = Path(__file__).resolve().parents[2] / "src"
# Imported on first use by the features that need them, never by a server start (each costs 10-300 ms there).
NOT_AT_START = ("scipy", "alembic", "highspy", "yaml", "matplotlib", "jinja2", "pandas", "simpy", "pyrosm",
                "osmium", "httpx", "httpx2", "pywebpush", "tifffile", "websockets")


def test_building_the_server_imports_no_optional_heavy_module(tmp_path: Path, helsinki_cities_dir: Path) -> None:
    """What `lifechain serve` imports before answering (CLI, the default city's router loaded in the background,
    every domain's views, uvicorn) leaves out scipy, Alembic, the planning solvers, YAML and the import stack: a
    lazy import turned eager again fails here."""
    (tmp_path / "cities").symlink_to(helsinki_cities_dir)
    code = (
        "import sys, json\n"
        "import lifechain.cli as cli\n"
        "cli._register_domains()\n"
        "from lifechain.geo.repo import preload\n"
        "from lifechain.settings import Settings\n"
        "preload(Settings()).join()\n"
        "import uvicorn\n"
        "from lifechain.server.asgi import app\n"
        "assert app().state.cities.router('helsinki')\n"
        f"print(json.dumps(sorted(m for m in {NOT_AT_START!r} if m in sys.modules)))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC), "LIFECHAIN_DEMO_MODE": "1", "LIFECHAIN_DATA_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
    # The check itself sees an eager import.
    out = subprocess.run([sys.executable, "-c", "import yaml\n" + code], env=env, capture_output=True, text=True,
                         check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == ["yaml"]


def test_lifespan_freezes_start_up_and_switches_the_collector_back_on(settings: Settings) -> None:
    """`lifechain serve` starts with the cyclic GC off; the app's lifespan turns it on again once started."""
    gc.disable()
    try:
        with TestClient(create_app(settings)) as client:
            assert gc.isenabled()
            assert client.get("/api/v1/health").status_code == 200
    finally:
        gc.enable()
        gc.unfreeze()


def test_a_start_with_no_unfinished_planning_run_leaves_the_planning_stack_unloaded(settings: Settings) -> None:
    """The start asks the database whether a stopped server left runs; with none, the run store (and the
    simulation stack it imports) is made only by the first planning request."""
    import threading

    from lifechain.auth.core import Principal, Role
    from lifechain.auth.flows import issue_token

    app = create_app(settings)
    token = issue_token(Principal(id=1, username="a", display_name="A", roles=frozenset({Role.ANALYST})),
                        secret=settings.secret_key, now=datetime.now(UTC), ttl_s=600)
    with TestClient(app) as client:
        for thread in threading.enumerate():
            if thread.name == "planning-recover":
                thread.join(10)
        assert app.state.planning_runs is None
        answer = client.get("/api/v1/planning/runs/nope", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 404
        assert app.state.planning_runs is not None


def test_serve_migrates_a_fresh_data_dir_and_answers_a_route(tmp_path: Path, helsinki_cities_dir: Path) -> None:
    """A real `lifechain serve` on a data directory with an imported city and no database yet: it creates the
    schema (the quick check finds no version table), serves, and answers a route on the city; a second start finds
    the schema current and leaves it alone."""
    from lifechain.auth.core import Principal, Role
    from lifechain.auth.flows import issue_token

    data = tmp_path / "var"
    data.mkdir()
    (data / "cities").symlink_to(helsinki_cities_dir)
    settings = Settings(data_dir=data, demo_mode=True)
    token = issue_token(Principal(id=1, username="t", display_name="T", roles=frozenset({Role.DISPATCHER})),
                        secret=settings.secret_key, now=datetime.now(UTC), ttl_s=600)
    outputs = []
    for _start in range(2):
        port = free_port()
        env = {**os.environ, "PYTHONPATH": str(SRC), "LIFECHAIN_DEMO_MODE": "1",
               "LIFECHAIN_DEFAULT_CITY": "helsinki"}
        proc = subprocess.Popen([sys.executable, "-m", "lifechain", "--data-dir", str(data), "serve", "--port",
                                 str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            url = (f"http://127.0.0.1:{port}/api/v1/cities/helsinki/route?from=60.1699,24.9384"
                   f"&to=60.1631,24.9470")
            body = _get_when_up(url, token, proc)
            assert body["seconds"] > 0 and body["geometry"]["type"] == "LineString"  # type: ignore[index]
            assert db.database_heads(settings.sqlalchemy_url) == db.migration_heads()
        finally:
            proc.terminate()
            outputs.append(proc.communicate(timeout=10)[0])
    assert "database upgraded" in outputs[0]
    assert "database upgraded" not in outputs[1] and "Application startup complete" in outputs[1]


def _get_when_up(url: str, token: str, proc: subprocess.Popen[str]) -> dict[str, object]:
    deadline = time.monotonic() + 60
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {proc.communicate()[0]}")
        try:
            with urllib.request.urlopen(request, timeout=10) as resp:
                body: dict[str, object] = json.loads(resp.read())
                return body
        except urllib.error.HTTPError:
            raise
        except OSError:
            time.sleep(0.05)
    raise AssertionError("server did not answer within 60 s")


def test_serve_refuses_a_port_or_worker_count_out_of_range(tmp_path: Path) -> None:
    """`serve --port 99999` is refused before anything starts (uvicorn would otherwise report 'running' on a port
    it never bound), as is `--workers 0`."""
    from typer.testing import CliRunner

    from lifechain.cli import _register_domains, app

    _register_domains()
    for args, said in ((["--port", "99999"], "less than or equal to 65535"), (["--workers", "0"], "greater than")):
        out = CliRunner().invoke(app, ["--data-dir", str(tmp_path), "serve", "--demo", *args])
        assert out.exit_code == 2, out.output
        assert said in out.output
    assert not (tmp_path / "lifechain.db").exists()
