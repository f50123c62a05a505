"""Scenario sources: JEMSS models (gen_config, raster, stations), the Helsinki demo scenario on the geo router."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from tests.conftest import shared_data
from typer.testing import CliRunner

from lifechain.errors import Invalid
from lifechain.geo.repo import CityStore
from lifechain.planning import core, flows

HELSINKI = Path(flows.__file__).parent / "scenarios" / "helsinki.yaml"
GEN = """<genConfig><sim><callDistributions>
<interarrivalTime seed="1">Exponential(1/280)</interarrivalTime>
<priority seed="2">Categorical([0.57, 0.245, 0.185])</priority>
<dispatchDelay seed="3">Normal(50/60/60/24, 0)</dispatchDelay>
<onSceneDuration seed="4">Exponential(12/60/24)</onSceneDuration>
<transport seed="5">Bernoulli(0.8)</transport>
<handoverDuration seed="6">Weibull(2.5, 34.3/60/24)</handoverDuration>
</callDistributions><callDensityRaster><filename>$jemssDir/x/pop.tif</filename></callDensityRaster></sim></genConfig>
"""


def test_gen_config_distributions_become_scenario_units(tmp_path: Path) -> None:
    """Rates per day, priorities, days converted to seconds, Bernoulli transport, and the raster's name."""
    (tmp_path / "gen_config.xml").write_text(GEN)
    g = flows.read_gen_config(tmp_path / "gen_config.xml")
    assert g["rate_per_day"] == pytest.approx(280)
    assert g["priorities"] == {1: 0.57, 2: 0.245, 3: 0.185}
    assert g["durations"]["dispatch_delay"] == {"kind": "fixed", "mean": pytest.approx(50)}
    assert g["durations"]["on_scene"] == {"kind": "exponential", "mean": pytest.approx(720)}
    assert g["durations"]["transport_probability"] == 0.8
    assert g["durations"]["handover"] == {"kind": "weibull", "shape": 2.5,
                                          "mean": pytest.approx(34.3 * 60 * math.gamma(1.4))}
    assert g["raster"] == "$jemssDir/x/pop.tif"
    (tmp_path / "bad.xml").write_text(GEN.replace("Exponential(1/280)", "Exponential(__import__('os'))"))
    with pytest.raises(Invalid, match="not a number expression"):
        flows.read_gen_config(tmp_path / "bad.xml")


def test_auckland_jemss_model_imports_as_a_scenario(tmp_path: Path) -> None:
    """Auckland model 1: 16 ambulances, 280 calls a day, demand from the population raster, written by the CLI."""
    model = shared_data("jemss", "auckland", "models", "1")
    from lifechain.cli import _register_domains, app

    _register_domains()
    out = tmp_path / "auckland.yaml"
    res = CliRunner().invoke(app, ["plan", "import-jemss", str(model), "--out", str(out), "--days", "2",
                                   "--block", "20"])
    assert res.exit_code == 0, res.output
    sc = flows.load_scenario(out)
    assert len(sc.units) == 16 and len(sc.hospitals) >= 3
    assert sc.calls.rate_per_day == pytest.approx(280)
    assert "population raster" in sc.description
    weights = np.array([p.weight for p in sc.demand])
    assert len(weights) > 500 and weights.max() > 20 * np.median(weights)  # a real population surface, not uniform
    lat = np.array([p.lat for p in sc.demand])
    assert -37.5 < lat.min() < lat.max() < -36.5


def test_import_jemss_refuses_what_it_cannot_write_or_run_and_notes_a_city_not_imported(tmp_path: Path) -> None:
    """An --out it cannot write and --days of 0 or less were tracebacks (FileNotFoundError, a raw pydantic dump);
    they are one-line refusals, the first before the import. A --city that is not imported writes the scenario (the
    city may come later) and says so."""
    model = shared_data("jemss", "auckland", "models", "1")
    from lifechain.cli import _register_domains, app

    _register_domains()
    for out, why in ((tmp_path / "no" / "a.yaml", "No such file or directory"), (tmp_path, "Is a directory")):
        res = CliRunner().invoke(app, ["plan", "import-jemss", str(model), "--out", str(out)])
        assert res.exit_code == 2 and res.output == f"error: cannot write {out}: {why}\n"
    out = tmp_path / "a.yaml"
    res = CliRunner().invoke(app, ["plan", "import-jemss", str(model), "--out", str(out), "--days", "-1"])
    assert res.exit_code == 2 and res.output == (f"error: {model} does not make a valid scenario: days: Input should "
                                                 "be greater than 0\n") and not out.exists()
    res = CliRunner().invoke(app, ["plan", "import-jemss", str(model), "--out", str(out), "--days", "1", "--block",
                                   "40", "--city", "nowhere-city"])
    assert res.exit_code == 0 and flows.load_scenario(out).travel.city == "nowhere-city"
    assert "note: scenario.travel.city: 'nowhere-city' is not imported" in res.output


def test_import_jemss_refuses_a_city_that_is_not_the_models(helsinki_cities_dir: Path, tmp_path: Path) -> None:
    """Auckland's model with --city helsinki (imported here) wrote a scenario whose run then failed on "point 0";
    the import now refuses it, naming a station and how many are off the city's roads, and writes nothing."""
    import shutil

    model = shared_data("jemss", "auckland", "models", "1")
    from lifechain.cli import _register_domains, app

    _register_domains()
    shutil.copytree(helsinki_cities_dir, tmp_path / "cities")
    out = tmp_path / "a.yaml"
    res = CliRunner().invoke(app, ["--data-dir", str(tmp_path), "plan", "import-jemss", str(model), "--out", str(out),
                                   "--days", "1", "--block", "40", "--city", "helsinki"])
    assert res.exit_code == 2 and not out.exists()
    assert res.output == (f"error: station 1 at (-36.945762, 174.894948) is more than 1000 m from the drive network "
                          f"of helsinki (14 of the 14 stations are): is 'helsinki' the city of {model}?\n")


def _tiny_jemss_model(root: Path) -> Path:
    """A JEMSS model folder (city/models/1 under `root`) with one station, hospital and ambulance, GEN's call
    generation, no population raster and two road nodes for demand."""
    import zipfile

    model = root / "city" / "models" / "1"
    for rel, text in (("stations/stations_1.csv", "stations\nindex,x,y\n1,24.94,60.17\n"),
                      ("hospitals/hospitals_1.csv", "hospitals\nindex,x,y\n1,24.93,60.16\n"),
                      ("ambulances/ambulances_1.csv", "ambulances\nindex,stationIndex,class\n1,1,1\n"),
                      ("calls/a/train/gen_config.xml", GEN)):
        (model / rel).parent.mkdir(parents=True, exist_ok=True)
        (model / rel).write_text(text)
    (model / "travel" / "roads").mkdir(parents=True)
    with zipfile.ZipFile(model / "travel" / "roads" / "roads.zip", "w") as z:
        z.writestr("nodes.csv", "nodes\nindex,x,y\n1,24.95,60.17\n2,24.96,60.18\n")
    return model


@pytest.mark.parametrize(("rel", "text", "message"), [
    ("calls/a/train/gen_config.xml", "<genConfig><sim>", r"gen_config\.xml is not valid XML: no element found"),
    ("stations/stations_1.csv", b"stations\nindex,x,y\n1,\xd0,60\n", r"stations_1\.csv is not UTF-8 text"),
    ("stations/stations_1.csv", "garbage\n", r"stations_1\.csv holds no JEMSS table"),
    ("stations/stations_1.csv", "stations\nfoo,bar\n1,2\n",
     r"stations_1\.csv: its table has no column index, x, y \(it has foo, bar\)$"),
    ("hospitals/hospitals_1.csv", "hospitals\nindex,x,y\n1,24.93,\n",
     r"hospitals_1\.csv: y of data row 1 is empty, not a number$"),
    ("ambulances/ambulances_1.csv", "ambulances\nindex,stationIndex\n1,1\n2,one\n",
     r"ambulances_1\.csv: stationIndex of data row 2 is 'one', not a whole number$"),
    ("ambulances/ambulances_1.csv", "ambulances\nindex,stationIndex\n1,1.5\n",
     r"ambulances_1\.csv: stationIndex of data row 1 is 1\.5, not a whole number$"),
    ("travel/roads/roads.zip", b"not a zip", r"cannot read .*roads\.zip: File is not a zip file"),
    ("travel/roads/roads.zip", None, r"has neither its population raster nor travel/roads/roads\.zip"),
])
def test_a_broken_jemss_model_file_is_named_with_what_is_wrong(tmp_path: Path, rel: str, text: str | bytes | None,
                                                              message: str) -> None:
    """Malformed XML, a file that is not UTF-8, a file with no table, a missing column, a value that is not a number,
    a roads.zip that is no zip, and neither raster nor roads were tracebacks (ParseError, UnicodeDecodeError,
    StopIteration, AttributeError, TypeError/ValueError from int(), BadZipFile, FileNotFoundError); each is one
    `Invalid` naming the file (text None: the file is removed)."""
    model = _tiny_jemss_model(tmp_path)
    whole = core.Scenario.model_validate(flows.import_jemss(model))  # the model as made imports
    assert (len(whole.stations), len(whole.units), len(whole.demand)) == (1, 1, 2)
    if text is None:
        (model / rel).unlink()
    else:
        (model / rel).write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(Invalid, match=message):
        flows.import_jemss(model)


@pytest.mark.parametrize(("city", "stations", "ambulances", "hospitals", "per_day", "lat"), [
    ("edmonton", 17, 16, 5, 8 * 24, (53.3, 53.8)),  # gen_config: Exponential(1/(8*24)) days between calls
    ("manhattan", 8, 12, 10, 18.8 * 24, (40.6, 40.9)),  # Exponential(1/(18.8*24))
])
def test_the_other_jemss_cities_import_and_run(city: str, stations: int, ambulances: int, hospitals: int,
                                               per_day: float, lat: tuple[float, float]) -> None:
    """Edmonton and Manhattan (model 1) import as scenarios with every station, ambulance and hospital row of their
    files, the call rate of their gen_config and demand on their population raster, and a day of each runs."""
    model = shared_data("jemss", city, "models", "1")
    data = flows.import_jemss(model, days=1, block=10, seed=0)
    sc = core.Scenario.model_validate(data)
    assert (len(sc.stations), len(sc.units), len(sc.hospitals)) == (stations, ambulances, hospitals)
    assert sc.calls.rate_per_day == pytest.approx(per_day)
    assert "population raster" in sc.description
    where = np.array([p.lat for p in sc.demand])
    assert lat[0] < where.min() < where.max() < lat[1]
    result = flows.run_scenario(sc, replications=1)["summary"]
    assert result["calls"]["mean"] > 0.5 * per_day and result["served"]["mean"] == result["calls"]["mean"]
    assert 0 < result["all.within_12_min"]["mean"] <= 1


def test_a_jemss_city_folder_instead_of_a_model_names_its_models(tmp_path: Path) -> None:
    """JEMSS ships a city as data/ and models/N/; given the city folder, the import names the models to give
    instead of only the missing file."""
    for n in ("1", "10", "2"):
        (tmp_path / "models" / n / "stations").mkdir(parents=True)
        (tmp_path / "models" / n / "stations" / "stations_1.csv").write_text("")
    with pytest.raises(Invalid, match=r"has no stations/stations_1\.csv \(a JEMSS city folder\? give one of its "
                                      rf"models: {tmp_path}/models/1, {tmp_path}/models/2, {tmp_path}/models/10\)"):
        flows.import_jemss(tmp_path)
    with pytest.raises(Invalid, match=r"has no stations/stations_1\.csv$"):  # no hint where there is no model
        flows.import_jemss(tmp_path / "models")


def test_helsinki_scenario_runs_on_the_geo_router(helsinki_cities_dir: Path) -> None:
    """The shipped Helsinki scenario validates and runs on the imported city's router (no straight lines)."""
    sc = flows.load_scenario(HELSINKI)
    assert sc.travel.kind == "city" and sc.volunteers is not None
    short = sc.model_copy(update={"days": 1.0})
    result = flows.run_scenario(short, cities=CityStore(helsinki_cities_dir))
    assert result["travel"]["router"] == "helsinki" and result["travel"]["demand_points"] > 50
    assert result["travel"]["volunteers_walk"] == "walking network"
    assert any("the city's walking network" in s for s in result["simplifications"])
    assert result["summary"]["served"]["mean"] > 10
    assert 0 < result["summary"]["all.mean_response_min"]["mean"] < 30


def test_a_city_scenario_without_an_imported_city_says_so(tmp_path: Path) -> None:
    """travel.kind city on a cities folder without that city raises a 4xx error naming it."""
    data: dict[str, Any] = yaml.safe_load(HELSINKI.read_text())
    sc = core.Scenario.model_validate({**data, "travel": {"kind": "city", "city": "atlantis"}})
    with pytest.raises(Exception, match="atlantis") as info:
        flows.run_scenario(sc, cities=CityStore(tmp_path))
    assert getattr(info.value, "status_code", 404) in (404, 422)


def test_a_station_or_hospital_off_the_city_network_is_named(helsinki_cities_dir: Path) -> None:
    """A station or hospital farther than the snap distance from the city's roads was refused as "point 0" (its
    place in the router's list of stations and hospitals); it is named, with how many are off the network."""
    data: dict[str, Any] = yaml.safe_load(HELSINKI.read_text())
    auckland = {"lat": -36.85, "lon": 174.76}

    def run(**places: list[dict[str, Any]]) -> None:
        flows.run_scenario(core.Scenario.model_validate({**data, "days": 0.1, **places}),
                           cities=CityStore(helsinki_cities_dir))

    one = [{**data["stations"][0], **auckland}, *data["stations"][1:]]
    with pytest.raises(Invalid, match=r"^station 1 \(Kamppi\) at \(-36\.850000, 174\.760000\) is more than 1000 m "
                                      r"from the drive network of helsinki$"):
        run(stations=one)
    two = [*data["stations"][:2], *({**s, **auckland, "name": ""} for s in data["stations"][2:])]
    with pytest.raises(Invalid, match=r"^station 3 at .* of helsinki \(2 of the 4 stations are\)$"):
        run(stations=two)
    with pytest.raises(Invalid, match=r"^hospital 1 \(Demo Central Hospital \(stand-in\)\) at \(-36\.850000, "):
        run(hospitals=[{**data["hospitals"][0], **auckland}, *data["hospitals"][1:]])


def test_a_scenario_file_that_is_not_text_is_refused(tmp_path: Path) -> None:
    """A binary file given as the scenario was a UnicodeDecodeError traceback."""
    (tmp_path / "s.yaml").write_bytes(b"name: \xd0\xff\n")
    with pytest.raises(Invalid, match=r"s\.yaml is not UTF-8 text"):
        flows.load_scenario(tmp_path / "s.yaml")


def test_replayed_calls_happen_when_and_where_recorded(tmp_path: Path) -> None:
    """A replay CSV (ISO and second times) drives the simulation: same arrivals, places, priorities, arrests."""
    from tests.planning.test_simulate import SCENARIO

    (tmp_path / "calls.csv").write_text(
        "time,lat,lon,priority,arrest,pathways\n"
        "2026-01-05T00:10:00,60.171,24.941,1,yes,\n"
        "3600,60.175,24.945,2,0,stroke\n"
        "7200.5,60.171,24.941,3,,\n")
    data = {**SCENARIO, "calls": {"replay_file": "calls.csv"}, "days": 1}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(data))
    sc, router, _ = flows.prepare(flows.load_scenario(tmp_path / "s.yaml"))
    assert len(sc.demand) == len(SCENARIO["demand"]) + 2
    run = core.run_replication(sc, router, core.replication_seeds(sc, 1)[0])
    assert run.times[:, 0].tolist() == [600.0, 3600.0, 7200.5]
    assert run.priority.tolist() == [1, 2, 3] and run.arrest.tolist() == [True, False, False]
    assert run.area == ["replay"] * 3 and np.isfinite(run.times[:, 3]).all()
    (tmp_path / "bad.csv").write_text("time,lat,lon\n2025-01-01T00:00:00,60.1,24.9\n")
    bad = core.Scenario.model_validate({**data, "calls": {"replay_file": str(tmp_path / "bad.csv")}})
    with pytest.raises(Invalid, match="before the scenario start"):
        flows.resolve_replay(bad)
    # A short row (a TypeError before), a place off the globe and NaN (pydantic errors before): one `Invalid` each.
    for row, message in (("3600,60.1", r"bad\.csv line 2: .*float\(\) argument"),
                         ("3600,91,24.9", r"(?s)bad\.csv line 2: .*lat.*less than or equal to 90"),
                         ("3600,nan,24.9", r"(?s)bad\.csv line 2: .*lat.*finite number")):
        (tmp_path / "bad.csv").write_text(f"time,lat,lon\n{row}\n")
        with pytest.raises(Invalid, match=message):
            flows.resolve_replay(bad)
    (tmp_path / "bad.csv").write_text("time,lat,lon,pathways\n60,60.1,24.9,stroke\n90,60.1,24.9,stroke;strok\n")
    with pytest.raises(Invalid, match=r"bad\.csv: replayed call 2: unknown pathway 'strok'") as refused:
        flows.resolve_replay(bad)
    assert "\n" not in refused.value.message  # one line, no pydantic input dump


def test_plan_run_routes_with_the_settings_of_the_environment(helsinki_cities_dir: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """`plan run` built its city router with the default routing settings, whatever LIFECHAIN_SNAP_MAX_DISTANCE_M
    said, so the simulation and the server of the same environment disagreed on which places are on the roads. A
    station 1.6 km off the roads runs with 2000 m and is refused, naming 500 m, with 500 m."""
    import shutil

    from lifechain.cli import _register_domains, app

    monkeypatch.setenv("LIFECHAIN_DEMO_MODE", "1")
    shutil.copytree(helsinki_cities_dir, tmp_path / "cities")
    data = yaml.safe_load(HELSINKI.read_text(encoding="utf-8"))
    data["days"] = 0.2
    data["stations"][0].update(lat=60.15, lon=24.95)  # in the sea, about 1,570 m from a road
    path = tmp_path / "harbour.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    _register_domains()
    args = ["--data-dir", str(tmp_path), "plan", "run", str(path), "--json"]
    monkeypatch.setenv("LIFECHAIN_SNAP_MAX_DISTANCE_M", "2000")
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["summary"]["calls"]["n"] > 0
    monkeypatch.setenv("LIFECHAIN_SNAP_MAX_DISTANCE_M", "500")
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2
    assert "station 1 (Kamppi) at (60.150000, 24.950000) is more than 500 m from the drive network" in res.output


def test_plan_run_on_a_city_needs_no_secret_key(helsinki_cities_dir: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """An analyst simulating an imported city signs nothing: no secret key and no demo mode are needed for it."""
    import shutil

    from lifechain.cli import _register_domains, app

    for name in ("LIFECHAIN_SECRET_KEY", "LIFECHAIN_DEMO_MODE"):
        monkeypatch.delenv(name, raising=False)
    shutil.copytree(helsinki_cities_dir, tmp_path / "cities")
    data = yaml.safe_load(HELSINKI.read_text(encoding="utf-8"))
    data["days"] = 0.5
    path = tmp_path / "short.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    _register_domains()
    res = CliRunner().invoke(app, ["--data-dir", str(tmp_path), "plan", "run", str(path), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["travel"]["router"] == "helsinki"
