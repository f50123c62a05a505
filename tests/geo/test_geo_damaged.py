"""A damaged city folder (a manifest, a network or places file truncated or hand-edited) fails only its own requests,
with a 503 naming the city and the file, and `/health` names it; every other city is served as before."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.auth_helpers import signed_in
from typer.testing import CliRunner

from lifechain.app import create_app
from lifechain.auth.core import Role
from lifechain.clock import ManualClock
from lifechain.db import upgrade
from lifechain.settings import Settings

A, B = "60.1685,24.9405", "60.1755,24.9500"


def _cities(helsinki_cities_dir: Path, data: Path, **damage: tuple[str, bytes]) -> None:
    """Helsinki as `helsinki` and `espoo` (whole), and as each city of `damage` with file `f` overwritten."""
    for name in ("helsinki", "espoo", *damage):
        shutil.copytree(helsinki_cities_dir / "helsinki", data / "cities" / name)
    for name, (file, content) in damage.items():
        (data / "cities" / name / file).write_bytes(content)


def _client(data: Path, **settings: object) -> TestClient:
    config = Settings(data_dir=data, demo_mode=True, **settings)  # type: ignore[arg-type]
    upgrade(config.sqlalchemy_url)
    return TestClient(create_app(config, clock=ManualClock(datetime(2026, 1, 1, tzinfo=UTC))))


def test_a_damaged_city_fails_only_its_own_requests(helsinki_cities_dir: Path, tmp_path: Path,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    """One city's manifest cut short made `GET /cities` a 500 for every city (the screens choose their city from
    it); a truncated network or places file was a 500 too. Now the damaged city is left out of the list, its own
    requests are a 503 saying which file to repair and how, and `/health` names it; the default city comes first."""
    _cities(helsinki_cities_dir, tmp_path, broken=("manifest.json", b'{"name": "bro'),
            cut=("drive.npz", (helsinki_cities_dir / "helsinki" / "drive.npz").read_bytes()[:5000]),
            noplaces=("places.json", b"[1, 2]"))
    with _client(tmp_path) as client, caplog.at_level("ERROR", logger="lifechain.geo.repo"):
        client.headers.update(signed_in(client, "dispatcher", Role.DISPATCHER))
        listed = client.get("/api/v1/cities")
        assert listed.status_code == 200, listed.text
        assert [c["name"] for c in listed.json()] == ["helsinki", "cut", "espoo", "noplaces"]
        broken = client.get("/api/v1/cities/broken")
        assert broken.status_code == 503 and broken.json()["code"] == "unavailable"
        assert broken.json()["detail"].startswith("city 'broken' cannot be read: manifest.json: Unterminated string")
        assert broken.json()["detail"].endswith("; import the city again")
        for _ in range(2):  # the damaged network is read once, and refused the same way after
            cut = client.get(f"/api/v1/cities/cut/route?from={A}&to={B}")
            assert cut.status_code == 503 and cut.json()["detail"].startswith("city 'cut' cannot be read: drive.npz:")
        places = client.get("/api/v1/cities/noplaces/places?q=Mannerheim")
        assert places.status_code == 503, places.text
        assert places.json()["detail"] == ("city 'noplaces' cannot be read: places.json: an object was expected, "
                                           "not list; import the city again")
        assert client.get(f"/api/v1/cities/espoo/route?from={A}&to={B}").json()["seconds"] > 0
        assert [(p["code"], p["city"], p["text"]["en"]) for p in client.get("/api/v1/health").json()["problems"]] == [
            ("city_unreadable", "broken", "city broken cannot be read (the server log says why): import it again"),
            ("city_unreadable", "cut", "city cut cannot be read (the server log says why): import it again")]
    logged = [r.getMessage() for r in caplog.records]
    assert sum("city 'cut' cannot be read: drive.npz" in m for m in logged) == 1
    assert any(m.startswith("city 'broken' cannot be read: manifest.json") for m in logged)
    # Imported again, the city is read again.
    shutil.rmtree(tmp_path / "cities" / "cut")
    shutil.copytree(helsinki_cities_dir / "helsinki", tmp_path / "cities" / "cut")
    with _client(tmp_path) as client:
        client.headers.update(signed_in(client, "dispatcher-2", Role.DISPATCHER))
        assert client.get(f"/api/v1/cities/cut/route?from={A}&to={B}").status_code == 200


def test_a_damaged_default_city_does_not_stop_the_server(helsinki_cities_dir: Path, tmp_path: Path) -> None:
    """The default city's network is loaded at start; damaged, it stopped the server from starting at all (so no
    other city was served either). It now starts, says why in `/health`, and serves the others."""
    _cities(helsinki_cities_dir, tmp_path, home=("walk.npz", b"PK\x03\x04 not a zip"))
    with _client(tmp_path, default_city="home") as client:
        client.headers.update(signed_in(client, "dispatcher", Role.DISPATCHER))
        assert client.get("/api/v1/health").json()["problems"] == [{"code": "city_unreadable", "city": "home", "text": {
            "en": "city home cannot be read (the server log says why): import it again",
            "zh-CN": "城市 home 的数据无法读取（原因见服务器日志）：请重新导入该城市"}}]
        assert [c["name"] for c in client.get("/api/v1/cities").json()] == ["home", "espoo", "helsinki"]
        assert client.get(f"/api/v1/cities/helsinki/route?from={A}&to={B}").status_code == 200


def test_city_list_names_a_damaged_city_and_lists_the_others(helsinki_cities_dir: Path, tmp_path: Path) -> None:
    """`lifechain city list` failed on a damaged manifest with a traceback and listed nothing."""
    from lifechain.cli import _register_domains, app

    _register_domains()
    _cities(helsinki_cities_dir, tmp_path, broken=("manifest.json", b"\xff\xfe"))
    out = CliRunner().invoke(app, ["--data-dir", str(tmp_path), "city", "list"])
    assert out.exit_code == 2
    assert [line.split(":")[0] for line in out.stdout.splitlines()] == ["espoo", "helsinki"]
    assert out.stderr.startswith("error: city 'broken' cannot be read: manifest.json: 'utf-8' codec can't decode")
