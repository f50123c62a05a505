"""The server hands the browser bundle out at `/`, client routes fall back to index.html, API paths never do."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from lifechain.app import create_app
from lifechain.settings import Settings


def _settings(tmp_path: Path) -> Settings:
    """Demo settings whose bundle is a tiny one made for the test (no database is opened by these requests)."""
    return Settings(data_dir=tmp_path / "var", demo_mode=True, web_dist=_bundle(tmp_path))


def _bundle(tmp_path: Path) -> Path:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><div id=root></div>", encoding="utf-8")
    (dist / "assets" / "app.js").write_text("console.log(1)", encoding="utf-8")
    return dist


def test_client_routes_fall_back_to_index(tmp_path: Path) -> None:
    """/console and /volunteer are the bundle's index.html; a real asset is served as itself."""
    app = create_app(_settings(tmp_path))
    with TestClient(app) as client:
        for path in ("/", "/console", "/volunteer/alert/3", "/crew"):
            resp = client.get(path)
            assert resp.status_code == 200
            assert "id=root" in resp.text
        assert client.get("/assets/app.js").text == "console.log(1)"


def test_unknown_api_path_is_a_json_404(tmp_path: Path) -> None:
    """An API path nobody serves answers a JSON 404, not index.html (the browser must see the error)."""
    app = create_app(_settings(tmp_path))
    with TestClient(app) as client:
        resp = client.get("/api/v1/no-such-endpoint")
        assert resp.status_code == 404
        assert resp.json()["code"] == "not_found"


def test_path_traversal_gets_index_not_the_file(tmp_path: Path) -> None:
    """A path that climbs out of the bundle is answered with index.html, never the file outside."""
    (tmp_path / "secret.txt").write_text("secret", encoding="utf-8")
    app = create_app(_settings(tmp_path))
    with TestClient(app) as client:
        resp = client.get("/..%2Fsecret.txt")
        assert "secret" not in resp.text
