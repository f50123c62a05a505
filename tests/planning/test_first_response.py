"""Volunteers and AEDs in the simulation: the live alert functions decide, and they shorten time to CPR and shock."""

from __future__ import annotations

import heapq
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from tests.planning.test_simulate import SCENARIO, scenario

from lifechain.errors import Invalid
from lifechain.geo.core import LatLon
from lifechain.planning import core, flows
from lifechain.planning.first_response import FirstResponse, VolunteersIn, WalkRouter
from lifechain.volunteers import core as vc

SLOW = {"kind": "straight", "speed_kmh": 12.0}  # a slow ambulance, so volunteers have time to matter
VOLUNTEERS: dict[str, Any] = {"density_per_km2": 40, "acceptance_probability": 0.5,
                              "aeds": [{"lat": 60.161, "lon": 24.931}, {"lat": 60.201, "lon": 24.969}]}


def arrests(**changes: Any) -> core.Scenario:
    return scenario(days=10, travel=SLOW, calls={**SCENARIO["calls"], "rate_per_day": 30, "arrest_share": 0.3},
                    **changes)


def run(sc: core.Scenario) -> core.RunResult:
    return core.run_replication(sc, flows.matrix_router(sc), core.replication_seeds(sc, 1)[0])


def test_simulation_calls_the_live_alert_functions(monkeypatch: pytest.MonkeyPatch) -> None:
    """Spies on plan_alerts, on_accept and stand_down in lifechain.volunteers.core see every arrest's alerting."""
    seen: dict[str, int] = {"plan": 0, "accept": 0, "stand_down": 0}

    def spy(name: str, real: Any) -> Any:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            seen[name] += 1
            return real(*args, **kwargs)
        return wrapped

    monkeypatch.setattr(vc, "plan_alerts", spy("plan", vc.plan_alerts))
    monkeypatch.setattr(vc, "on_accept", spy("accept", vc.on_accept))
    monkeypatch.setattr(vc, "stand_down", spy("stand_down", vc.stand_down))
    result = run(arrests(volunteers=VOLUNTEERS))
    n = int(result.arrest.sum())
    assert n > 10
    assert seen["plan"] >= 2 * n  # without and with AEDs, plus replacements of refusals
    assert seen["accept"] > 0 and seen["stand_down"] > 0
    assert result.extra["volunteer_acceptances"] > 0


def test_a_live_policy_that_alerts_nobody_removes_the_volunteer_effect(monkeypatch: pytest.MonkeyPatch) -> None:
    """Replacing the live plan_alerts by one that alerts nobody makes the volunteer variants equal EMS alone."""
    monkeypatch.setattr(vc, "plan_alerts", lambda *a, **k: vc.AlertPlan(nature="cardiac_arrest",
                                                                        started_at=k["now"]))
    result = run(arrests(volunteers=VOLUNTEERS))
    v = result.arrest_variants
    assert np.array_equal(v["ems"], v["volunteers_aed"], equal_nan=True)


def test_volunteers_and_aeds_shorten_time_to_cpr_and_shock_and_raise_survival() -> None:
    """Dense volunteers with AEDs: earlier CPR and shock than EMS alone, and more expected survivors."""
    result = run(arrests(volunteers={**VOLUNTEERS, "aeds": [{"lat": 60.16 + d / 1000, "lon": 24.93 + d / 1000}
                                                             for d in range(-3, 4)]}))
    v = result.arrest_variants
    done = result.arrest & np.isfinite(v["ems"][:, 0])
    assert (v["volunteers_aed"][done] <= v["ems"][done] + 1e-9).all()
    assert (v["volunteers"][done, 0] < v["ems"][done, 0]).sum() > done.sum() / 4
    assert (v["volunteers_aed"][done, 1] < v["ems"][done, 1]).sum() > 0
    s = core.survival(core.Scenario.model_fields["arrest"].default_factory(), result)  # type: ignore[misc]
    assert s["volunteers_aed.larsen_1993"] > s["ems.larsen_1993"]
    assert s["volunteers_aed.valenzuela_1997"] > s["volunteers.valenzuela_1997"] >= s["ems.valenzuela_1997"]


def test_without_volunteers_nothing_else_changes() -> None:
    """Turning volunteers on leaves every dispatch time node as it was (common random numbers)."""
    off = run(arrests())
    on = run(arrests(volunteers=VOLUNTEERS))
    assert np.array_equal(off.times[:, :8], on.times[:, :8], equal_nan=True)
    assert off.arrest_variants == {}


def test_aeds_are_read_from_a_file_next_to_the_scenario(tmp_path: Path) -> None:
    """`aeds_file` relative to the scenario YAML is read; a file without coordinates is refused by name."""
    (tmp_path / "aeds.csv").write_text("name,latitude,longitude\na,60.16,24.93\nb,60.2,24.97\n")
    (tmp_path / "s.yaml").write_text(yaml.safe_dump({**SCENARIO, "volunteers": {"aeds_file": "aeds.csv"}}))
    sc = flows.resolve_aeds(flows.load_scenario(tmp_path / "s.yaml"))
    assert sc.volunteers is not None
    assert [(a.lat, a.lon) for a in sc.volunteers.aeds] == [(60.16, 24.93), (60.2, 24.97)]
    (tmp_path / "bad.csv").write_text("name\na\n")
    with pytest.raises(Invalid, match="lat and lon"):
        flows.read_points(tmp_path / "bad.csv")


# ------------------------------------------------------------------------------------------------ one response

HERE = LatLon(60.17, 24.94)
MONDAY_10 = datetime(2026, 1, 5, 10, tzinfo=UTC)


def responding(**changes: Any) -> VolunteersIn:
    """Dense volunteers who all answer at once and say yes."""
    return VolunteersIn.model_validate({"density_per_km2": 300, "acceptance_probability": 1.0, "answer_delay_s": 0,
                                        **changes})


def first_response(config: VolunteersIn, *, router: Any = None, start: datetime = MONDAY_10,
                   timezone: str = "UTC") -> FirstResponse:
    walk = router or WalkRouter("t", config.alert_policy().network_walk_speed_mps, config.walk_detour)
    return FirstResponse(config, seed=11, start=start, router=walk, demand=[(HERE.lat, HERE.lon, "all")],
                         timezone=timezone)


def drive(fr: FirstResponse, events: list[Any], until: float = math.inf) -> None:
    """Play the response's own events in time order (as the simulation's heap does) up to `until`."""
    heap = [(t, n, kind, call, variant, rid) for n, (t, kind, call, variant, rid) in enumerate(events)]
    heapq.heapify(heap)
    n = len(heap)
    while heap and heap[0][0] <= until:
        t, _, kind, call, variant, rid = heapq.heappop(heap)
        if kind == "stop":
            fr.stop(call, t)
            continue
        if kind == "answer":
            follow = fr.on_answer(call, variant, rid, t)
        elif kind == "tick":
            follow = fr.on_tick(call, variant, t)
        else:
            follow = fr.on_arrive(call, variant, rid, t)
        for e in follow:
            n += 1
            heapq.heappush(heap, (e[0], n, *e[1:]))


def alerted(fr: FirstResponse, call: int, variant: int = 1) -> set[int]:
    plan = fr.responses[(call, variant)].plan
    assert plan is not None
    return {a.responder_id for a in plan.alerts}


def test_a_volunteer_who_accepted_is_not_alerted_for_another_arrest_until_stood_down() -> None:
    """Two arrests at the same place: those who accepted the first are busy and left out of the second's alerts,
    although they are the nearest; once the first is stood down, a third arrest alerts them again."""
    fr = first_response(responding())
    drive(fr, fr.start(0, HERE, 0.0, eta_at=600.0), until=5.0)
    engaged = fr.responses[(0, 1)].engaged
    assert len(engaged) == fr.policy.max_acceptances
    drive(fr, fr.start(1, HERE, 10.0, eta_at=610.0), until=10.0)
    assert not engaged & alerted(fr, 1)
    fr.stop(0, 20.0)
    fr.stop(1, 20.0)
    drive(fr, fr.start(2, HERE, 30.0, eta_at=630.0), until=30.0)
    assert engaged <= alerted(fr, 2)


def test_the_population_stays_put_between_arrests() -> None:
    """The volunteers around one place are the same people whichever arrest asks, in the same places."""
    fr = first_response(responding())
    a = fr.population.near(HERE, 500.0)
    fr.population.near(LatLon(60.2, 24.9), 3000.0)
    b = fr.population.near(HERE, 500.0)
    assert a[0].tolist() == b[0].tolist() and len(a[0]) > 100
    assert np.allclose(a[1], b[1]) and np.allclose(a[2], b[2])
    assert first_response(responding()).population.near(HERE, 500.0)[0].tolist() == a[0].tolist()


def aed_roles(fr: FirstResponse, call: int) -> int:
    plan = fr.responses[(call, 1)].plan
    assert plan is not None
    return sum(a.aed_id is not None for a in plan.alerts)


def test_aeds_are_fetched_only_while_open_on_the_scenario_clock() -> None:
    """An office-hours AED beside the patient is fetched at 10:00 local time and not at 03:00; the scenario's time
    zone decides what local time is (10:00 in Auckland is the evening before in UTC)."""
    config = responding(aeds=[{"lat": 60.1705, "lon": 24.9405, "opening_hours": "Mo-Fr 08:00-18:00"}])
    day = first_response(config)
    day.start(0, HERE, 0.0, eta_at=900.0)
    night = first_response(config, start=MONDAY_10.replace(hour=3))
    night.start(0, HERE, 0.0, eta_at=900.0)
    assert aed_roles(day, 0) > 0 and aed_roles(night, 0) == 0
    sc = core.Scenario.model_validate({**SCENARIO, "start": "2026-01-05T10:00:00", "timezone": "Pacific/Auckland"})
    auckland = first_response(config, start=sc.aware_start(), timezone="Pacific/Auckland")
    auckland.start(0, HERE, 0.0, eta_at=900.0)
    assert aed_roles(auckland, 0) > 0
    as_utc = first_response(config, start=sc.aware_start(), timezone="UTC")  # the same instant, read as UTC: closed
    as_utc.start(0, HERE, 0.0, eta_at=900.0)
    assert aed_roles(as_utc, 0) == 0


def test_aeds_closed_all_the_time_never_shorten_the_time_to_a_shock() -> None:
    """In the simulation, AEDs that are never open leave the first shock to EMS; the same AEDs open 24/7 do not."""
    spots = [{"lat": 60.16 + d / 1000, "lon": 24.93 + d / 1000} for d in range(-3, 4)]
    closed = run(arrests(volunteers={**VOLUNTEERS, "aeds": [{**a, "opening_hours": "Mo-Su off"} for a in spots]}))
    open_ = run(arrests(volunteers={**VOLUNTEERS, "aeds": spots}))
    v, w = closed.arrest_variants, open_.arrest_variants
    done = closed.arrest & np.isfinite(v["ems"][:, 1])
    assert np.array_equal(v["volunteers_aed"][done, 1], v["ems"][done, 1])
    assert (w["volunteers_aed"][done, 1] < w["ems"][done, 1]).any()


def test_aed_opening_hours_are_read_from_the_aeds_file_and_checked(tmp_path: Path) -> None:
    """An `opening_hours` column is carried (empty = 24/7); a value the live rules cannot read is refused."""
    (tmp_path / "aeds.csv").write_text("lat,lon,opening_hours\n60.16,24.93,Mo-Fr 08:00-18:00\n60.2,24.97,\n")
    (tmp_path / "s.yaml").write_text(yaml.safe_dump({**SCENARIO, "volunteers": {"aeds_file": "aeds.csv"}}))
    sc = flows.resolve_aeds(flows.load_scenario(tmp_path / "s.yaml"))
    assert sc.volunteers is not None
    assert [a.opening_hours for a in sc.volunteers.aeds] == ["Mo-Fr 08:00-18:00", None]
    (tmp_path / "aeds.csv").write_text("lat,lon,opening_hours\n60.16,24.93,24/7\n60.2,24.97,sometimes\n")
    with pytest.raises(Invalid, match="opening hours") as refused:
        flows.resolve_aeds(flows.load_scenario(tmp_path / "s.yaml"))
    # One line naming the AED, as every other refusal: no pydantic input dump or documentation link.
    assert refused.value.message.startswith("volunteers: aeds.1.opening_hours: ")
    assert "\n" not in refused.value.message and "pydantic" not in refused.value.message


def test_volunteers_walk_on_the_city_walking_network(helsinki_router: Any) -> None:
    """On a city, each accepted volunteer's walk is the live router's walking time (scaled to the policy's speed),
    not the straight line: their arrival is the set-off delay plus that walk."""
    config = responding(density_per_km2=100)
    fr = first_response(config, router=helsinki_router)
    drive(fr, fr.start(0, HERE, 0.0, eta_at=900.0), until=900.0)
    r = fr.responses[(0, 0)]
    assert r.plan is not None and r.arrivals
    p = fr.policy
    straight = WalkRouter("t", p.network_walk_speed_mps, 1.0)
    for alert in r.plan.alerts:
        if alert.responder_id not in r.engaged:
            continue
        ids, lat, lon, _ = fr.population.near(HERE, 5000.0)
        k = ids.tolist().index(alert.responder_id)
        where = LatLon(float(lat[k]), float(lon[k]))
        walk = float(helsinki_router.times_from(HERE, [where], mode="walk")[0]) * p.walk_scale
        assert alert.eta_s == pytest.approx(p.set_off_delay_s + walk, abs=0.01)
        assert walk > float(straight.times_from(HERE, [where])[0]) * p.walk_scale
    assert sorted(t for t, _ in r.arrivals)[0] == pytest.approx(
        min(a.eta_s for a in r.plan.alerts if a.responder_id in r.engaged))
