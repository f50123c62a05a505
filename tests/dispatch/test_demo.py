"""The demo: loading Helsinki is idempotent and complete, and demo calls flow through a running server."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from lifechain.app import create_app
from lifechain.db import transaction
from lifechain.dispatch import demo, repo
from lifechain.dispatch.protocol import default_protocol
from lifechain.errors import Invalid
from lifechain.fleet import repo as fleet_repo
from lifechain.geo.repo import CityStore
from lifechain.hospitals import repo as hospital_repo
from lifechain.settings import Settings
from live_server import serving

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def demo_settings(settings: Settings, helsinki_cities_dir: Path) -> Settings:
    (settings.data_dir).mkdir(parents=True, exist_ok=True)
    (settings.data_dir / "cities").symlink_to(helsinki_cities_dir, target_is_directory=True)
    return settings


def test_demo_load_is_idempotent_and_on_the_network(demo_settings: Settings) -> None:
    """A second load adds nothing; Helsinki gets 12 units (ALS and BLS), 3 hospitals with PCI, a user per role."""
    app = create_app(demo_settings)
    store = CityStore(demo_settings.cities_dir)
    router = store.router("helsinki")
    places = store.places("helsinki")
    with transaction(app.state.sessionmaker) as s:
        first = demo.load(session=s, city="helsinki", places=places, now=NOW,
                          check=lambda pts: router.snap(pts, mode="drive"))
    with transaction(app.state.sessionmaker) as s:
        second = demo.load(session=s, city="helsinki", places=places, now=NOW)
        units = fleet_repo.list_units(session=s, city="helsinki")
        hospitals = hospital_repo.list_all(session=s, city="helsinki")
    assert (first.stations, first.units, first.hospitals, first.users) == (4, 12, 3, 7)
    assert (second.stations, second.units, second.hospitals, second.users) == (0, 0, 0, 0)
    assert {u.type for u in units} == {"ALS", "BLS"}
    assert any("pci_24_7" in h.capabilities for h in hospitals)
    app.state.engine.dispose()


def test_demo_calls_are_taken_triaged_and_dispatched(demo_settings: Settings) -> None:
    """Played calls arrive over HTTP, triaged by the protocol, the recommended units are sent and move on."""
    app = create_app(demo_settings)
    store = CityStore(demo_settings.cities_dir)
    with transaction(app.state.sessionmaker) as s:
        demo.load(session=s, city="helsinki", places=store.places("helsinki"), now=NOW)
    lines: list[str] = []
    with serving(app) as base:
        taken = demo.play_calls(url=base, city="helsinki", rate=50, count=6, username="dispatcher",
                                password=demo.DEMO_PASSWORD, protocol=default_protocol(), seed=3, dispatch=True,
                                echo=lines.append)
    assert taken == 6
    with transaction(app.state.sessionmaker) as s:
        incidents = repo.list_open(session=s, city="helsinki", statuses=(*repo.OPEN_STATUSES, "closed"))
        assert len(incidents) == 6 and all(i.priority in (1, 2, 3, 4) for i in incidents)
        # Callers name a place (a street, a shop, a stop) from the city's own place list, not coordinates.
        names = {p["name"] for p in store.search("helsinki", "", limit=100_000)}
        assert all(i.address in names for i in incidents), [i.address for i in incidents]
        assert sum(1 for i in incidents if i.status != "waiting") >= 5
        # The crews were played too: the first unit has moved on from "dispatched".
        assert any(i.status not in ("waiting", "dispatched") for i in incidents)
    assert sum("dispatched unit" in line for line in lines) >= 5


def test_demo_calls_say_why_they_cannot_start(demo_settings: Settings) -> None:
    """A wrong password, an unknown city and a server that is not there each end `play_calls` with `Invalid`
    naming the reason (the command prints it as one line), and no call is posted."""
    app = create_app(demo_settings)
    store = CityStore(demo_settings.cities_dir)
    with transaction(app.state.sessionmaker) as s:
        demo.load(session=s, city="helsinki", places=store.places("helsinki"), now=NOW)
    args = {"rate": 50, "count": 1, "protocol": default_protocol(), "seed": 3, "dispatch": False, "echo": print}
    with serving(app) as base:
        with pytest.raises(Invalid, match="refused the sign-in of 'dispatcher' \\(401\\)"):
            demo.play_calls(url=base, city="helsinki", username="dispatcher", password="wrong", **args)
        with pytest.raises(Invalid, match="gave no places of city 'atlantis' \\(404"):
            demo.play_calls(url=base, city="atlantis", username="dispatcher", password=demo.DEMO_PASSWORD, **args)
    with pytest.raises(Invalid, match=f"cannot reach the server at {base}"):
        demo.play_calls(url=base, city="helsinki", username="dispatcher", password=demo.DEMO_PASSWORD, **args)
    with transaction(app.state.sessionmaker) as s:
        assert repo.list_open(session=s, city="helsinki") == []
    with pytest.raises(Invalid, match="no stations and hospitals of its own"):
        demo.city_sites("atlantis", {})


def test_demo_calls_refuse_a_count_below_one(tmp_path: Path) -> None:
    """`demo calls --count 0` (or -1) posted one call before it stopped; a count below 1 is refused before any."""
    from typer.testing import CliRunner

    from lifechain.cli import _register_domains, app

    _register_domains()
    for count in ("0", "-1"):
        out = CliRunner().invoke(app, ["--data-dir", str(tmp_path), "demo", "calls", "--url", "http://127.0.0.1:9",
                                       "--count", count])
        assert out.exit_code == 2, out.output
        assert "Invalid value for '--count'" in out.output and "cannot reach" not in out.output
