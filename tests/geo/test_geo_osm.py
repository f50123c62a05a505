"""OSM parsing rules on a hand-written extract: one-ways, speeds, access, walking ways, AEDs, street names."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lifechain.geo.network import ROAD_CLASSES
from lifechain.geo.osm import parse_maxspeed, read_osm

OSM = """<?xml version='1.0' encoding='UTF-8'?>
<osm version="0.6">
  <node id="1" lat="60.0000" lon="24.0000"/>
  <node id="2" lat="60.0000" lon="24.0010"/>
  <node id="3" lat="60.0010" lon="24.0010"/>
  <node id="4" lat="60.0010" lon="24.0000"/>
  <node id="5" lat="60.0005" lon="24.0005">
    <tag k="emergency" v="defibrillator"/><tag k="indoor" v="yes"/><tag k="level" v="1"/>
    <tag k="opening_hours" v="Mo-Fr 08:00-18:00"/><tag k="defibrillator:location" v="lobby"/>
  </node>
  <way id="10"><nd ref="1"/><nd ref="2"/><tag k="highway" v="primary"/><tag k="oneway" v="yes"/>
    <tag k="maxspeed" v="36"/><tag k="name" v="Testikatu"/></way>
  <way id="11"><nd ref="2"/><nd ref="3"/><tag k="highway" v="residential"/></way>
  <way id="12"><nd ref="3"/><nd ref="4"/><tag k="highway" v="service"/><tag k="access" v="private"/></way>
  <way id="13"><nd ref="4"/><nd ref="1"/><tag k="highway" v="footway"/></way>
  <way id="14"><nd ref="3"/><nd ref="1"/><tag k="highway" v="residential"/><tag k="oneway" v="-1"/></way>
  <way id="15"><nd ref="2"/><nd ref="4"/><tag k="highway" v="steps"/></way>
  <way id="16"><nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="4"/><nd ref="1"/>
    <tag k="amenity" v="hospital"/><tag k="name" v="Testin sairaala"/><tag k="building" v="yes"/></way>
</osm>
"""


@pytest.fixture
def extract(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.osm"
    path.write_text(OSM)
    return path


def _arcs(net: object) -> set[tuple[int, int]]:
    return set(zip(net.tail.tolist(), net.head.tolist(), strict=True))  # type: ignore[attr-defined]


def test_driving_rules(extract: Path) -> None:
    """One-way forward and reverse are obeyed, private roads and footways are not driven, maxspeed sets time."""
    city = read_osm(extract)
    net = city.drive
    ids = {(round(la, 4), round(lo, 4)): i for i, (la, lo) in enumerate(zip(net.lat, net.lon, strict=True))}
    n1, n2, n3 = ids[(60.0, 24.0)], ids[(60.0, 24.001)], ids[(60.001, 24.001)]
    arcs = _arcs(net)
    assert (n1, n2) in arcs and (n2, n1) not in arcs
    assert (n1, n3) in arcs and (n3, n1) not in arcs  # oneway=-1 runs against the drawing direction
    assert {(n2, n3), (n3, n2)} <= arcs
    assert net.n_nodes == 3  # node 4 only has a private road, a footway and steps
    first = next(i for i, a in enumerate(zip(net.tail, net.head, strict=True)) if a == (n1, n2))
    assert net.road_class[first] == ROAD_CLASSES.index("primary")
    # 55.7 m at 36 km/h = 10 m/s, times 1.2 for emergency and 0.85 for regular.
    assert net.seconds["emergency"][first] == pytest.approx(net.length_m[first] / 12.0)
    assert net.seconds["regular"][first] == pytest.approx(net.length_m[first] / 8.5)


def test_walking_rules(extract: Path) -> None:
    """Footways and steps are walked both ways (steps at half speed); private roads are not walked."""
    net = read_osm(extract, walk_speed_mps=2.0).walk
    assert net.n_nodes == 4
    steps = net.road_class == ROAD_CLASSES.index("steps")
    assert steps.sum() == 2
    assert np.allclose(net.seconds["walk"][steps], net.length_m[steps] / 1.0)
    foot = net.road_class == ROAD_CLASSES.index("footway")
    assert np.allclose(net.seconds["walk"][foot], net.length_m[foot] / 2.0)
    assert net.n_arcs == 2 * 5  # every way but the private one, both directions


def test_places_aeds_and_streets(extract: Path) -> None:
    """AEDs keep their access tags; named streets are searchable; a hospital drawn as an area is placed."""
    places = read_osm(extract).places
    (aed,) = places["aeds"]
    assert aed["tags"] == {"indoor": "yes", "level": "1", "opening_hours": "Mo-Fr 08:00-18:00",
                           "defibrillator:location": "lobby"}
    assert (aed["lat"], aed["lon"]) == (60.0005, 24.0005)
    assert [s["name"] for s in places["streets"]] == ["Testikatu"]
    (hospital,) = places["hospitals"]
    assert hospital["name"] == "Testin sairaala" and 60.0 < hospital["lat"] < 60.001


@pytest.mark.parametrize(("tag", "kmh"), [("50", 50.0), ("30 mph", 48.28), ("FI:urban", 50.0), ("walk", 7.0),
                                          ("none", 130.0), ("signals", None), (None, None), ("RU:rural", 80.0)])
def test_parse_maxspeed(tag: str | None, kmh: float | None) -> None:
    """maxspeed tags in km/h, mph and zone form are read; unreadable ones give None."""
    got = parse_maxspeed(tag)
    assert (got is None and kmh is None) or got == pytest.approx(kmh, abs=0.01)
