"""Pure geo rules: coordinates, parsing, GCJ-02 conversion."""

from __future__ import annotations

import pytest

from lifechain.errors import Invalid
from lifechain.geo.core import (
    LatLon,
    check_mode,
    check_profile,
    gcj02_to_wgs84,
    haversine_m,
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


def test_modes_and_profiles_are_checked() -> None:
    """Unknown modes and profiles are refused naming the valid ones."""
    assert check_mode("walk") == "walk"
    assert check_profile("regular") == "regular"
    with pytest.raises(Invalid, match="drive, walk"):
        check_mode("fly")
    with pytest.raises(Invalid, match="emergency, regular"):
        check_profile("fast")
