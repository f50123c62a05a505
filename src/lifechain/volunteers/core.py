"""Pure rules of first response: who is alertable, which AED is open, who is alerted in which role, and the measures.

No database, no clock, no I/O: the live service and the planning simulation call these same functions with their
own `now`, their own responders and the same geo `Router`. Defaults and the evidence behind them are in
docs/decisions/volunteers-alert-policy.md.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
from pydantic import ConfigDict, with_config

from lifechain import errors
from lifechain.errors import Conflict, Invalid, NotFound
from lifechain.geo.core import FloatArray, LatLon, Router, local_offsets_m
from lifechain.timeline.core import EventKind, TimelineEvent, effective

IntArray = np.ndarray[Any, np.dtype[np.intp]]
ResponderKind = Literal["volunteer", "clinic"]
Nature = Literal["cardiac_arrest", "choking"]
NATURES: tuple[str, ...] = ("cardiac_arrest", "choking")
NATURE_LABELS: dict[str, dict[str, str]] = {
    "cardiac_arrest": {"en": "Cardiac arrest", "zh-CN": "心脏骤停"},
    "choking": {"en": "Choking", "zh-CN": "气道异物梗阻"},
}


class QualificationKind(StrEnum):
    """What a responder is trained for."""

    CPR = "cpr"
    AED = "aed"
    FIRST_AID = "first_aid"
    HEALTHCARE_PROFESSIONAL = "healthcare_professional"


class ResponderRole(StrEnum):
    """The job of an accepted responder at the scene (FirstAED's three)."""

    CPR = "cpr"
    AED = "aed"
    COORDINATOR = "coordinator"


class AlertState(StrEnum):
    """Where one responder's alert stands."""

    ALERTED = "alerted"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    NOT_NEEDED = "not_needed"
    ARRIVED = "arrived"
    HANDED_OVER = "handed_over"
    STOOD_DOWN = "stood_down"


ALERT_STATE_META: dict[AlertState, dict[str, str]] = {
    AlertState.ALERTED: {"label": "Alerted", "colour": "#f5a623"},
    AlertState.ACCEPTED: {"label": "Accepted, on the way", "colour": "#2e7d32"},
    AlertState.DECLINED: {"label": "Declined", "colour": "#9e9e9e"},
    AlertState.NOT_NEEDED: {"label": "Not needed", "colour": "#9e9e9e"},
    AlertState.ARRIVED: {"label": "On scene", "colour": "#1565c0"},
    AlertState.HANDED_OVER: {"label": "Handed over to EMS", "colour": "#6a1b9a"},
    AlertState.STOOD_DOWN: {"label": "Stood down", "colour": "#616161"},
}
OPEN_STATES = frozenset({AlertState.ALERTED, AlertState.ACCEPTED, AlertState.ARRIVED})
ENGAGED_STATES = frozenset({AlertState.ACCEPTED, AlertState.ARRIVED, AlertState.HANDED_OVER})


class Action(StrEnum):
    """What a responder reports from the scene; each maps to one timeline event kind."""

    ACCEPT = "accept"
    DECLINE = "decline"
    AED_COLLECTED = "aed_collected"
    ARRIVED = "arrived"
    CPR_STARTED = "cpr_started"
    AED_ATTACHED = "aed_attached"
    SHOCK_DELIVERED = "shock_delivered"
    HANDED_OVER = "handed_over"


ACTION_EVENTS: dict[Action, EventKind] = {
    Action.ACCEPT: EventKind.RESPONDER_ACCEPTED,
    Action.DECLINE: EventKind.RESPONDER_DECLINED,
    Action.AED_COLLECTED: EventKind.RESPONDER_AED_COLLECTED,
    Action.ARRIVED: EventKind.RESPONDER_ARRIVED,
    Action.CPR_STARTED: EventKind.RESPONDER_CPR_STARTED,
    Action.AED_ATTACHED: EventKind.RESPONDER_AED_ATTACHED,
    Action.SHOCK_DELIVERED: EventKind.RESPONDER_SHOCK_DELIVERED,
    Action.HANDED_OVER: EventKind.RESPONDER_HANDED_OVER,
}


@with_config(ConfigDict(extra="forbid", allow_inf_nan=False))  # how `from_mapping` checks configuration
@dataclass(frozen=True, slots=True)
class AlertPolicy:
    """How one city alerts its first responders: speeds, time budget, phases, cap and exclusions."""

    walking_speed_mps: float = 1.8
    network_walk_speed_mps: float = 1.8
    set_off_delay_s: float = 105.0
    target_s: float = 240.0
    first_phase_size: int = 9
    phase_size: int = 9
    widen_after_s: float = 60.0
    max_alerts: int = 30
    max_acceptances: int = 3
    aed_share: float = 2 / 3
    aed_candidates: int = 5
    route_candidates: int = 100
    heartbeat_timeout_s: float = 300.0
    aed_natures: frozenset[str] = frozenset({"cardiac_arrest"})
    exclusions: frozenset[str] = frozenset({"unsafe_scene", "expected_death", "care_home"})

    def __post_init__(self) -> None:
        positive = ("walking_speed_mps", "network_walk_speed_mps", "target_s", "widen_after_s")
        for name in positive:
            if getattr(self, name) <= 0:
                raise Invalid(f"alert policy: {name} must be positive")
        if self.set_off_delay_s < 0:
            raise Invalid("alert policy: set_off_delay_s must not be negative")
        if min(self.first_phase_size, self.phase_size, self.max_alerts, self.max_acceptances,
               self.aed_candidates, self.route_candidates) < 1:
            raise Invalid("alert policy: phase sizes, max_alerts, max_acceptances, aed_candidates must be at least 1")
        if not 0.0 <= self.aed_share <= 1.0:
            raise Invalid("alert policy: aed_share must be between 0 and 1")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> AlertPolicy:
        """A policy from a city's configuration or a planning scenario: unknown keys and values of the wrong type
        are refused by name; lists become the sets the fields hold."""
        return errors.from_mapping(cls, values, what="alert policy")

    @property
    def walk_scale(self) -> float:
        """Factor turning the network's walking seconds into this policy's walking seconds."""
        return self.network_walk_speed_mps / self.walking_speed_mps

    def deadline_s(self, ambulance_eta_s: float | None, elapsed_s: float = 0.0) -> float:
        """Seconds from now a responder may take: within the target or before the ambulance, whichever is looser."""
        target_left = self.target_s - elapsed_s
        return max(target_left, ambulance_eta_s if ambulance_eta_s is not None else -math.inf)


@dataclass(frozen=True, slots=True)
class Qualification:
    """A training certificate of a responder, valid from issue to expiry (both days included)."""

    kind: QualificationKind
    issued: date
    expires: date

    def valid_on(self, day: date) -> bool:
        """True when the certificate is in force on `day`."""
        return self.issued <= day <= self.expires


@dataclass(frozen=True, slots=True)
class Responder:
    """Someone who can be alerted: a volunteer, or a level-2 facility (school clinic, community health station)."""

    id: int
    kind: ResponderKind
    position: LatLon | None
    qualifications: tuple[Qualification, ...]
    on_duty: bool
    last_heartbeat: datetime | None
    reachable: bool = True
    has_aed: bool = False

    def is_qualified(self, day: date) -> bool:
        """True when at least one qualification is in force on `day`."""
        return any(q.valid_on(day) for q in self.qualifications)

    def is_alertable(self, now: datetime, policy: AlertPolicy) -> bool:
        """On duty, located, qualified today, reachable and heard from within the heartbeat timeout."""
        if not (self.on_duty and self.reachable and self.position is not None):
            return False
        if self.last_heartbeat is None or (now - self.last_heartbeat).total_seconds() > policy.heartbeat_timeout_s:
            return False
        return self.is_qualified(now.date())


# Seven days (Monday first) of open intervals in minutes since local midnight, [start, end).
WeeklyHours = tuple[tuple[tuple[int, int], ...], ...]
ALWAYS_OPEN: WeeklyHours = tuple(((0, 1440),) for _ in range(7))
DAYS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
_SPAN = r"\d{1,2}:\d{2}-\d{1,2}:\d{2}"
_RULE = re.compile(rf"^(?P<days>[A-Za-z,\- ]+?)\s+(?P<times>off|{_SPAN}(?:\s*,\s*{_SPAN})*)$")


def parse_opening_hours(text: str | None) -> WeeklyHours:
    """Weekly hours from the OSM `opening_hours` subset "24/7" or "Mo-Fr 08:00-18:00; Sa 10:00-14:00"."""
    if text is None or text.strip() in ("", "24/7"):
        return ALWAYS_OPEN
    week: list[list[tuple[int, int]]] = [[] for _ in range(7)]
    for rule in (r.strip() for r in text.split(";")):
        if not rule:
            continue
        match = _RULE.match(rule)
        if match is None:
            raise Invalid(f"opening hours: cannot read {rule!r} (expected e.g. 'Mo-Fr 08:00-18:00' or '24/7')")
        for day in _days(match["days"]):
            if match["times"] == "off":
                week[day] = []
                continue
            for span in match["times"].split(","):
                _add_span(week, day, span.strip())
    return tuple(tuple(sorted(d)) for d in week)


MAX_HOURS_CHARS = 200  # the stored text of a place's weekly hours (AEDs, facilities)


def opening_hours_text(text: str | None) -> str:
    """`text` read and written back in the one form stored ("Mo-Fr 08:00-18:00"); refused when that is longer than
    `MAX_HOURS_CHARS` (a long list of short spans), which the database could not store."""
    out = format_opening_hours(parse_opening_hours(text))
    if len(out) > MAX_HOURS_CHARS:
        raise Invalid(f"opening hours: {len(out)} characters once written out ({out[:40]}...), more than "
                      f"{MAX_HOURS_CHARS}: use fewer spans", field="opening_hours")
    return out


def check_timezone(name: str) -> str:
    """`name` when it is an IANA time zone ("Europe/Helsinki"); else `Invalid` naming it."""
    _zone(name)
    return name


def format_opening_hours(hours: WeeklyHours) -> str:
    """The OSM-style text of `hours` (inverse of `parse_opening_hours` for what it produces)."""
    if hours == ALWAYS_OPEN:
        return "24/7"
    rules, day = [], 0
    while day < 7:
        end = day
        while end + 1 < 7 and hours[end + 1] == hours[day]:
            end += 1  # consecutive days with the same spans form one "Mo-Fr" rule
        if hours[day]:
            days = DAYS[day] if end == day else f"{DAYS[day]}-{DAYS[end]}"
            rules.append(f"{days} " + ",".join(f"{_hhmm(a)}-{_hhmm(b)}" for a, b in hours[day]))
        day = end + 1
    return "; ".join(rules) if rules else "Mo-Su off"


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _days(text: str) -> list[int]:
    days: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        ends = [e.strip().capitalize() for e in part.split("-")]
        if any(e not in DAYS for e in ends) or len(ends) > 2:
            raise Invalid(f"opening hours: unknown day {part!r} (use Mo Tu We Th Fr Sa Su)")
        a, b = DAYS.index(ends[0]), DAYS.index(ends[-1])
        days.extend(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    return days


def _add_span(week: list[list[tuple[int, int]]], day: int, span: str) -> None:
    start_text, end_text = span.split("-")
    start, end = _minute(start_text), _minute(end_text)
    if end > start:
        week[day].append((start, end))
    else:  # crosses midnight: the tail belongs to the next day
        week[day].append((start, 1440))
        if end > 0:
            week[(day + 1) % 7].append((0, end))


def _minute(text: str) -> int:
    hours, minutes = (int(x) for x in text.split(":"))
    if not (0 <= hours <= 24 and 0 <= minutes < 60) or hours * 60 + minutes > 1440:
        raise Invalid(f"opening hours: {text!r} is not a time of day")
    return hours * 60 + minutes


class AedStatus(StrEnum):
    """Whether an AED can be used."""

    READY = "ready"
    NEEDS_SERVICE = "needs_service"
    MISSING = "missing"


@dataclass(frozen=True, slots=True)
class Aed:
    """A public automated external defibrillator: where, how to find it, when it can be reached and its state."""

    id: int
    location: LatLon
    indoor: str = ""
    hours: WeeklyHours = ALWAYS_OPEN
    timezone: str = "UTC"
    status: AedStatus = AedStatus.READY
    last_check: date | None = None

    def is_accessible(self, at: datetime) -> bool:
        """Ready and open at `at` (an aware time), judged on the AED's own local clock."""
        if self.status != AedStatus.READY:
            return False
        if at.tzinfo is None:
            raise Invalid("AED access needs an aware time")
        local = at.astimezone(_zone(self.timezone))
        minute = local.hour * 60 + local.minute
        return any(a <= minute < b for a, b in self.hours[local.weekday()])


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise Invalid(f"unknown time zone {name!r}") from exc


@dataclass(frozen=True, slots=True)
class Alert:
    """One responder alerted for one incident: role, route (direct or via an AED), ETA and state."""

    responder_id: int
    kind: ResponderKind
    role: ResponderRole
    eta_s: float
    direct_eta_s: float
    phase: int
    alerted_at: datetime
    aed_id: int | None = None
    state: AlertState = AlertState.ALERTED
    accepted_role: ResponderRole | None = None
    updated_at: datetime | None = None

    @property
    def via_aed(self) -> bool:
        """True when the responder is routed through an AED before the patient."""
        return self.aed_id is not None


@dataclass(frozen=True, slots=True)
class AlertPlan:
    """Every alert of one incident so far, in the order sent, and where the response stands."""

    nature: str
    started_at: datetime
    alerts: tuple[Alert, ...] = ()
    phase: int = 0
    last_phase_at: datetime | None = None
    replaced: frozenset[int] = frozenset()
    stood_down_at: datetime | None = None
    blocked_by: tuple[str, ...] = ()

    def alert_for(self, responder_id: int) -> Alert:
        """The alert of `responder_id`; raises `NotFound` when that responder was not alerted."""
        for alert in self.alerts:
            if alert.responder_id == responder_id:
                return alert
        raise NotFound(f"responder {responder_id} was not alerted for this incident")

    @property
    def accepted(self) -> tuple[Alert, ...]:
        """Alerts of responders who accepted and still count (on the way, on scene or handed over)."""
        return tuple(a for a in self.alerts if a.state in ENGAGED_STATES)

    @property
    def active(self) -> bool:
        """True while the response is running (not stood down, not blocked)."""
        return self.stood_down_at is None and not self.blocked_by


@dataclass(frozen=True, slots=True)
class _Candidates:
    """Responders able to arrive in time, with their direct and best via-AED ETAs (policy seconds)."""

    responders: list[Responder]
    direct: FloatArray
    via_aed: FloatArray
    aed_ids: list[int | None]


def plan_alerts(
    incident_location: LatLon,
    responders: Responders,
    aeds: Aeds,
    router: Router,
    *,
    now: datetime,
    ambulance_eta_s: float | None,
    policy: AlertPolicy,
    nature: str = "cardiac_arrest",
    exclusions: Collection[str] = (),
    already: AlertPlan | None = None,
    count: int | None = None,
) -> AlertPlan:
    """The plan with one more phase of alerts (the first phase when `already` is None): who, which role, which AED.

    Only alertable responders who can arrive before the ambulance or within the target (whichever is looser) are
    alerted; the nearest go straight to the patient, the others through an open AED when that beats the ambulance.
    """
    plan = already or AlertPlan(nature=_check_nature(nature), started_at=now)
    blocked = check_exclusions(exclusions, policy)
    if blocked:
        return replace(plan, blocked_by=blocked)
    if not plan.active:
        return plan
    size = policy.first_phase_size if plan.phase == 0 else policy.phase_size
    size = min(size if count is None else count, policy.max_alerts - len(plan.alerts))
    if size <= 0:
        return plan
    elapsed = (now - plan.started_at).total_seconds()
    deadline = policy.deadline_s(ambulance_eta_s, elapsed)
    taken = {a.responder_id for a in plan.alerts}
    use_aeds = plan.nature in policy.aed_natures
    cands = _candidates(incident_location, as_pool(responders), taken, as_aed_pool(aeds if use_aeds else ()),
                        router, now=now, policy=policy, deadline=deadline, ambulance_eta_s=ambulance_eta_s)
    new = _choose(cands, size=size, policy=policy, phase=plan.phase + 1, now=now, use_aeds=use_aeds)
    if not new:
        # A first search that found nobody still starts the widening clock: volunteers come on duty and move, so
        # the search is repeated every `widen_after_s` while the plan is active (and not on every tick).
        return plan if already is not None else replace(plan, last_phase_at=now)
    return replace(plan, alerts=plan.alerts + tuple(new), phase=plan.phase + 1, last_phase_at=now)


def as_pool(responders: Responders) -> ResponderPool:
    """`responders` as a pool (built when a plain sequence is given)."""
    return responders if isinstance(responders, ResponderPool) else ResponderPool.build(responders)


def as_aed_pool(aeds: Aeds) -> AedPool:
    """`aeds` as a pool (built when a plain sequence is given)."""
    return aeds if isinstance(aeds, AedPool) else AedPool.build(aeds)


def check_exclusions(exclusions: Collection[str], policy: AlertPolicy) -> tuple[str, ...]:
    """The dispatcher's exclusions that forbid alerting (sorted); raises `Invalid` for an unknown one."""
    unknown = sorted(set(exclusions) - policy.exclusions)
    if unknown:
        raise Invalid(f"unknown exclusion {', '.join(unknown)}: expected one of {', '.join(sorted(policy.exclusions))}")
    return tuple(sorted(set(exclusions)))


def _check_nature(nature: str) -> str:
    if nature not in NATURES:
        raise Invalid(f"volunteers are alerted for {', '.join(NATURES)}, not {nature!r}")
    return nature


@dataclass(frozen=True, slots=True)
class ResponderPool:
    """Responders with their coordinates as arrays (NaN when unknown), built once and reused for many plans."""

    responders: tuple[Responder, ...]
    lat: FloatArray
    lon: FloatArray
    snapped: Any = None

    @classmethod
    def build(cls, responders: Iterable[Responder], *, router: Router | None = None) -> ResponderPool:
        """The pool of `responders`; with `router`, positions are also snapped once onto its walking network."""
        items = tuple(responders)
        lat = np.fromiter((r.position.lat if r.position else np.nan for r in items), np.float64, len(items))
        lon = np.fromiter((r.position.lon if r.position else np.nan for r in items), np.float64, len(items))
        located = all(r.position is not None for r in items)
        points = [r.position for r in items if r.position is not None]
        snapped = _snap_all(router, points) if router is not None and located and points else None
        return cls(items, lat, lon, snapped)


@dataclass(frozen=True, slots=True)
class AedPool:
    """AEDs with their coordinates as arrays, built once per city and reused for many plans."""

    aeds: tuple[Aed, ...]
    lat: FloatArray
    lon: FloatArray
    snapped: Any = None

    @classmethod
    def build(cls, aeds: Iterable[Aed], *, router: Router | None = None) -> AedPool:
        """The pool of `aeds`; with `router`, locations are also snapped once onto its walking network."""
        items = tuple(aeds)
        lat = np.fromiter((a.location.lat for a in items), np.float64, len(items))
        lon = np.fromiter((a.location.lon for a in items), np.float64, len(items))
        snapped = _snap_all(router, [a.location for a in items]) if router is not None and items else None
        return cls(items, lat, lon, snapped)


def _snap_all(router: Router, points: list[LatLon]) -> Any:
    """Every point snapped onto the walking network. One lying off it (a volunteer out of town, an AED on an
    island) is kept with infinite walking times, so it is never chosen, and neither fails the alerting nor turns
    the pool's pre-snapping off for everyone else."""
    return router.snap(points, mode="walk", strict=False)


Responders = Sequence[Responder] | ResponderPool
Aeds = Sequence[Aed] | AedPool


def _within_reach(origin: LatLon, lat: FloatArray, lon: FloatArray, max_m: float) -> tuple[IntArray, FloatArray]:
    """Indices of points at most `max_m` from `origin` in a straight line (walking is never shorter), nearest first,
    and their squared distances."""
    dx, dy = local_offsets_m(origin, lat, lon)
    d2 = dx * dx + dy * dy
    # 0.5% slack: the equirectangular distance is a close, not exact, stand-in for the great circle.
    with np.errstate(invalid="ignore"):
        idx = np.flatnonzero(d2 <= (max_m * 1.005 + 1.0) ** 2)
    order = np.argsort(d2[idx], kind="stable")
    return idx[order], d2[idx[order]]


def _candidates(origin: LatLon, pool: ResponderPool, taken: Collection[int], aeds: AedPool, router: Router, *,
                now: datetime, policy: AlertPolicy, deadline: float, ambulance_eta_s: float | None) -> _Candidates:
    walk_budget = deadline - policy.set_off_delay_s  # seconds of walking at the policy's speed
    empty = _Candidates([], np.zeros(0), np.zeros(0), [])
    if walk_budget <= 0:
        return empty
    near, _d2 = _within_reach(origin, pool.lat, pool.lon, walk_budget * policy.walking_speed_mps)
    picked: list[int] = []
    for i in near:
        r = pool.responders[i]
        if r.id not in taken and r.is_alertable(now, policy):
            picked.append(int(i))
            if len(picked) >= policy.route_candidates:
                break  # the nearest in a straight line: the walking-nearest are among them
    if not picked:
        return empty
    people = [pool.responders[i] for i in picked]
    limit = walk_budget / policy.walk_scale  # the same budget in network seconds
    if pool.snapped is not None:  # pre-snapped: ask about the candidates only when the batch can be subset
        points, pick = _subset(pool.snapped, np.array(picked, dtype=np.intp))
    else:
        points = _snap_all(router, [r.position for r in people if r.position is not None])
        pick = np.arange(len(people))
    direct = router.times_from(origin, points, mode="walk", limit_s=limit)[pick] * policy.walk_scale
    direct = direct + policy.set_off_delay_s
    usable, to_patient = _usable_aeds(origin, aeds, router, now=now, policy=policy, limit=limit)
    via, aed_ids = _via_aed(points, pick, usable, to_patient, router, policy=policy, limit=limit,
                            worth=ambulance_eta_s if ambulance_eta_s is not None else deadline)
    own = np.array([r.has_aed for r in people], dtype=bool)
    via = np.where(own, direct, via)  # a responder carrying an AED brings it straight to the patient
    aed_ids = [None if r.has_aed else a for r, a in zip(people, aed_ids, strict=True)]
    keep = np.flatnonzero((direct <= deadline) | (via <= deadline))
    return _Candidates([people[i] for i in keep], direct[keep], via[keep], [aed_ids[i] for i in keep])


def _subset(snapped: Any, idx: IntArray) -> tuple[Any, IntArray]:
    """The snapped points at `idx` and where each now sits; geo's batches offer `take`, others are asked whole."""
    take = getattr(snapped, "take", None)
    if take is None:
        return snapped, idx
    return take(idx), np.arange(len(idx), dtype=np.intp)


def _usable_aeds(origin: LatLon, aeds: AedPool, router: Router, *, now: datetime, policy: AlertPolicy,
                 limit: float) -> tuple[list[Aed], FloatArray]:
    """Ready, open AEDs within walking reach of the patient (straight-line nearest first) and their walking times
    to the patient in network seconds."""
    near, _d2 = _within_reach(origin, aeds.lat, aeds.lon, limit * policy.network_walk_speed_mps)
    idx = [int(i) for i in near if aeds.aeds[i].is_accessible(now)][: 3 * policy.aed_candidates]
    usable = [aeds.aeds[i] for i in idx]
    if not usable:
        return [], np.zeros(0)
    if aeds.snapped is not None:
        batch, pick = _subset(aeds.snapped, np.array(idx, dtype=np.intp))
        to_patient = router.times_from(origin, batch, mode="walk", limit_s=limit)[pick]
    else:  # snapped leniently, as responders are: an AED off the walking network is never fetched, and fails nothing
        to_patient = router.times_from(origin, _snap_all(router, [a.location for a in usable]), mode="walk",
                                       limit_s=limit)
    return usable, to_patient


def _via_aed(points: Any, pick: IntArray, usable: Sequence[Aed], to_patient: FloatArray, router: Router, *,
             policy: AlertPolicy, limit: float, worth: float) -> tuple[FloatArray, list[int | None]]:
    """Best responder -> AED -> patient ETA for the picked points, and which AED; `inf` when no fetch arrives
    before `worth` (the ambulance, or the deadline when no ambulance ETA is known)."""
    m = len(pick)
    best = np.full(m, np.inf)
    best_ids: list[int | None] = [None] * m
    for j in np.argsort(to_patient, kind="stable")[: policy.aed_candidates]:
        if not np.isfinite(to_patient[j]):
            break
        leg = router.times_from(usable[j].location, points, mode="walk", limit_s=limit - to_patient[j])[pick]
        eta = (leg + to_patient[j]) * policy.walk_scale + policy.set_off_delay_s
        better = (eta < best) & (eta < worth)
        best = np.where(better, eta, best)
        for i in np.flatnonzero(better):
            best_ids[i] = usable[j].id
    return best, best_ids


def _choose(c: _Candidates, *, size: int, policy: AlertPolicy, phase: int, now: datetime,
            use_aeds: bool) -> list[Alert]:
    """The nearest go direct for CPR; `aed_share` of the phase goes via an AED; leftovers fill direct slots."""
    n = len(c.responders)
    order = sorted(range(n), key=lambda i: (c.direct[i], c.responders[i].id))
    picked = min(size, int(np.isfinite(c.direct).sum()))
    cpr_slots = max(picked - round(picked * policy.aed_share), 1) if use_aeds else picked
    chosen: dict[int, ResponderRole] = {}
    for i in order[:cpr_slots]:
        chosen[i] = ResponderRole.AED if c.responders[i].has_aed and use_aeds else ResponderRole.CPR
    fetchers = sorted((i for i in range(n) if i not in chosen and np.isfinite(c.via_aed[i])),
                      key=lambda i: (c.via_aed[i], c.responders[i].id))
    for i in fetchers[: max(picked - len(chosen), 0)]:
        chosen[i] = ResponderRole.AED
    for i in order:
        if len(chosen) >= picked:
            break
        if i not in chosen:
            chosen[i] = ResponderRole.AED if c.responders[i].has_aed and use_aeds else ResponderRole.CPR
    return [_alert(c, i, role, phase=phase, now=now) for i, role in sorted(chosen.items(), key=lambda kv: _eta(c, *kv))]


def _eta(c: _Candidates, i: int, role: ResponderRole) -> tuple[float, int]:
    via = role == ResponderRole.AED and not c.responders[i].has_aed
    return (float(c.via_aed[i] if via else c.direct[i]), c.responders[i].id)


def _alert(c: _Candidates, i: int, role: ResponderRole, *, phase: int, now: datetime) -> Alert:
    r = c.responders[i]
    via = role == ResponderRole.AED and not r.has_aed
    return Alert(responder_id=r.id, kind=r.kind, role=role, eta_s=float(c.via_aed[i] if via else c.direct[i]),
                 direct_eta_s=float(c.direct[i]), phase=phase, alerted_at=now, aed_id=c.aed_ids[i] if via else None)


def widening_due(plan: AlertPlan, *, now: datetime, policy: AlertPolicy) -> bool:
    """True when nobody accepted within `widen_after_s` of the last phase."""
    if not plan.active or plan.accepted or plan.last_phase_at is None:
        return False
    return (now - plan.last_phase_at).total_seconds() >= policy.widen_after_s


def phase_due(plan: AlertPlan, *, now: datetime, policy: AlertPolicy) -> bool:
    """True when `next_phase` would alert someone: a refusal to replace, or silence past `widen_after_s`."""
    if not plan.active or len(plan.accepted) >= policy.max_acceptances or len(plan.alerts) >= policy.max_alerts:
        return False
    refused = any(a.state == AlertState.DECLINED and a.responder_id not in plan.replaced for a in plan.alerts)
    return refused or widening_due(plan, now=now, policy=policy)


def next_phase(
    plan: AlertPlan,
    incident_location: LatLon,
    responders: Responders,
    aeds: Aeds,
    router: Router,
    *,
    now: datetime,
    ambulance_eta_s: float | None,
    policy: AlertPolicy,
) -> AlertPlan:
    """Replace refusals at once and widen by a phase when nobody accepted in time; otherwise the plan unchanged."""
    if not plan.active or len(plan.accepted) >= policy.max_acceptances:
        return plan
    refusals = [a.responder_id for a in plan.alerts if a.state == AlertState.DECLINED
                and a.responder_id not in plan.replaced]
    count = len(refusals) + (policy.phase_size if widening_due(plan, now=now, policy=policy) else 0)
    if count == 0:
        return plan
    updated = plan_alerts(incident_location, responders, aeds, router, now=now, ambulance_eta_s=ambulance_eta_s,
                          policy=policy, already=plan, count=count)
    if updated is plan and not refusals:
        # Nobody left to alert: restart the widening timer so the search is not repeated every tick.
        return replace(plan, last_phase_at=now)
    return replace(updated, replaced=plan.replaced | frozenset(refusals))


@dataclass(frozen=True, slots=True)
class Acceptance:
    """What an acceptance decided: the role given (None when not needed) and who must be told they are not needed."""

    plan: AlertPlan
    role: ResponderRole | None
    not_needed: tuple[int, ...]


def on_accept(plan: AlertPlan, responder_id: int, *, now: datetime, policy: AlertPolicy) -> Acceptance:
    """Accept within the cap: a free role (the alerted one first); at the cap, tell the others they are not needed."""
    alert = _open_alert(plan, responder_id)
    if alert.state != AlertState.ALERTED:
        raise Conflict(f"responder {responder_id} already answered ({alert.state.value})")
    if len(plan.accepted) >= policy.max_acceptances:
        updated = _set(plan, responder_id, state=AlertState.NOT_NEEDED, updated_at=now)
        return Acceptance(updated, None, (responder_id,))
    role = _free_role(plan, alert, policy)
    updated = _set(plan, responder_id, state=AlertState.ACCEPTED, accepted_role=role, updated_at=now,
                   aed_id=alert.aed_id if role == ResponderRole.AED else None,
                   eta_s=alert.eta_s if role == ResponderRole.AED else alert.direct_eta_s)
    extra: tuple[int, ...] = ()
    if len(updated.accepted) >= policy.max_acceptances:
        extra = tuple(a.responder_id for a in updated.alerts if a.state == AlertState.ALERTED)
        for rid in extra:
            updated = _set(updated, rid, state=AlertState.NOT_NEEDED, updated_at=now)
    return Acceptance(updated, role, extra)


def _free_role(plan: AlertPlan, alert: Alert, policy: AlertPolicy) -> ResponderRole:
    taken = [a.accepted_role for a in plan.accepted]
    order = [alert.role, ResponderRole.CPR, ResponderRole.AED, ResponderRole.COORDINATOR]
    for role in order:
        if role not in taken and (role != ResponderRole.AED or alert.via_aed or alert.role == ResponderRole.AED):
            return role
    return ResponderRole.CPR  # beyond three (a cap above 3): extra hands for compressions


def on_decline(plan: AlertPlan, responder_id: int, *, now: datetime) -> AlertPlan:
    """Record a refusal; `next_phase` replaces it."""
    alert = _open_alert(plan, responder_id)
    if alert.state != AlertState.ALERTED:
        raise Conflict(f"responder {responder_id} already answered ({alert.state.value})")
    return _set(plan, responder_id, state=AlertState.DECLINED, updated_at=now)


SCENE_ACTIONS = frozenset({Action.CPR_STARTED, Action.AED_ATTACHED, Action.SHOCK_DELIVERED})


def on_action(plan: AlertPlan, responder_id: int, action: Action, *, now: datetime) -> AlertPlan:
    """Record a report from an accepted responder (AED collected, arrived, CPR, AED attached, shock, handed over)."""
    if action in (Action.ACCEPT, Action.DECLINE):
        raise Invalid("accept and decline have their own functions")
    alert = _open_alert(plan, responder_id)
    if alert.state not in (AlertState.ACCEPTED, AlertState.ARRIVED):
        raise Conflict(f"responder {responder_id} must accept before reporting {action.value}")
    if action in SCENE_ACTIONS and alert.state != AlertState.ARRIVED:
        plan = _set(plan, responder_id, state=AlertState.ARRIVED, updated_at=now)
    if action == Action.ARRIVED:
        return _set(plan, responder_id, state=AlertState.ARRIVED, updated_at=now)
    if action == Action.HANDED_OVER:
        return _set(plan, responder_id, state=AlertState.HANDED_OVER, updated_at=now)
    return _set(plan, responder_id, updated_at=now)


def _open_alert(plan: AlertPlan, responder_id: int) -> Alert:
    alert = plan.alert_for(responder_id)
    if plan.stood_down_at is not None:
        raise Conflict("the response was stood down")
    return alert


def _set(plan: AlertPlan, responder_id: int, **changes: Any) -> AlertPlan:
    alerts = tuple(replace(a, **changes) if a.responder_id == responder_id else a for a in plan.alerts)
    return replace(plan, alerts=alerts)


def stand_down(plan: AlertPlan, *, now: datetime) -> tuple[AlertPlan, tuple[int, ...]]:
    """End the response (EMS on scene or call cancelled): everyone still open is stood down and must be told."""
    if plan.stood_down_at is not None:
        return plan, ()
    told = tuple(a.responder_id for a in plan.alerts if a.state in OPEN_STATES)
    alerts = tuple(replace(a, state=AlertState.STOOD_DOWN, updated_at=now) if a.state in OPEN_STATES else a
                   for a in plan.alerts)
    return replace(plan, alerts=alerts, stood_down_at=now), told


# --- Measures from the timeline --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IncidentMeasures:
    """First-response times of one incident, in seconds from the call (None when the node never happened)."""

    incident_id: int
    first_responder_on_scene_s: float | None
    ems_on_scene_s: float | None
    first_compression_s: float | None
    first_shock_s: float | None
    volunteer_before_ems: bool
    alerted: int
    accepted: int
    arrived: int


# A scene report proves arrival even when "arrived" was never pressed.
ON_SCENE_KINDS = (EventKind.RESPONDER_ARRIVED, EventKind.RESPONDER_CPR_STARTED, EventKind.RESPONDER_AED_ATTACHED,
                  EventKind.RESPONDER_SHOCK_DELIVERED, EventKind.RESPONDER_HANDED_OVER)


def incident_measures(incident_id: int, events: Iterable[TimelineEvent]) -> IncidentMeasures:
    """Measures of one incident from its timeline (corrections applied); time zero is the first call event."""
    live = [e for e in effective(events) if e.incident_id in (None, incident_id)]
    zero = _first_at(live, (EventKind.PSAP_CALL, EventKind.CALL_ANSWERED, EventKind.RESPONDER_ALERTED))

    def since(kinds: tuple[EventKind, ...]) -> float | None:
        at = _first_at(live, kinds)
        return None if at is None or zero is None else (at - zero).total_seconds()

    responder = since(ON_SCENE_KINDS)
    ems = since((EventKind.UNIT_ON_SCENE,))
    return IncidentMeasures(
        incident_id=incident_id,
        first_responder_on_scene_s=responder,
        ems_on_scene_s=ems,
        first_compression_s=since((EventKind.RESPONDER_CPR_STARTED, EventKind.FIRST_CPR)),
        first_shock_s=since((EventKind.RESPONDER_SHOCK_DELIVERED, EventKind.FIRST_DEFIBRILLATION)),
        volunteer_before_ems=responder is not None and (ems is None or responder < ems),
        alerted=_count_actors(live, EventKind.RESPONDER_ALERTED),
        accepted=_count_actors(live, EventKind.RESPONDER_ACCEPTED),
        arrived=len({responder_of(e) for e in live if e.kind in ON_SCENE_KINDS}),
    )


def _first_at(events: Sequence[TimelineEvent], kinds: tuple[EventKind, ...]) -> datetime | None:
    times = [e.at for e in events if e.kind in kinds]
    return min(times) if times else None


def responder_of(event: TimelineEvent) -> int | None:
    """The responder an event is about (payload `responder_id`), if any."""
    value = event.payload.get("responder_id")
    return int(value) if value is not None else None


def _count_actors(events: Sequence[TimelineEvent], kind: EventKind) -> int:
    return len({responder_of(e) for e in events if e.kind == kind})


@dataclass(frozen=True, slots=True)
class Counts:
    """Alerts sent, accepted and arrived for one volunteer or one area."""

    alerted: int = 0
    accepted: int = 0
    arrived: int = 0


@dataclass(frozen=True, slots=True)
class Measures:
    """First-response performance over many incidents, overall, per responder and per area."""

    incidents: int
    arrests: int
    median_first_responder_on_scene_s: float | None
    share_volunteer_before_ems: float | None
    median_first_compression_s: float | None
    median_first_shock_s: float | None
    per_responder: dict[int, Counts] = field(default_factory=dict)
    per_area: dict[str, Counts] = field(default_factory=dict)


def measures(timelines: Mapping[int, Sequence[TimelineEvent]], *, areas: Mapping[int, str] | None = None,
             arrests: Collection[int] | None = None) -> Measures:
    """Aggregate measures; `areas` maps incident to area name, `arrests` names the arrest incidents (default all)."""
    per = {i: incident_measures(i, evs) for i, evs in timelines.items()}
    arrest_ids = set(per) if arrests is None else set(arrests) & set(per)
    arrest_rows = [per[i] for i in sorted(arrest_ids)]
    share = (sum(m.volunteer_before_ems for m in arrest_rows) / len(arrest_rows)) if arrest_rows else None
    return Measures(
        incidents=len(per),
        arrests=len(arrest_rows),
        median_first_responder_on_scene_s=_median(m.first_responder_on_scene_s for m in per.values()),
        share_volunteer_before_ems=share,
        median_first_compression_s=_median(m.first_compression_s for m in arrest_rows),
        median_first_shock_s=_median(m.first_shock_s for m in arrest_rows),
        per_responder=_per_responder(timelines),
        per_area=_per_area(per, areas or {}),
    )


def _median(values: Iterable[float | None]) -> float | None:
    got = sorted(v for v in values if v is not None)
    return float(np.median(got)) if got else None


def _per_responder(timelines: Mapping[int, Sequence[TimelineEvent]]) -> dict[int, Counts]:
    seen: dict[tuple[int, EventKind], set[int]] = {}
    kinds = (EventKind.RESPONDER_ALERTED, EventKind.RESPONDER_ACCEPTED, EventKind.RESPONDER_ARRIVED)
    for incident_id, events in timelines.items():
        for e in effective(events):
            rid = responder_of(e)
            kind = EventKind.RESPONDER_ARRIVED if e.kind in ON_SCENE_KINDS else e.kind
            if rid is not None and kind in kinds:
                seen.setdefault((rid, kind), set()).add(incident_id)
    ids = sorted({rid for rid, _ in seen})
    return {rid: Counts(*(len(seen.get((rid, k), ())) for k in kinds)) for rid in ids}


def _per_area(per: Mapping[int, IncidentMeasures], areas: Mapping[int, str]) -> dict[str, Counts]:
    out: dict[str, Counts] = {}
    for incident_id, m in per.items():
        area = areas.get(incident_id, "unknown")
        c = out.get(area, Counts())
        out[area] = Counts(c.alerted + m.alerted, c.accepted + m.accepted, c.arrived + m.arrived)
    return out


def seconds_after(start: datetime, seconds: float) -> datetime:
    """`start` plus `seconds` (helper for callers scheduling the next phase)."""
    return start + timedelta(seconds=seconds)
