"""The alert policy's pure rules: who is alertable, open AEDs, roles and routes, phases, the cap, stand-down."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from lifechain.errors import Conflict, Invalid
from lifechain.geo.core import M_PER_DEG, LatLon, Router
from lifechain.volunteers.core import (
    ALWAYS_OPEN,
    Action,
    Aed,
    AedStatus,
    AlertPolicy,
    AlertState,
    Qualification,
    QualificationKind,
    Responder,
    ResponderRole,
    format_opening_hours,
    next_phase,
    on_accept,
    on_action,
    on_decline,
    parse_opening_hours,
    plan_alerts,
    stand_down,
)

from .fakes import StraightLineRouter

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)  # a Wednesday
PATIENT = LatLon(60.1699, 24.9384)
CPR = (Qualification(QualificationKind.CPR, date(2025, 1, 1), date(2027, 1, 1)),)
POLICY = AlertPolicy(walking_speed_mps=1.4, network_walk_speed_mps=1.4, first_phase_size=3, phase_size=2)


def north(metres: float) -> LatLon:
    """A point `metres` due north of the patient."""
    return LatLon(PATIENT.lat + metres / M_PER_DEG, PATIENT.lon)


def volunteer(rid: int, metres: float, **kw: object) -> Responder:
    """An on-duty, CPR-qualified volunteer heard from a minute ago, `metres` north of the patient."""
    base: dict[str, object] = dict(id=rid, kind="volunteer", position=north(metres), qualifications=CPR,
                                   on_duty=True, last_heartbeat=NOW - timedelta(minutes=1))
    base.update(kw)
    return Responder(**base)  # type: ignore[arg-type]


def plan(responders: list[Responder], aeds: list[Aed] | None = None, eta: float | None = 600.0,
         policy: AlertPolicy = POLICY, **kw: object):  # type: ignore[no-untyped-def]
    return plan_alerts(PATIENT, responders, aeds or [], StraightLineRouter(), now=NOW, ambulance_eta_s=eta,
                       policy=policy, **kw)  # type: ignore[arg-type]


def test_only_alertable_responders_are_alerted() -> None:
    """Off duty, expired certificate, silent device or unreachable: none of them is alerted."""
    expired = (Qualification(QualificationKind.CPR, date(2020, 1, 1), date(2022, 1, 1)),)
    people = [
        volunteer(1, 100),
        volunteer(2, 50, on_duty=False),
        volunteer(3, 60, qualifications=expired),
        volunteer(4, 70, last_heartbeat=NOW - timedelta(seconds=301)),
        volunteer(5, 80, reachable=False),
        volunteer(6, 90, position=None),
    ]
    assert [a.responder_id for a in plan(people).alerts] == [1]


def test_deadline_is_the_looser_of_target_and_ambulance() -> None:
    """Ambulance 10 min away: one 6.5 min away is alerted; ambulance 2 min away: only the 4-min target counts."""
    # 105 s set-off + 400 m / 1.4 m/s = 391 s; 105 + 180 m / 1.4 = 234 s
    people = [volunteer(1, 180), volunteer(2, 400)]
    assert {a.responder_id for a in plan(people, eta=600).alerts} == {1, 2}
    assert {a.responder_id for a in plan(people, eta=120).alerts} == {1}
    assert {a.responder_id for a in plan(people, eta=None).alerts} == {1}


def test_eta_includes_set_off_delay_and_walking_speed() -> None:
    """ETA = set-off delay + distance / the policy's walking speed (the network's times are rescaled)."""
    policy = AlertPolicy(walking_speed_mps=2.8, network_walk_speed_mps=1.4)
    alert = plan([volunteer(1, 280)], policy=policy).alerts[0]
    assert alert.eta_s == pytest.approx(105 + 100, abs=1.0)


def test_nearest_go_direct_and_others_fetch_an_open_aed() -> None:
    """The nearest goes straight to the patient; the others go via the AED that beats the ambulance."""
    aed = Aed(id=9, location=LatLon(north(150).lat, PATIENT.lon + 0.0005))  # 28 m east of the street
    people = [volunteer(1, 30), volunteer(2, 160), volunteer(3, 170)]
    alerts = {a.responder_id: a for a in plan(people, [aed]).alerts}
    assert alerts[1].role == ResponderRole.CPR and alerts[1].aed_id is None
    assert alerts[2].role == ResponderRole.AED and alerts[2].aed_id == 9
    assert alerts[2].eta_s == pytest.approx(105 + (29.8 + 152.6) / 1.4, abs=1.0)
    assert alerts[2].eta_s > alerts[2].direct_eta_s


def test_aed_fetch_must_beat_the_ambulance() -> None:
    """An AED whose detour arrives after the ambulance is not worth fetching: everyone goes direct."""
    aed = Aed(id=9, location=north(-300))  # 300 m the other way: ~105 + (460 + 300) / 1.4 = 648 s
    people = [volunteer(1, 30), volunteer(2, 160), volunteer(3, 170)]
    alerts = plan(people, [aed], eta=400).alerts
    assert all(a.aed_id is None and a.role == ResponderRole.CPR for a in alerts)


def test_locked_or_broken_aed_is_never_offered() -> None:
    """An AED open 08-18 local time is not offered at 02:00 Helsinki time, nor one that needs service."""
    night = datetime(2026, 3, 4, 0, 0, tzinfo=UTC)  # 02:00 in Helsinki
    office = Aed(id=1, location=north(150), hours=parse_opening_hours("Mo-Su 08:00-18:00"), timezone="Europe/Helsinki")
    broken = Aed(id=2, location=north(150), status=AedStatus.NEEDS_SERVICE)
    assert not office.is_accessible(night)
    assert office.is_accessible(night + timedelta(hours=8))  # 10:00 local
    assert not broken.is_accessible(night)
    people = [volunteer(1, 30, last_heartbeat=night), volunteer(2, 160, last_heartbeat=night)]
    alerts = plan_alerts(PATIENT, people, [office, broken], StraightLineRouter(), now=night, ambulance_eta_s=600,
                         policy=POLICY).alerts
    assert all(a.aed_id is None for a in alerts)


def test_opening_hours_parse_days_and_midnight() -> None:
    """Day ranges, several spans and a span across midnight are read; nonsense is refused with the rule named."""
    hours = parse_opening_hours("Mo-Fr 08:00-12:00,13:00-17:00; Sa 22:00-02:00")
    assert hours[0] == ((480, 720), (780, 1020))
    assert hours[5] == ((1320, 1440),) and hours[6] == ((0, 120),)
    assert parse_opening_hours("24/7") == ALWAYS_OPEN
    assert parse_opening_hours(format_opening_hours(hours)) == hours
    with pytest.raises(Invalid, match="Mo-Fx"):
        parse_opening_hours("Mo-Fx 08:00-12:00")


def test_exclusions_block_and_unknown_ones_are_refused() -> None:
    """An unsafe scene alerts nobody; an exclusion the city does not know is a clear error."""
    blocked = plan([volunteer(1, 30)], exclusions=["unsafe_scene"])
    assert blocked.alerts == () and blocked.blocked_by == ("unsafe_scene",)
    with pytest.raises(Invalid, match="unknown exclusion"):
        plan([volunteer(1, 30)], exclusions=["full_moon"])


def test_choking_sends_nobody_to_an_aed() -> None:
    """For choking an AED is no help: every alerted responder goes direct."""
    aed = Aed(id=9, location=north(150))
    alerts = plan([volunteer(1, 30), volunteer(2, 160)], [aed], nature="choking").alerts
    assert len(alerts) == 2 and all(a.aed_id is None for a in alerts)


def test_phases_widen_after_silence_and_replace_refusals() -> None:
    """Phase 1 alerts 3; a refusal is replaced at once; silence for 60 s widens by a phase of 2."""
    people = [volunteer(i, 20 * i) for i in range(1, 10)]
    router = StraightLineRouter()
    first = plan(people)
    assert [a.responder_id for a in first.alerts] == [1, 2, 3]
    kw = dict(now=NOW + timedelta(seconds=10), ambulance_eta_s=590, policy=POLICY)
    assert next_phase(first, PATIENT, people, [], router, **kw) is first  # type: ignore[arg-type]
    declined = on_decline(first, 2, now=NOW + timedelta(seconds=10))
    replaced = next_phase(declined, PATIENT, people, [], router, **kw)  # type: ignore[arg-type]
    assert [a.responder_id for a in replaced.alerts] == [1, 2, 3, 4]
    again = next_phase(replaced, PATIENT, people, [], router, **kw)  # type: ignore[arg-type]
    assert again is replaced  # the refusal is replaced only once
    later = dict(now=NOW + timedelta(seconds=75), ambulance_eta_s=525, policy=POLICY)
    widened = next_phase(again, PATIENT, people, [], router, **later)  # type: ignore[arg-type]
    assert [a.responder_id for a in widened.alerts] == [1, 2, 3, 4, 5, 6]
    assert widened.phase == 3


def test_no_widening_once_someone_accepted() -> None:
    """Once someone accepted, silence does not widen the search."""
    people = [volunteer(i, 20 * i) for i in range(1, 10)]
    accepted = on_accept(plan(people), 1, now=NOW, policy=POLICY).plan
    later = next_phase(accepted, PATIENT, people, [], StraightLineRouter(), now=NOW + timedelta(seconds=120),
                       ambulance_eta_s=480, policy=POLICY)
    assert later is accepted


def test_cap_gives_roles_and_stands_extra_ones_down() -> None:
    """Three acceptances get CPR, AED, coordinator; the still-open alerts are told they are not needed."""
    aed = Aed(id=9, location=north(150))
    people = [volunteer(1, 30), volunteer(2, 160), volunteer(3, 170), volunteer(4, 40), volunteer(5, 45)]
    p = plan(people, [aed], policy=AlertPolicy(walking_speed_mps=1.4, network_walk_speed_mps=1.4, first_phase_size=5))
    roles = {a.responder_id: a.role for a in p.alerts}
    assert roles[2] == ResponderRole.AED
    a = on_accept(p, 2, now=NOW, policy=POLICY)
    assert a.role == ResponderRole.AED and a.not_needed == ()
    b = on_accept(a.plan, 1, now=NOW, policy=POLICY)
    assert b.role == ResponderRole.CPR
    c = on_accept(b.plan, 4, now=NOW, policy=POLICY)
    assert c.role == ResponderRole.COORDINATOR
    assert set(c.not_needed) == {3, 5}
    assert c.plan.alert_for(3).state == AlertState.NOT_NEEDED
    with pytest.raises(Conflict):
        on_accept(c.plan, 3, now=NOW, policy=POLICY)


def test_actions_need_acceptance_and_stand_down_ends_everything() -> None:
    """Only an accepted responder reports; CPR implies arrival; stand-down closes every open alert and refuses more."""
    p = plan([volunteer(1, 30), volunteer(2, 60)])
    with pytest.raises(Conflict, match="accept"):
        on_action(p, 1, Action.ARRIVED, now=NOW)
    p = on_accept(p, 1, now=NOW, policy=POLICY).plan
    p = on_action(p, 1, Action.CPR_STARTED, now=NOW)
    assert p.alert_for(1).state == AlertState.ARRIVED
    down, told = stand_down(p, now=NOW + timedelta(minutes=5))
    assert set(told) == {1, 2}
    assert {a.state for a in down.alerts} == {AlertState.STOOD_DOWN}
    with pytest.raises(Conflict, match="stood down"):
        on_action(down, 1, Action.HANDED_OVER, now=NOW)
    assert stand_down(down, now=NOW)[1] == ()


def test_level2_clinic_with_aed_brings_it_direct() -> None:
    """A school clinic with its own AED is alerted with its ETA and the AED role, going direct."""
    clinic = Responder(id=50, kind="clinic", position=north(100), qualifications=CPR, on_duty=True,
                       last_heartbeat=NOW, has_aed=True)
    alert = plan([clinic, volunteer(1, 30)]).alert_for(50)
    assert alert.kind == "clinic" and alert.role == ResponderRole.AED and alert.aed_id is None


def test_policy_from_mapping_refuses_unknown_keys() -> None:
    """A city's policy is read from configuration; a typo is named, and nonsense values are refused."""
    p = AlertPolicy.from_mapping({"target_s": 300, "exclusions": ["unsafe_scene", "riot"]})
    assert p.target_s == 300 and "riot" in p.exclusions
    with pytest.raises(Invalid, match="tagret_s"):
        AlertPolicy.from_mapping({"tagret_s": 300})
    with pytest.raises(Invalid, match="max_acceptances"):
        AlertPolicy(max_acceptances=0)


def test_plan_is_deterministic() -> None:
    """Ties are broken by responder id: the same inputs give the same plan."""
    people = [volunteer(i, 100) for i in (5, 3, 9, 1)]
    assert [a.responder_id for a in plan(people).alerts] == [1, 3, 5]
    assert plan(people) == plan(list(reversed(people)))


def test_pre_snapped_pools_give_the_same_plan() -> None:
    """Pools snapped once onto the router's network give the very plan that plain lists give."""
    from lifechain.volunteers.core import AedPool, ResponderPool

    router = StraightLineRouter()
    aed = Aed(id=9, location=LatLon(north(150).lat, PATIENT.lon + 0.0005))
    people = [volunteer(i, 25 * i) for i in range(1, 12)] + [volunteer(99, 20, position=None)]
    plain = plan(people, [aed])
    pooled = plan_alerts(PATIENT, ResponderPool.build(people[:-1], router=router), AedPool.build([aed], router=router),
                         router, now=NOW, ambulance_eta_s=600.0, policy=POLICY)
    assert pooled == plain
    assert any(a.aed_id == 9 for a in pooled.alerts)
    assert ResponderPool.build(people, router=router).snapped is None  # someone without a position: no pre-snap


def test_phase_due_only_for_refusals_or_silence() -> None:
    """The ticker's cheap check: due after a refusal or 60 s of silence, never after stand-down or at the cap."""
    from lifechain.volunteers.core import phase_due

    p = plan([volunteer(i, 20 * i) for i in range(1, 6)])
    assert not phase_due(p, now=NOW + timedelta(seconds=59), policy=POLICY)
    assert phase_due(p, now=NOW + timedelta(seconds=60), policy=POLICY)
    assert phase_due(on_decline(p, 1, now=NOW), now=NOW, policy=POLICY)
    assert not phase_due(stand_down(p, now=NOW)[0], now=NOW + timedelta(hours=1), policy=POLICY)


def test_a_volunteer_out_of_town_keeps_pre_snapping_on_and_is_never_alerted(helsinki_router: Router) -> None:
    """On Helsinki's walking network, one responder 40 km out at sea (and an AED there) neither fails alerting nor
    turns pre-snapping off: the pool is snapped, the plan equals the one without them, and they are never chosen."""
    from lifechain.volunteers.core import AedPool, ResponderPool

    policy = AlertPolicy(first_phase_size=3)
    near = [volunteer(i, 40 * i) for i in range(1, 5)]
    at_sea = volunteer(77, 0, position=LatLon(59.80, 24.94))
    aeds = [Aed(id=1, location=north(120)), Aed(id=2, location=LatLon(59.80, 24.95))]
    pool = ResponderPool.build([*near, at_sea], router=helsinki_router)
    aed_pool = AedPool.build(aeds, router=helsinki_router)
    assert pool.snapped is not None and aed_pool.snapped is not None
    got = plan_alerts(PATIENT, pool, aed_pool, helsinki_router, now=NOW, ambulance_eta_s=600.0, policy=policy)
    without = plan_alerts(PATIENT, near, aeds[:1], helsinki_router, now=NOW, ambulance_eta_s=600.0, policy=policy)
    assert got.alerts and [a.responder_id for a in got.alerts] == [a.responder_id for a in without.alerts]
    assert 77 not in {a.responder_id for a in got.alerts}


def test_nobody_in_reach_at_first_is_searched_again_after_the_widening_delay() -> None:
    """A first phase that finds nobody is due again `widen_after_s` later; a volunteer who has come into reach
    meanwhile is then alerted (nobody was alerted before, so it is not a replacement)."""
    from lifechain.volunteers.core import phase_due

    first = plan([volunteer(1, 5_000)])
    assert first.alerts == () and first.active
    later = NOW + timedelta(seconds=POLICY.widen_after_s)
    assert not phase_due(first, now=later - timedelta(seconds=1), policy=POLICY)
    assert phase_due(first, now=later, policy=POLICY)
    widened = next_phase(first, PATIENT, [volunteer(1, 5_000), volunteer(2, 150)], [], StraightLineRouter(),
                         now=later, ambulance_eta_s=600.0, policy=POLICY)
    assert [a.responder_id for a in widened.alerts] == [2]
