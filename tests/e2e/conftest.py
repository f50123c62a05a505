"""Browser test harness: a real `lifechain serve` on a free port with a temp data dir and the demo loaded."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
WEB_DIST = ROOT / "src" / "lifechain" / "web_dist"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = ROOT / "artifacts"


@dataclass(frozen=True)
class Server:
    """A running Lifechain server for the browser tests."""

    url: str
    data_dir: Path
    demo: bool


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "LIFECHAIN_DEMO_MODE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "lifechain", "--data-dir", str(data_dir), *args],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )


def _prepare_demo(data_dir: Path) -> bool:
    """Import the demo city and load the demo data; False when this server has no `demo load` command yet."""
    help_text = _cli(data_dir, "--help").stdout
    done = _cli(data_dir, "city", "import", "builtin:helsinki", "--name", "helsinki", "--if-missing")
    assert done.returncode == 0, f"city import failed: {done.stdout}\n{done.stderr}"
    if "│ demo" not in help_text and " demo " not in help_text:
        return False
    done = _cli(data_dir, "demo", "load", "--city", "helsinki")
    assert done.returncode == 0, f"demo load failed: {done.stdout}\n{done.stderr}"
    if "│ volunteers" in help_text:
        done = _cli(data_dir, "volunteers", "demo", "--city", "helsinki", "--count", "60")
        assert done.returncode == 0, f"volunteers demo failed: {done.stdout}\n{done.stderr}"
    return True


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A demo server on 127.0.0.1 and a free port, stopped at the end of the session."""
    if not (WEB_DIST / "index.html").is_file():
        pytest.fail("the browser bundle is not built: run `make web` (npm ci && npm run build in web/)")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"needs Debian's chromium at {CHROMIUM} (`make e2e` installs it)")
    if not (WEB / "node_modules" / "playwright-core").is_dir() or shutil.which("node") is None:
        pytest.skip("needs node and web/node_modules (npm ci in web/)")
    data_dir = tmp_path_factory.mktemp("e2e") / "var"
    data_dir.mkdir()
    demo = _prepare_demo(data_dir)
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "LIFECHAIN_DEMO_MODE": "1", "PYTHONUNBUFFERED": "1"}
    log = (data_dir / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "lifechain", "--data-dir", str(data_dir), "serve", "--demo",
         "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, data_dir)
        yield Server(url=url, data_dir=data_dir, demo=demo)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], data_dir: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {(data_dir / 'server.log').read_text()[-3000:]}")
        try:
            if httpx2.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                return
        except httpx2.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("server did not become healthy in 60 s")


@pytest.fixture
def demo_server(server: Server) -> Server:
    """The server, with demo users, stations, units and hospitals loaded."""
    if not server.demo:
        pytest.skip("this server has no `lifechain demo load` yet (demo users, units, hospitals)")
    return server


@pytest.fixture
def run_script(server: Server) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Runs a Playwright script from web/e2e against the demo server (keyword arguments become env variables)."""
    return lambda script, **env: _run_script(server, script, env)


def _run_script(server: Server, script: str, extra: dict[str, str], timeout: float = 300,
                ) -> subprocess.CompletedProcess[str]:
    """Run a Playwright script from web/e2e against the server; its output is printed for the test log."""
    ARTIFACTS.mkdir(exist_ok=True)
    env = {**os.environ, "LIFECHAIN_URL": server.url, "LIFECHAIN_ARTIFACTS": str(ARTIFACTS), "CHROMIUM": CHROMIUM,
           **extra}
    done = subprocess.run(["node", str(WEB / "e2e" / script)], cwd=WEB, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    if done.returncode != 0:
        # What the server did last (writes only), to tell a UI failure from a server one.
        log = (server.data_dir / "server.log").read_text(errors="replace").splitlines()
        writes = [line for line in log if '"GET ' not in line][-40:]
        sys.stderr.write("server log (last writes):\n" + "\n".join(writes) + "\n")
        done = subprocess.CompletedProcess(done.args, done.returncode, done.stdout,
                                           done.stderr + "\n".join(writes[-15:]))
    return done
