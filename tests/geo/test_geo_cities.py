"""City import, storage and the CityStore: Helsinki compiled, re-import atomic, places, no pickles."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from lifechain.errors import Invalid, NotFound
from lifechain.geo.core import LatLon
from lifechain.geo.flows import import_city
from lifechain.geo.jemss import read_tables
from lifechain.geo.repo import CityStore, check_city_name

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_helsinki_manifest_reports_networks_and_drops(helsinki_cities_dir: Path) -> None:
    """The manifest lists both networks, both driving profiles and what the SCC pruning dropped."""
    info = CityStore(helsinki_cities_dir).info("helsinki")
    drive, walk = info["networks"]["drive"], info["networks"]["walk"]
    assert drive["profiles"] == ["emergency", "regular"] and walk["profiles"] == ["walk"]
    assert drive["nodes"] > 1000 and walk["nodes"] > drive["nodes"]
    assert drive["dropped_nodes"] > 0 and drive["components"] > 1
    lat0, lon0, lat1, lon1 = info["bbox"]
    assert 60.1 < lat0 < lat1 < 60.2 and 24.9 < lon0 < lon1 < 25.0


def test_compiled_arrays_load_without_pickle(helsinki_cities_dir: Path) -> None:
    """Every stored array loads with allow_pickle=False (no Python objects on disk)."""
    for npz in (helsinki_cities_dir / "helsinki").glob("*.npz"):
        with np.load(npz, allow_pickle=False) as z:
            assert all(z[k].dtype != object for k in z.files)


def test_reimport_replaces_atomically_and_reloads_router(tmp_path: Path) -> None:
    """A re-import swaps the folder (no temp left behind) and the store hands out a fresh router."""
    import_city("builtin:helsinki", name="hki", cities_dir=tmp_path, now=NOW)
    store = CityStore(tmp_path, default_engine="scipy")
    first_id, first = store.info("hki")["import_id"], store.router("hki")
    assert store.router("hki") is first
    import_city("builtin:helsinki", name="hki", cities_dir=tmp_path, now=NOW)
    assert store.info("hki")["import_id"] != first_id
    assert store.router("hki") is not first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hki"]


def test_unknown_city_engine_and_source_are_refused(tmp_path: Path, helsinki_cities_dir: Path) -> None:
    """Unknown city -> NotFound listing the imported cities; unknown engine or source -> Invalid."""
    store = CityStore(helsinki_cities_dir)
    with pytest.raises(NotFound, match="imported: helsinki"):
        store.info("atlantis")
    with pytest.raises(Invalid, match="unknown routing engine"):
        store.router("helsinki", "osrm")
    with pytest.raises(Invalid, match="cannot import"):
        import_city(str(tmp_path / "missing.osm.pbf"), name="x", cities_dir=tmp_path, now=NOW)
    with pytest.raises(Invalid, match="built-in"):
        import_city("builtin:tokyo", name="x", cities_dir=tmp_path, now=NOW)


@pytest.mark.parametrize("name", ["", "../evil", "a/b", ".hidden", "x y", "-x", "a" * 65])
def test_a_city_name_that_is_no_plain_folder_name_is_refused_before_the_import(tmp_path: Path, name: str) -> None:
    """The name is the city's folder and a part of the API's paths: "" made the import move the cities folder into
    itself (it failed only because a folder cannot be moved into itself), "../evil" and "a/b" were tracebacks after
    the whole import, ".hidden" was imported and then never listed, "x y" could not be routed to in a URL without
    escaping. Each is refused, naming what a name may hold, before any reading; nothing is written."""
    cities = tmp_path / "cities"
    with pytest.raises(Invalid, match=r"^city name .*: use 1 to 64 letters, digits, '-' or '_', starting with a "
                                      r"letter or digit$"):
        import_city("builtin:helsinki", name=name, cities_dir=cities, now=NOW)
    assert not cities.exists()
    for good in ("helsinki", "Auckland_2", "new-york", "北京"):
        assert check_city_name(good) == good


def test_places_and_search(helsinki_cities_dir: Path) -> None:
    """Places carry named streets and the bbox; search ranks prefix matches first."""
    store = CityStore(helsinki_cities_dir)
    places = store.places("helsinki")
    assert {"streets", "points", "aeds", "stations", "hospitals", "bbox", "centre"} <= set(places)
    assert any(s["name"] == "Mannerheimintie" for s in places["streets"])
    hits = store.search("helsinki", "mannerheim")
    assert hits[0]["name"].lower().startswith("mannerheim")
    assert store.search("helsinki", "no such street xyz") == []
    # Accents and case aside: typed without ä/ö, a dispatcher still finds Töölönlahdenkatu and Eteläranta.
    assert store.search("helsinki", "toolonlahdenkatu")[0]["name"] == "Töölönlahdenkatu"
    assert store.search("helsinki", "ETELARANTA")[0]["name"] == "Eteläranta"
    # Every word must be there, in any order; a word start ranks before a match inside a word.
    both = store.search("helsinki", "teatterikuja itainen")
    assert [h["name"] for h in both] == ["Itäinen Teatterikuja"]
    ranked = [h["name"] for h in store.search("helsinki", "teatteri", limit=50)]
    assert ranked and all(n.casefold().startswith("teatteri") or " teatteri" in n.casefold() for n in ranked[:1])


def test_read_tables_splits_jemss_multi_table_csv() -> None:
    """A JEMSS file with two tables yields both, by name, with their headers."""
    text = ("miscData,,,\narcForm,numModes,\ndirected,2\n,\n"
            "arcs,,,\nindex,fromNode,toNode,mode_1\n1,1,2,0.5\n2,2,1,0.25\n")
    tables = read_tables(text)
    assert tables["miscData"]["arcForm"].iloc[0] == "directed"
    assert tables["arcs"]["mode_1"].tolist() == [0.5, 0.25]


MINI_NODES = "nodes,,,\nindex,x,y,offRoadAccess\n1,174.70,-36.76,1\n2,174.701,-36.76,1\n3,174.701,-36.761,1\n"
MINI_ARCS = ("miscData,,,\narcForm,numModes,\ndirected,2\n,\narcs,,,\nindex,fromNode,toNode,distance,mode_1,mode_2\n"
             "1,1,2,0.09,0.0001,0.0002\n2,2,3,0.11,0.0001,0.0002\n3,3,1,0.14,0.0001,0.0002\n")
MINI_STATIONS = "stations,,,\nindex,x,y,capacity\n1,174.7001,-36.7601,5\n"


def _mini_model(root: Path, nodes: str = MINI_NODES, arcs: str = MINI_ARCS, stations: str = MINI_STATIONS) -> Path:
    """A JEMSS model folder of three nodes on a one-way ring and one station."""
    import zipfile

    model = root / "model"
    (model / "travel" / "roads").mkdir(parents=True)
    (model / "stations").mkdir()
    with zipfile.ZipFile(model / "travel" / "roads" / "roads.zip", "w") as zf:
        zf.writestr("nodes.csv", nodes)
        zf.writestr("arcs.csv", arcs)
    (model / "stations" / "stations_1.csv").write_text(stations)
    return model


def test_jemss_folder_import_keeps_arc_times(tmp_path: Path) -> None:
    """A tiny JEMSS model: days become seconds, mode 1 is emergency, stations are imported, walking derived."""
    model = _mini_model(tmp_path)
    manifest = import_city(str(model), name="mini", cities_dir=tmp_path / "cities", now=NOW)
    assert manifest["networks"]["drive"] | {"dropped_nodes": 0} == manifest["networks"]["drive"]
    store = CityStore(tmp_path / "cities", default_engine="scipy")
    router = store.router("mini")
    a, b = LatLon(-36.76, 174.70), LatLon(-36.76, 174.701)
    assert router.route(a, b).seconds == pytest.approx(0.0001 * 86400)
    assert router.route(a, b, profile="regular").seconds == pytest.approx(0.0002 * 86400)
    assert router.route(b, a).seconds == pytest.approx(2 * 0.0001 * 86400)  # one-way ring: the long way round
    assert router.route(b, a, mode="walk").seconds == pytest.approx(router.route(a, b, mode="walk").seconds)
    assert store.places("mini")["stations"][0]["lat"] == -36.7601
    assert json.loads((tmp_path / "cities" / "mini" / "manifest.json").read_text())["kind"] == "jemss"


@pytest.mark.parametrize(("part", "old", "new", "message"), [
    ("arcs", "2,2,3,", "2,9,3,", r"arcs\.csv: fromNode of data row 2 is 9, which is no node of nodes\.csv$"),
    ("arcs", "2,2,3,", "2,-1,3,", r"arcs\.csv: fromNode of data row 2 is -1, which is no node of nodes\.csv$"),
    ("nodes", "2,174.701,-36.76,1\n", "", r"arcs\.csv: fromNode of data row 2 is 2, which is no node of nodes\.csv$"),
    ("arcs", "0.11,0.0001,0.0002", "0.11,-0.0001,0.0002",
     r"arcs\.csv: mode_1 of data row 2 is -0\.0001: a travel time cannot be negative$"),
    ("arcs", "0.11,0.0001,0.0002", "0.11,0.0001,", r"arcs\.csv: mode_2 of data row 2 is empty, not a number$"),
    ("arcs", "2,2,3,", "2,2.5,3,", r"arcs\.csv: fromNode of data row 2 is 2\.5, not a whole number$"),
    ("nodes", "3,174.701,-36.761", "2,174.701,-36.761", r"nodes\.csv: node index 2 is given 2 times$"),
    ("nodes", "-36.761", "-96.761", r"nodes\.csv: y of data row 3 is -96\.761, beyond \+-90 degrees$"),
    ("nodes", "nodes,,,", "nodez,,,", r"nodes\.csv has no table 'nodes' .*; it has 'nodez'$"),
    ("arcs", "index,fromNode", "index,from", r"arcs\.csv: its table has no column fromNode \(it has index, from, "),
    ("stations", "1,174.7001", "x,174.7001", r"stations_1\.csv: index of data row 1 is 'x', not a whole number$"),
])
def test_a_broken_jemss_road_file_is_refused_naming_row_and_column(tmp_path: Path, part: str, old: str, new: str,
                                                                   message: str) -> None:
    """An arc to a node missing from nodes.csv silently became another node (pos -1: the last one) or a traceback,
    a negative travel time was imported (shortest paths assume none), a node index given twice or a latitude off the
    globe went through; a cell that is not a number and a missing table or column were tracebacks. Each is one
    `Invalid` naming the file, row and column; the city is not imported."""
    texts = {"nodes": MINI_NODES, "arcs": MINI_ARCS, "stations": MINI_STATIONS}
    assert old in texts[part]
    texts[part] = texts[part].replace(old, new, 1)
    model = _mini_model(tmp_path, **texts)
    with pytest.raises(Invalid, match=message):
        import_city(str(model), name="mini", cities_dir=tmp_path / "cities", now=NOW)
    assert not (tmp_path / "cities" / "mini").exists()


def test_a_roads_zip_without_its_files_is_refused(tmp_path: Path) -> None:
    """A roads.zip that is not a zip, or lacks arcs.csv, was a BadZipFile or KeyError traceback."""
    import zipfile

    model = _mini_model(tmp_path)
    roads = model / "travel" / "roads" / "roads.zip"
    with zipfile.ZipFile(roads, "w") as zf:
        zf.writestr("nodes.csv", MINI_NODES)
    with pytest.raises(Invalid, match=r"roads\.zip has no arcs\.csv \(it holds nodes\.csv\)$"):
        import_city(str(model), name="mini", cities_dir=tmp_path / "cities", now=NOW)
    roads.write_bytes(b"not a zip")
    with pytest.raises(Invalid, match=r"cannot read .*roads\.zip: File is not a zip file$"):
        import_city(str(model), name="mini", cities_dir=tmp_path / "cities", now=NOW)


def test_ragged_jemss_tables_are_cut_to_their_header(tmp_path: Path) -> None:
    """Station rows with trailing notes beyond the header still load (Manhattan's model has them)."""
    from lifechain.geo.jemss import _points

    path = tmp_path / "stations_1.csv"
    path.write_text('stations,,,\nindex,x,y,capacity,,station #,address,note\n'
                    '1,-73.98,40.71,5,,4,"Pier 36, South St",\n7,-73.97,40.77,5,,,,artificial,\n')
    points = _points(path, "station")
    assert [(p["index"], p["name"], p["lat"]) for p in points] == [(1, "Pier 36, South St", 40.71),
                                                                    (7, "station 7", 40.77)]
