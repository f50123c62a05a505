"""Dispatch recommendation rules: ranking by ETA, capability, stale GPS, redispatch, hospitals, queue, free times."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from lifechain.dispatch.core import (
    DispatchPolicy,
    IncidentState,
    divert_refusal,
    earliest_free,
    queue_order,
    recommend_hospital,
    recommend_units,
)
from lifechain.errors import Invalid
from lifechain.fleet.core import UnitState, UnitStatus, UnitType
from lifechain.geo.core import LatLon, OffNetwork, haversine_m
from lifechain.hospitals.core import Capability, HospitalState

S = UnitStatus
NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
SCENE = LatLon(60.0, 25.0)


class FakeRouter:
    """Straight-line travel at 10 m/s (emergency) or 5 m/s (regular); records every call; inf beyond the limit."""

    city = "fake"

    def __init__(self, blocked: Sequence[LatLon] = (), off: Sequence[LatLon] = ()) -> None:
        self.calls: list[tuple[str, str, int]] = []
        self.blocked = set(blocked)
        self.off = set(off)

    def _snap(self, points: Sequence[LatLon]) -> None:
        """Refuse the first point off the network, naming it as the geo routers do."""
        for i, p in enumerate(points):
            if p in self.off:
                raise OffNetwork(f"point {i} is off the network", index=i, lat=p.lat, lon=p.lon)

    def _t(self, a: LatLon, b: LatLon, profile: str, limit_s: float) -> float:
        if a in self.blocked or b in self.blocked:
            return float("inf")
        t = haversine_m(a, b) / (10.0 if profile == "emergency" else 5.0)
        return t if t <= limit_s else float("inf")

    def times_to(self, origins: Sequence[LatLon], destination: LatLon, *, mode: str = "drive",
                 profile: str = "emergency", limit_s: float = float("inf")) -> Any:
        self.calls.append(("times_to", profile, len(origins)))
        self._snap(origins)
        self._snap([destination])
        return np.array([self._t(o, destination, profile, limit_s) for o in origins])

    def times_from(self, origin: LatLon, destinations: Sequence[LatLon], *, mode: str = "drive",
                   profile: str = "emergency", limit_s: float = float("inf")) -> Any:
        self.calls.append(("times_from", profile, len(destinations)))
        self._snap([origin])
        self._snap(destinations)
        return np.array([self._t(origin, d, profile, limit_s) for d in destinations])


def north(km: float) -> LatLon:
    """A point `km` kilometres north of the scene (1 km = 100 s at emergency speed)."""
    return LatLon(SCENE.lat + km / 111.195, SCENE.lon)


def unit(uid: int, km: float, *, type: UnitType = UnitType.ALS, status: UnitStatus = S.AVAILABLE_AT_STATION,
         fix_km: float | None = None, fix_age_s: float = 10, incident_id: int | None = None,
         incident_priority: int | None = None) -> UnitState:
    fix = None if fix_km is None else north(fix_km)
    return UnitState(uid, f"U{uid}", type, status, north(km), fix, None if fix is None else NOW - timedelta(
        seconds=fix_age_s), incident_id, incident_priority)


def incident(priority: int = 1, pathways: frozenset[str] = frozenset(), iid: int = 100,
             received: datetime = NOW) -> IncidentState:
    return IncidentState(iid, SCENE, priority, pathways, received)


def test_units_ranked_by_eta_with_one_router_call() -> None:
    """Available units come fastest first, from a single many-to-one router call on the emergency profile."""
    router = FakeRouter()
    rec = recommend_units(incident(1), [unit(1, 5), unit(2, 2), unit(3, 8)], router, now=NOW)
    assert [c.unit_id for c in rec.eligible] == [2, 1, 3]
    assert rec.best is not None and rec.best.unit_id == 2
    assert rec.best.eta_s == pytest.approx(200, rel=1e-3)
    assert rec.best.distance_m == pytest.approx(2000, rel=1e-3)
    assert router.calls == [("times_to", "emergency", 3)]
    assert rec.profile == "emergency"


def test_regular_profile_for_low_priority() -> None:
    """Priority 3-4 calls are routed without lights and sirens."""
    router = FakeRouter()
    rec = recommend_units(incident(3), [unit(1, 1)], router, now=NOW)
    assert rec.profile == "regular" and router.calls == [("times_to", "regular", 1)]
    assert rec.best is not None and rec.best.eta_s == pytest.approx(200, rel=1e-3)


def test_ties_break_by_unit_id() -> None:
    """Equal ETAs rank by unit id, so runs repeat."""
    rec = recommend_units(incident(2), [unit(9, 3), unit(4, 3), unit(6, 3)], FakeRouter(), now=NOW)
    assert [c.unit_id for c in rec.eligible] == [4, 6, 9]


def test_als_required_for_priority_1_only() -> None:
    """A nearer BLS unit is excluded as wrong type for priority 1, and ranked first for priority 2."""
    units = [unit(1, 1, type=UnitType.BLS), unit(2, 4)]
    p1 = recommend_units(incident(1), units, FakeRouter(), now=NOW)
    assert [c.unit_id for c in p1.eligible] == [2]
    bls = next(c for c in p1.candidates if c.unit_id == 1)
    assert (bls.eligible, bls.reason, bls.reason_text and bls.reason_text["en"]) == (
        False, "wrong_type", "wrong unit type for this priority")
    p2 = recommend_units(incident(2), units, FakeRouter(), now=NOW)
    assert [c.unit_id for c in p2.eligible] == [1, 2]


def test_als_rule_is_configurable() -> None:
    """With ALS required for priorities 1-2, a BLS unit is excluded from a priority-2 call."""
    policy = DispatchPolicy(als_required_priorities=frozenset({1, 2}))
    rec = recommend_units(incident(2), [unit(1, 1, type=UnitType.BLS)], FakeRouter(), now=NOW, policy=policy)
    assert rec.best is None and rec.candidates[0].reason == "wrong_type"


def test_every_unit_is_explained() -> None:
    """Busy, out-of-service, wrong-type and unreachable units are listed with their reason after the eligible ones."""
    blocked = north(3)
    units = [unit(1, 1, status=S.ON_SCENE, incident_id=7, incident_priority=1),
             unit(2, 1, status=S.OUT_OF_SERVICE), unit(3, 1, type=UnitType.BLS), unit(4, 3), unit(5, 6)]
    rec = recommend_units(incident(1), units, FakeRouter(blocked=[blocked]), now=NOW)
    assert [(c.unit_id, c.reason) for c in rec.candidates] == [
        (5, None), (1, "busy"), (2, "out_of_service"), (4, "unreachable"), (3, "wrong_type")]
    assert [c.eligible for c in rec.candidates] == [True, False, False, False, False]


def test_max_eta_makes_far_units_unreachable() -> None:
    """Units beyond the policy's ETA limit are excluded as unreachable."""
    policy = DispatchPolicy(max_eta_s=500)
    rec = recommend_units(incident(1), [unit(1, 4), unit(2, 6)], FakeRouter(), now=NOW, policy=policy)
    assert [(c.unit_id, c.reason) for c in rec.candidates] == [(1, None), (2, "unreachable")]


def test_fresh_gps_fix_is_used_for_returning_unit() -> None:
    """A returning unit is routed from its latest fresh fix, not its station."""
    rec = recommend_units(incident(1), [unit(1, 9, status=S.AVAILABLE_RETURNING, fix_km=1, fix_age_s=30),
                                        unit(2, 3)], FakeRouter(), now=NOW)
    assert [c.unit_id for c in rec.eligible] == [1, 2]
    assert rec.eligible[0].reason is None and rec.eligible[0].origin == north(1)


def test_stale_gps_fix_uses_station_and_says_so() -> None:
    """A fix older than the limit is ignored: ETA from the station, flagged stale but still eligible."""
    rec = recommend_units(incident(1), [unit(1, 9, status=S.AVAILABLE_RETURNING, fix_km=1, fix_age_s=121),
                                        unit(2, 3)], FakeRouter(), now=NOW)
    assert [c.unit_id for c in rec.eligible] == [2, 1]
    stale = rec.eligible[1]
    assert stale.reason == "stale_gps_used_station" and stale.origin == north(9)
    assert stale.eta_s == pytest.approx(900, rel=1e-3)


def test_stale_limit_is_configurable() -> None:
    """With a 200 s limit, a 121 s old fix is still fresh."""
    policy = DispatchPolicy(gps_stale_after_s=200)
    rec = recommend_units(incident(1), [unit(1, 9, status=S.AVAILABLE_RETURNING, fix_km=1, fix_age_s=121)],
                          FakeRouter(), now=NOW, policy=policy)
    assert rec.eligible[0].reason is None


def test_redispatch_candidates_follow_the_table() -> None:
    """Units heading to priority 2-4 calls are divertible to a priority-1 call; on-scene and priority-1 ones not."""
    units = [unit(1, 2, status=S.EN_ROUTE, incident_id=11, incident_priority=3),
             unit(2, 1, status=S.DISPATCHED, incident_id=12, incident_priority=2),
             unit(3, 1, status=S.EN_ROUTE, incident_id=13, incident_priority=1),
             unit(4, 1, status=S.ON_SCENE, incident_id=14, incident_priority=4),
             unit(5, 1, status=S.EN_ROUTE, type=UnitType.BLS, incident_id=15, incident_priority=4)]
    rec = recommend_units(incident(1), units, FakeRouter(), now=NOW)
    assert rec.best is None
    assert [(c.unit_id, c.from_incident_id, c.from_priority) for c in rec.redispatch] == [(2, 12, 2), (1, 11, 3)]
    assert rec.redispatch[0].eta_s == pytest.approx(100, rel=1e-3)


def test_no_redispatch_to_a_lower_priority_call_by_default() -> None:
    """A priority-2 call takes no unit from a priority-3 call under the default table, but may when configured."""
    units = [unit(1, 2, status=S.EN_ROUTE, incident_id=11, incident_priority=3)]
    assert recommend_units(incident(2), units, FakeRouter(), now=NOW).redispatch == ()
    policy = DispatchPolicy(redispatch=frozenset({(3, 2)}))
    rec = recommend_units(incident(2), units, FakeRouter(), now=NOW, policy=policy)
    assert [c.unit_id for c in rec.redispatch] == [1]


def test_empty_fleet_makes_no_router_call() -> None:
    """No units: nothing to route, an empty recommendation."""
    router = FakeRouter()
    rec = recommend_units(incident(1), [], router, now=NOW)
    assert rec.best is None and rec.candidates == () and router.calls == []


def test_incident_priority_is_checked() -> None:
    """A priority outside 1-4 is refused."""
    with pytest.raises(Invalid, match="priority must be 1-4"):
        incident(5)


# Hospitals ------------------------------------------------------------------------------------------------------

ED = frozenset({Capability.ED})


def hospital(hid: int, km: float, caps: frozenset[Capability] = ED, diverted: bool = False) -> HospitalState:
    until = NOW + timedelta(hours=2) if diverted else None
    return HospitalState(hid, f"H{hid}", north(km), caps, until, "full" if diverted else None)


PCI = frozenset({Capability.ED, Capability.PCI_24_7})


def test_no_pathway_goes_to_nearest_ed() -> None:
    """Without a specialty pathway the nearest emergency department is chosen."""
    rec = recommend_hospital(incident(2), [hospital(1, 5), hospital(2, 3), hospital(3, 1, PCI)], FakeRouter(),
                             now=NOW)
    assert rec.hospital_id == 3 and rec.pathway is None


def test_stemi_goes_to_pci_centre_within_allowance() -> None:
    """A STEMI bypasses a nearer ED for a PCI centre up to 20 minutes farther (1,200 s)."""
    hs = [hospital(1, 1), hospital(2, 12, PCI)]  # 100 s vs 1,200 s: 1,100 s extra
    rec = recommend_hospital(incident(1, frozenset({"chest_pain_stemi"})), hs, FakeRouter(), now=NOW)
    assert rec.hospital_id == 2 and rec.pathway == "chest_pain_stemi"
    assert Capability.PCI_24_7 in rec.required
    assert "allowance 20 min" in rec.reasons[-1]["en"]


def test_stemi_beyond_allowance_goes_to_nearest_ed() -> None:
    """A PCI centre more than the allowance farther than the nearest ED loses to the ED, and says why."""
    hs = [hospital(1, 1), hospital(2, 14, PCI)]  # 1,300 s extra
    rec = recommend_hospital(incident(1, frozenset({"chest_pain_stemi"})), hs, FakeRouter(), now=NOW)
    assert rec.hospital_id == 1
    assert "beyond the 20 min allowance" in rec.reasons[0]["en"]


def test_stemi_allowance_is_configurable() -> None:
    """Raising the STEMI allowance to 30 minutes sends the same patient to the PCI centre."""
    hs = [hospital(1, 1), hospital(2, 14, PCI)]
    policy = DispatchPolicy(stemi_extra_time_allowance_s=1800)
    rec = recommend_hospital(incident(1, frozenset({"chest_pain_stemi"})), hs, FakeRouter(), now=NOW,
                             policy=policy)
    assert rec.hospital_id == 2


def test_a_hospital_off_the_roads_is_unreachable_and_the_others_are_still_ranked() -> None:
    """A hospital registered off the road network (a typo in its position, a city re-imported smaller) made the
    router refuse the whole call, so no recommendation of its city could be made, for units either. It is now
    unreachable, and the others are ranked; a scene off the roads is still the caller's error."""
    hs = [hospital(1, 2), hospital(2, 5), hospital(3, 1)]
    router = FakeRouter(off=[north(1), north(2)])
    rec = recommend_hospital(incident(2), hs, router, now=NOW)
    assert rec.hospital_id == 2
    assert [(c.hospital_id, c.eta_s is None) for c in rec.candidates] == [(2, False), (1, True), (3, True)]
    assert [n for _, _, n in router.calls] == [3, 2, 1]  # retried without each refused hospital
    nowhere = recommend_hospital(incident(2), hs[:1], FakeRouter(off=[north(2)]), now=NOW)
    assert nowhere.hospital_id is None and nowhere.reasons[-1]["en"] == "no hospital is reachable"
    with pytest.raises(OffNetwork):
        recommend_hospital(incident(2), hs, FakeRouter(off=[SCENE]), now=NOW)


def test_diverted_hospital_is_skipped() -> None:
    """A diverted PCI centre is passed over for the next PCI centre; the candidate list shows the diversion."""
    hs = [hospital(1, 2, PCI, diverted=True), hospital(2, 5, PCI), hospital(3, 1)]
    rec = recommend_hospital(incident(1, frozenset({"chest_pain_stemi"})), hs, FakeRouter(), now=NOW)
    assert rec.hospital_id == 2
    h1 = next(c for c in rec.candidates if c.hospital_id == 1)
    assert h1.diverted and h1.diversion_reason == "full"


def test_every_suitable_hospital_diverted_falls_back_to_diverted() -> None:
    """When every ED is diverted the nearest one is still recommended, with that reason."""
    hs = [hospital(1, 2, diverted=True), hospital(2, 5, diverted=True)]
    rec = recommend_hospital(incident(3), hs, FakeRouter(), now=NOW)
    assert rec.hospital_id == 1
    assert any("diversion" in r["en"] for r in rec.reasons)


def test_expired_diversion_is_ignored() -> None:
    """A diversion that ended before now does not count."""
    h = replace(hospital(1, 1), diverted_until=NOW - timedelta(minutes=1))
    rec = recommend_hospital(incident(2), [h, hospital(2, 3)], FakeRouter(), now=NOW)
    assert rec.hospital_id == 1


@pytest.mark.parametrize(("pathway", "capability"), [
    ("stroke", Capability.THROMBECTOMY), ("stroke", Capability.STROKE_THROMBOLYSIS),
    ("poisoning", Capability.POISONING_CENTRE), ("major_trauma", Capability.TRAUMA_1),
    ("major_trauma", Capability.TRAUMA_2)])
def test_pathway_capability(pathway: str, capability: Capability) -> None:
    """Each specialty pathway goes to a hospital offering its capability over a nearer plain ED."""
    hs = [hospital(1, 1), hospital(2, 4, frozenset({Capability.ED, capability}))]
    rec = recommend_hospital(incident(1, frozenset({pathway})), hs, FakeRouter(), now=NOW)
    assert rec.hospital_id == 2 and rec.pathway == pathway


def test_trauma_3_is_not_a_major_trauma_centre() -> None:
    """A level-3 trauma hospital does not satisfy the major-trauma pathway."""
    hs = [hospital(1, 1), hospital(2, 4, frozenset({Capability.ED, Capability.TRAUMA_3}))]
    rec = recommend_hospital(incident(1, frozenset({"major_trauma"})), hs, FakeRouter(), now=NOW)
    assert rec.hospital_id == 1


def test_from_location_and_unreachable() -> None:
    """ETAs are from `from_location`; with every hospital unreachable there is no destination."""
    router = FakeRouter(blocked=[north(1)])
    rec = recommend_hospital(incident(2), [hospital(1, 1)], router, now=NOW)
    assert rec.hospital_id is None and rec.reasons[-1]["en"] == "no hospital is reachable"
    rec2 = recommend_hospital(incident(2), [hospital(1, 4), hospital(2, 8)], FakeRouter(), now=NOW,
                              from_location=north(8))
    assert rec2.hospital_id == 2


# Queue and free times --------------------------------------------------------------------------------------------

def test_queue_orders_by_priority_then_arrival_then_id() -> None:
    """Waiting calls: priority 1 first, then earliest arrival, then lowest id."""
    t = NOW
    calls = [incident(2, iid=1, received=t), incident(1, iid=5, received=t + timedelta(seconds=30)),
             incident(1, iid=3, received=t + timedelta(seconds=30)), incident(1, iid=9, received=t)]
    assert [i.id for i in queue_order(calls)] == [9, 3, 5, 1]


def test_earliest_free_uses_status_and_elapsed_time() -> None:
    """Busy units sort by expected free time; time already spent in a status counts; available ones are left out."""
    units = [unit(1, 1, status=S.ON_SCENE), unit(2, 1, status=S.AT_HOSPITAL), unit(3, 1),
             unit(4, 1, status=S.TRANSPORTING, type=UnitType.BLS)]
    est = earliest_free(units, now=NOW, status_since={1: NOW - timedelta(seconds=2000)})
    assert [(e.unit_id, (e.free_at - NOW).total_seconds()) for e in est] == [(1, 400), (2, 900), (4, 1500)]
    als_only = earliest_free(units, now=NOW, incident=incident(1))
    assert [e.unit_id for e in als_only] == [2, 1]


def test_policy_is_hashable_and_compares_by_value() -> None:
    """Two equal policies hash alike (usable as cache keys); a changed rule makes them differ."""
    assert hash(DispatchPolicy()) == hash(DispatchPolicy())
    assert DispatchPolicy() != DispatchPolicy(gps_stale_after_s=60)
    assert len({DispatchPolicy(), DispatchPolicy(), DispatchPolicy(max_eta_s=10)}) == 2


def test_divert_refusal_explains_each_rule() -> None:
    """Diverting is refused, in words, for the same call, a unit on scene, the wrong type, or a table miss."""
    p1 = incident(1)
    ok = unit(1, 2, status=S.EN_ROUTE, incident_id=11, incident_priority=3)
    assert divert_refusal(ok, p1) is None
    assert "already on incident" in str(divert_refusal(ok._replace(incident_id=100), p1))
    assert "on_scene" in str(divert_refusal(ok._replace(status=S.ON_SCENE), p1))
    assert "needs ALS" in str(divert_refusal(ok._replace(type=UnitType.BLS), p1))
    assert "redispatch table" in str(divert_refusal(ok._replace(incident_priority=1), p1))
    assert "redispatch table" in str(divert_refusal(ok, incident(2)))


def test_recommendation_does_not_depend_on_input_order() -> None:
    """Shuffling units and hospitals changes nothing: every ordering is by explicit keys."""
    import random

    units = [unit(i, km, type=UnitType.BLS if i % 3 == 0 else UnitType.ALS,
                  status=[S.AVAILABLE_AT_STATION, S.EN_ROUTE, S.AVAILABLE_RETURNING, S.OUT_OF_SERVICE][i % 4],
                  fix_km=km / 2, fix_age_s=200 if i % 5 == 0 else 20, incident_id=50 + i, incident_priority=2 + i % 3)
             for i, km in enumerate([3.0, 1.0, 3.0, 2.0, 5.0, 1.0, 4.0, 2.0, 3.0, 6.0, 1.5, 2.5])]
    hs = [hospital(i, km, PCI if i % 2 else ED) for i, km in enumerate([2.0, 3.0, 2.0, 5.0, 3.0])]
    call = incident(1, frozenset({"chest_pain_stemi"}))
    ref = recommend_units(call, units, FakeRouter(), now=NOW)
    ref_h = recommend_hospital(call, hs, FakeRouter(), now=NOW)
    rng = random.Random(7)
    for _ in range(10):
        rng.shuffle(units)
        rng.shuffle(hs)
        assert recommend_units(call, units, FakeRouter(), now=NOW) == ref
        assert recommend_hospital(call, hs, FakeRouter(), now=NOW) == ref_h


def test_off_network_gps_fix_falls_back_to_station() -> None:
    """A GPS fix off the roads does not break the call: that unit is routed from its station, flagged."""
    bad_fix = north(1)
    units = [unit(1, 4, status=S.AVAILABLE_RETURNING, fix_km=1), unit(2, 3)]
    rec = recommend_units(incident(1), units, FakeRouter(off=[bad_fix]), now=NOW)
    assert [(c.unit_id, c.reason) for c in rec.eligible] == [(2, None), (1, "stale_gps_used_station")]
    assert rec.eligible[1].origin == north(4)


def test_off_network_station_makes_only_that_unit_unreachable() -> None:
    """A unit whose station is off the roads is unreachable; the others are still ranked."""
    rec = recommend_units(incident(1), [unit(1, 4), unit(2, 3)], FakeRouter(off=[north(4)]), now=NOW)
    assert [(c.unit_id, c.reason) for c in rec.candidates] == [(2, None), (1, "unreachable")]


def test_units_with_both_their_fix_and_station_off_the_roads_are_unreachable() -> None:
    """A unit whose GPS fix and station are both off the roads costs two retries (the fix replaced by the station,
    then the unit left out); the retries were bounded by the number of units plus one, so when such units were
    over half of those asked, the recommendation failed ("AssertionError: unreachable"), a 500. They are now
    unreachable, and the others are ranked."""
    lost = [unit(1, 4, status=S.AVAILABLE_RETURNING, fix_km=1), unit(3, 6, status=S.AVAILABLE_RETURNING, fix_km=5)]
    router = FakeRouter(off=[north(1), north(4), north(5), north(6)])
    rec = recommend_units(incident(1), [*lost, unit(2, 3)], router, now=NOW)
    assert [(c.unit_id, c.reason) for c in rec.candidates] == [(2, None), (1, "unreachable"), (3, "unreachable")]
    alone = recommend_units(incident(1), lost[:1], router, now=NOW)
    assert [(c.unit_id, c.reason) for c in alone.candidates] == [(1, "unreachable")]


def test_off_network_incident_is_the_callers_error() -> None:
    """An incident location off the roads propagates OffNetwork (a 422 for the caller)."""
    with pytest.raises(OffNetwork):
        recommend_units(incident(1), [unit(1, 4)], FakeRouter(off=[SCENE]), now=NOW)
