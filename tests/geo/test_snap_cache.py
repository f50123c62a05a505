"""The router remembers snapped positions: asking again gives the same answer without a new spatial search."""

from __future__ import annotations

import pytest

from lifechain.geo.core import LatLon, OffNetwork
from lifechain.geo.engines import SnapCache


def test_cached_times_equal_fresh_times(helsinki_router) -> None:
    """times_to over cached positions equals times_to over the same points pre-snapped explicitly."""
    units = [LatLon(60.1690, 24.9400), LatLon(60.1650, 24.9450), LatLon(60.1700, 24.9350)]
    incident = LatLon(60.1675, 24.9420)
    fresh = helsinki_router.times_to(helsinki_router.snap(units), incident)
    first = helsinki_router.times_to(units, incident)
    again = helsinki_router.times_to(list(reversed(units)), incident)
    assert list(first) == pytest.approx(list(fresh))
    assert list(again) == pytest.approx(list(reversed(list(fresh))))


def test_cache_snaps_each_new_point_once_and_is_bounded() -> None:
    """Only unseen points reach the snapper; the cache empties itself rather than grow past its bound."""
    calls: list[int] = []
    cache = SnapCache(max_points=3)

    def snap(points):
        calls.append(len(points))
        import numpy as np

        from lifechain.geo.engines import Snapped
        n = len(points)
        lat = np.array([p.lat for p in points])
        lon = np.array([p.lon for p in points])
        return Snapped("drive", lat, lon, np.zeros(n, np.int64), np.zeros(n), np.zeros(n), lat, lon)

    a, b, c, d = (LatLon(60.0 + i / 100, 24.0) for i in range(4))
    assert list(cache.lookup([a, b, a], snap).lat) == [a.lat, b.lat, a.lat]
    assert calls == [2]
    cache.lookup([b, a], snap)
    assert calls == [2]
    cache.lookup([c, d], snap)  # 2 + 2 > 3: cleared, then filled with c and d
    assert calls == [2, 2]
    cache.lookup([a], snap)
    assert calls == [2, 2, 1]


def test_off_network_error_names_the_index_among_the_points_asked(helsinki_router) -> None:
    """A far point is still refused, and the error's index is its position in the caller's list."""
    known = LatLon(60.1690, 24.9400)
    helsinki_router.times_to([known], LatLon(60.1675, 24.9420))
    with pytest.raises(OffNetwork) as err:
        helsinki_router.times_to([known, LatLon(61.5, 26.0)], LatLon(60.1675, 24.9420))
    assert err.value.detail["index"] == 1
