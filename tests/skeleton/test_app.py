"""The skeleton: settings, app factory, health, OpenAPI and errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from lifechain.app import create_app
from lifechain.settings import Settings


def test_health_and_openapi(settings: Settings) -> None:
    """The app answers health and publishes its OpenAPI under /api/v1."""
    with TestClient(create_app(settings)) as client:
        health = client.get("/api/v1/health")
        assert health.status_code == 200
        assert health.json()["status"] == "ok"
        spec = client.get("/api/v1/openapi.json").json()
        assert "/api/v1/health" in spec["paths"]
    # Each schema has one plain name: two models of one name in different modules become
    # `lifechain__fleet__schemas__Point` and the like in the document and in the browser's generated types.
    names = spec["components"]["schemas"]
    assert [n for n in names if n.startswith("lifechain__") or n.endswith(("-Input", "-Output"))] == []
    assert names["Point"]["required"] == ["lat", "lon"]


def test_default_secret_refused_outside_demo(tmp_path: Path) -> None:
    """Outside demo mode the built-in secret is refused, so a real deployment must set its own."""
    with pytest.raises(ValueError, match="demo secret"):
        Settings(data_dir=tmp_path)
    assert Settings(data_dir=tmp_path, secret_key="x" * 32).secret_key == "x" * 32


def test_data_dir_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """LIFECHAIN_DATA_DIR chooses the data directory and the default SQLite file lives in it."""
    monkeypatch.setenv("LIFECHAIN_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("LIFECHAIN_DEMO_MODE", "1")
    s = Settings()
    assert s.data_dir == tmp_path / "d"
    assert s.sqlalchemy_url.endswith("/d/lifechain.db")


@pytest.mark.parametrize(("name", "value", "why"), [
    ("offroad_speed_mps", "0", "greater than 0"),  # every place off the roads infinitely far
    ("offroad_speed_mps", "inf", "finite number"),
    ("snap_max_distance_m", "-5", "greater than 0"),  # every place refused as off the roads
    ("snap_max_distance_m", "nan", "finite number"),
    ("gps_stale_after_s", "-1", "greater than 0"),  # every GPS fix stale: units routed from their stations
    ("volunteer_heartbeat_timeout_s", "0", "greater than 0"),  # every volunteer off duty
    ("token_ttl_s", "-60", "greater than 0"),  # every token expired when issued: sign-in works, nothing else
    ("max_matrix_cells", "0", "greater than 0"),
])
def test_a_setting_out_of_its_range_is_refused_naming_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str,
                                                         value: str, why: str) -> None:
    """Values that parse as numbers but make no sense were taken: the server started and dispatched, routed or
    signed in wrongly with them. The command line refuses them, naming the setting, before doing anything."""
    from typer.testing import CliRunner

    from lifechain.cli import _register_domains, app

    monkeypatch.setenv(f"LIFECHAIN_{name.upper()}", value)
    monkeypatch.setenv("LIFECHAIN_DEMO_MODE", "1")
    _register_domains()
    res = CliRunner().invoke(app, ["--data-dir", str(tmp_path), "city", "list"])
    assert res.exit_code == 2
    assert f"{name}: Input should be" in " ".join(res.output.replace("│", " ").split()), res.output
    with pytest.raises(ValueError, match=why):
        Settings(data_dir=tmp_path, demo_mode=True, **{name: value})


def test_nothing_opens_a_database_at_import() -> None:
    """Importing the app module creates no engine: settings are built, not imported."""
    import lifechain.app as app_module

    assert not hasattr(app_module, "engine")


PUBLIC = {("get", "/api/v1/health"), ("post", "/api/v1/auth/token"), ("post", "/api/v1/auth/login"),
          ("post", "/api/v1/auth/logout")}


def test_every_endpoint_but_health_and_sign_in_needs_a_signed_in_user(settings: Settings) -> None:
    """Each operation in the OpenAPI declares the bearer scheme, and each answers 401 to a request without a token.

    Path parameters are filled with 1 (or `x` for names): authentication is checked before the path is looked up.
    """
    with TestClient(create_app(settings)) as client:
        spec = client.get("/api/v1/openapi.json").json()
        open_ops: list[str] = []
        for path, ops in spec["paths"].items():
            for method, op in ops.items():
                if (method, path) in PUBLIC:
                    continue
                if not op.get("security"):
                    open_ops.append(f"{method.upper()} {path}")
                    continue
                url = "/".join(("1" if seg.endswith("_id}") else "x") if seg.startswith("{") else seg
                               for seg in path.split("/"))
                res = client.request(method.upper(), url)
                assert res.status_code == 401, f"{method.upper()} {url}: {res.status_code} {res.text[:200]}"
        assert open_ops == [], f"operations without a declared role: {open_ops}"
        assert len(spec["paths"]) > 40  # the walk above saw the whole API
