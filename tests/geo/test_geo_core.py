"""Pure geo rules: coordinates, parsing, GCJ-02 conversion."""

from __future__ import annotations

import numpy as np
import pytest

from lifechain.errors import Invalid
from lifechain.geo.core import (
    LatLon,
    check_mode,
    check_profile,
    gcj02_to_wgs84,
    haversine_m,
    haversine_many,
    local_offsets_m,
    parse_latlon,
    to_wgs84,
    wgs84_to_gcj02,
)


def test_latlon_refuses_out_of_range() -> None:
    """Latitude beyond 90 and longitude beyond 180 are refused with a message naming the value."""
    with pytest.raises(Invalid, match="latitude 91"):
        LatLon(91, 0)
    with pytest.raises(Invalid, match="longitude -181"):
        LatLon(0, -181)


def test_parse_latlon() -> None:
    """`lat,lon` text becomes a point; malformed text is refused saying what was expected."""
    assert parse_latlon("60.17,24.94") == LatLon(60.17, 24.94)
    for bad in ("60.17", "a,b", "nan,1", "1,2,3"):
        with pytest.raises(Invalid):
            parse_latlon(bad)


def test_gcj02_round_trip_in_china_and_identity_outside() -> None:
    """GCJ-02 shifts Beijing by hundreds of metres and the inverse recovers WGS-84 to a centimetre."""
    beijing = LatLon(39.9087, 116.3975)
    shifted = wgs84_to_gcj02(beijing)
    assert 100 < haversine_m(beijing, shifted) < 1000
    back = gcj02_to_wgs84(shifted)
    assert haversine_m(back, beijing) < 0.01
    helsinki = LatLon(60.17, 24.94)
    assert gcj02_to_wgs84(helsinki) == helsinki
    assert to_wgs84(shifted, "gcj02") == back
    with pytest.raises(Invalid, match="unknown crs"):
        to_wgs84(helsinki, "epsg:3857")


def test_local_offsets_are_east_north_metres_close_to_the_great_circle() -> None:
    """Offsets from a point are metres east (x) and north (y): a degree north is 111.195 km, a degree east is that
    times cos(latitude), and within 10 km in any direction the projected length is within 0.5% of the great
    circle (the slack the volunteer reach and the simulated population allow for)."""
    origin = LatLon(60.17, 24.94)
    dx, dy = local_offsets_m(origin, [61.17, 60.17], [24.94, 25.94])
    assert dx.tolist() == pytest.approx([0.0, 111_195.08 * np.cos(np.radians(60.17))], rel=1e-6)
    assert dy.tolist() == pytest.approx([111_195.08, 0.0], rel=1e-6)
    rng = np.random.default_rng(3)
    lat = origin.lat + rng.uniform(-0.09, 0.09, 500)
    lon = origin.lon + rng.uniform(-0.18, 0.18, 500)
    dx, dy = local_offsets_m(origin, lat, lon)
    great = haversine_many(origin.lat, origin.lon, lat, lon)
    near = great < 10_000
    assert near.sum() > 100
    assert np.all(np.abs(np.hypot(dx, dy)[near] / great[near] - 1) < 0.005)


def test_modes_and_profiles_are_checked() -> None:
    """Unknown modes and profiles are refused naming the valid ones."""
    assert check_mode("walk") == "walk"
    assert check_profile("regular") == "regular"
    with pytest.raises(Invalid, match="drive, walk"):
        check_mode("fly")
    with pytest.raises(Invalid, match="emergency, regular"):
        check_profile("fast")
