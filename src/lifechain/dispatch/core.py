"""Pure dispatch rules: which ambulance to send, which hospital to take the patient to, and who waits first.

The live service and the planning simulation call exactly these functions; they never touch a database, the web or
the wall clock (`now` is an argument), and every ordering breaks ties explicitly so runs repeat.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any, Literal, NamedTuple

import numpy as np
from pydantic import ConfigDict, with_config

from lifechain import errors
from lifechain.errors import Invalid
from lifechain.fleet.core import UnitState, UnitStatus, UnitType, is_available
from lifechain.geo.core import LatLon, OffNetwork, Profile, Router, haversine_m, haversine_many
from lifechain.hospitals.core import Capability, HospitalState

__all__ = [
    "CENTRE_NAMES",
    "DEFAULT_PATHWAY_CAPABILITIES",
    "DEFAULT_POLICY",
    "REASON_TEXT",
    "Candidate",
    "DispatchPolicy",
    "FreeEstimate",
    "HospitalCandidate",
    "HospitalRecommendation",
    "IncidentState",
    "UnitRecommendation",
    "deciding_pathway",
    "divert_refusal",
    "earliest_free",
    "queue_order",
    "recommend_hospital",
    "recommend_units",
]

ExclusionReason = Literal["busy", "wrong_type", "out_of_service", "unreachable"]
CandidateReason = Literal["busy", "wrong_type", "out_of_service", "stale_gps_used_station", "unreachable"]

REASON_TEXT: dict[str, dict[str, str]] = {
    "busy": {"en": "busy on another call", "zh-CN": "正在执行其他任务"},
    "wrong_type": {"en": "wrong unit type for this priority", "zh-CN": "车型不符合该优先级要求"},
    "out_of_service": {"en": "out of service", "zh-CN": "暂停服务"},
    "stale_gps_used_station": {"en": "GPS fix stale or missing: ETA from its station",
                               "zh-CN": "GPS定位过期或缺失：按所属站点估算到达时间"},
    "unreachable": {"en": "cannot reach the incident within the time limit", "zh-CN": "无法在时限内到达现场"},
}

C = Capability
DEFAULT_PATHWAY_CAPABILITIES: dict[str, frozenset[Capability]] = {
    "chest_pain_stemi": frozenset({C.PCI_24_7}),
    "stroke": frozenset({C.STROKE_THROMBOLYSIS, C.THROMBECTOMY}),
    "poisoning": frozenset({C.POISONING_CENTRE}),
    "major_trauma": frozenset({C.TRAUMA_1, C.TRAUMA_2}),
    "mass_casualty": frozenset({C.TRAUMA_1, C.TRAUMA_2}),
}
CENTRE_NAMES: dict[str, dict[str, str]] = {
    "chest_pain_stemi": {"en": "PCI centre", "zh-CN": "胸痛中心（PCI）"},
    "stroke": {"en": "stroke centre", "zh-CN": "卒中中心"},
    "poisoning": {"en": "poisoning centre", "zh-CN": "中毒救治中心"},
    "major_trauma": {"en": "trauma centre", "zh-CN": "创伤中心"},
    "mass_casualty": {"en": "trauma centre", "zh-CN": "创伤中心"},
}
# When an incident carries several specialty pathways, the first in this order chooses the destination.
DEFAULT_PATHWAY_PRECEDENCE: tuple[str, ...] = ("major_trauma", "mass_casualty", "chest_pain_stemi", "stroke",
                                               "poisoning")
# Expected seconds until a busy unit is free again, by its current status (configurable; JEMSS-like cycle).
DEFAULT_REMAINING_S: dict[UnitStatus, float] = {
    UnitStatus.DISPATCHED: 3600.0,
    UnitStatus.EN_ROUTE: 3300.0,
    UnitStatus.ON_SCENE: 2400.0,
    UnitStatus.TRANSPORTING: 1500.0,
    UnitStatus.AT_HOSPITAL: 900.0,
    UnitStatus.OUT_OF_SERVICE: 7200.0,
}


@with_config(ConfigDict(extra="forbid", allow_inf_nan=False))  # how `from_mapping` checks configuration
@dataclass(frozen=True)
class DispatchPolicy:
    """The configurable rules of dispatch: capability by priority, routing profile, GPS staleness, limits, tables.

    `redispatch` holds (current priority, new priority) pairs: a unit dispatched or en route to a call of the first
    priority may be diverted to a new call of the second (as JEMSS's redispatch tables).
    """

    als_required_priorities: frozenset[int] = frozenset({1})
    emergency_profile_priorities: frozenset[int] = frozenset({1, 2})
    gps_stale_after_s: float = 120.0
    max_eta_s: float = 3600.0
    stemi_extra_time_allowance_s: float = 1200.0
    extra_time_allowance_s: Mapping[str, float] = field(
        default_factory=lambda: {"stroke": 1200.0, "poisoning": 1800.0, "major_trauma": 1200.0,
                                 "mass_casualty": 1200.0})
    redispatch: frozenset[tuple[int, int]] = frozenset({(2, 1), (3, 1), (4, 1)})
    redispatch_statuses: frozenset[UnitStatus] = frozenset({UnitStatus.DISPATCHED, UnitStatus.EN_ROUTE})
    pathway_capabilities: Mapping[str, frozenset[Capability]] = field(
        default_factory=lambda: dict(DEFAULT_PATHWAY_CAPABILITIES))
    pathway_precedence: tuple[str, ...] = DEFAULT_PATHWAY_PRECEDENCE
    expected_remaining_s: Mapping[UnitStatus, float] = field(default_factory=lambda: dict(DEFAULT_REMAINING_S))

    def __hash__(self) -> int:
        """Hashable despite its mapping fields, so a policy can key caches and scenario tables."""
        return hash(tuple(
            tuple(sorted(v.items())) if isinstance(v, Mapping) else v
            for v in (getattr(self, f.name) for f in fields(self))))

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> DispatchPolicy:
        """A policy from configuration (a planning scenario's `dispatch_policy`): unknown keys and values of the
        wrong type are refused by name; lists become the sets the fields hold."""
        return errors.from_mapping(cls, values, what="dispatch policy")

    def profile_for(self, priority: int) -> Profile:
        """Routing profile for a call of `priority`: lights and sirens for the configured priorities."""
        return "emergency" if priority in self.emergency_profile_priorities else "regular"

    def allowance_for(self, pathway: str) -> float:
        """Extra seconds a specialty centre may be farther than the nearest ED for `pathway`."""
        if pathway == "chest_pain_stemi":
            return self.stemi_extra_time_allowance_s
        return self.extra_time_allowance_s.get(pathway, 0.0)

    def may_divert(self, current_priority: int | None, new_priority: int) -> bool:
        """True when a unit on a call of `current_priority` may be diverted to a new call of `new_priority`."""
        return current_priority is not None and (current_priority, new_priority) in self.redispatch


DEFAULT_POLICY = DispatchPolicy()


@dataclass(frozen=True, slots=True)
class IncidentState:
    """A call as dispatch sees it: where, how urgent (1 = critical .. 4 = non-acute), its pathways and arrival time."""

    id: int
    location: LatLon
    priority: int
    pathways: frozenset[str]
    received_at: datetime

    def __post_init__(self) -> None:
        if self.priority not in (1, 2, 3, 4):
            raise Invalid(f"incident {self.id}: priority must be 1-4, got {self.priority}")


class Candidate(NamedTuple):
    """One unit considered for a call: its ETA (seconds; None when not routed) and why it is flagged or excluded.

    A named tuple rather than a frozen dataclass: one is made for every unit on every recommendation, and a frozen
    dataclass costs about five times as much to build (3.5 against 0.8 us with 11 fields on Python 3.11)."""

    unit_id: int
    call_sign: str
    unit_type: UnitType
    status: UnitStatus
    eta_s: float | None
    reason: CandidateReason | None = None
    eligible: bool = True
    distance_m: float | None = None
    origin: LatLon | None = None
    from_incident_id: int | None = None
    from_priority: int | None = None

    @property
    def reason_text(self) -> dict[str, str] | None:
        """The reason in words, per language."""
        return None if self.reason is None else REASON_TEXT[self.reason]


@dataclass(frozen=True, slots=True)
class UnitRecommendation:
    """Every unit explained for one call: eligible ones ranked by ETA, then the excluded, plus diversion options."""

    incident_id: int
    profile: Profile
    candidates: tuple[Candidate, ...]
    redispatch: tuple[Candidate, ...]

    @property
    def eligible(self) -> tuple[Candidate, ...]:
        """Units that may be sent, fastest first."""
        return tuple(c for c in self.candidates if c.eligible)

    @property
    def best(self) -> Candidate | None:
        """The fastest eligible unit, or None when the call must wait (or take a diversion)."""
        return next((c for c in self.candidates if c.eligible), None)


def _exclusion(unit: UnitState, incident: IncidentState, policy: DispatchPolicy) -> ExclusionReason | None:
    """Why `unit` cannot take `incident` regardless of travel time, or None."""
    if unit.status is UnitStatus.OUT_OF_SERVICE:
        return "out_of_service"
    if not is_available(unit.status):
        return "busy"
    if incident.priority in policy.als_required_priorities and unit.type is not UnitType.ALS:
        return "wrong_type"
    return None


DivertBlock = Literal["same_call", "status", "type", "table"]


def _divert_block(unit: UnitState, incident: IncidentState, policy: DispatchPolicy) -> DivertBlock | None:
    """What keeps a busy `unit` from being diverted to `incident` ("same_call", "status", "type" or "table"), or None.

    Plain checks without building the words: this runs for every busy unit on every recommendation."""
    if unit.incident_id == incident.id:
        return "same_call"
    if unit.status not in policy.redispatch_statuses:
        return "status"
    if incident.priority in policy.als_required_priorities and unit.type is not UnitType.ALS:
        return "type"
    if not policy.may_divert(unit.incident_priority, incident.priority):
        return "table"
    return None


def divert_refusal(unit: UnitState, incident: IncidentState, policy: DispatchPolicy = DEFAULT_POLICY) -> str | None:
    """Why a busy `unit` may not be diverted from its call to `incident` (in words), or None when it may.

    The redispatch table decides on (current priority, new priority); the unit must be dispatched or en route
    (by default) and of a type the new call accepts. The call it leaves goes back to the queue (the flow's job).
    """
    block = _divert_block(unit, incident, policy)
    if block == "same_call":
        return f"unit {unit.call_sign} is already on incident {incident.id}"
    if block == "status":
        allowed = ", ".join(sorted(policy.redispatch_statuses))
        return f"unit {unit.call_sign} is {unit.status}; only {allowed} units may be diverted"
    if block == "type":
        return f"unit {unit.call_sign} is {unit.type}; a priority {incident.priority} call needs ALS"
    if block == "table":
        return (f"the redispatch table does not let a priority {unit.incident_priority} call give up its unit to a "
                f"priority {incident.priority} call")
    return None


def _candidate(unit: UnitState, eta: float | None, reason: CandidateReason | None, origin: LatLon | None,
               distance_m: float | None) -> Candidate:
    eligible = reason is None or reason == "stale_gps_used_station"
    return Candidate(unit.id, unit.call_sign, unit.type, unit.status, eta, reason, eligible, distance_m, origin,
                     unit.incident_id, unit.incident_priority)


def recommend_units(incident: IncidentState, units: Sequence[UnitState], router: Router, *, now: datetime,
                    policy: DispatchPolicy = DEFAULT_POLICY) -> UnitRecommendation:
    """Rank every unit for `incident` by road ETA (one many-to-one router call) and explain each one.

    Eligible units sort by (ETA, unit id); excluded units follow by (reason, unit id). Busy units that the
    redispatch table allows to divert are listed apart, by (ETA, unit id), with the call they would leave.
    Distances are straight-line metres from where the unit is routed from.
    """
    routed, excluded = _classify(incident, units, now, policy)
    profile = policy.profile_for(incident.priority)
    etas = _route(router, routed, incident.location, profile, policy.max_eta_s)
    dists = _distances_m([r[1] for r in routed], incident.location)
    ranked: list[Candidate] = []
    diversions: list[Candidate] = []
    for (unit, origin, stale, divert), eta, dist in zip(routed, etas, dists, strict=True):
        if divert:
            if math.isfinite(eta):
                diversions.append(_candidate(unit, eta, "busy", origin, dist))
        elif not math.isfinite(eta):
            excluded.append(_candidate(unit, None, "unreachable", origin, dist))
        else:
            ranked.append(_candidate(unit, eta, "stale_gps_used_station" if stale else None, origin, dist))
    ranked.sort(key=lambda c: (c.eta_s, c.unit_id))
    excluded.sort(key=lambda c: (str(c.reason), c.unit_id))
    diversions.sort(key=lambda c: (c.eta_s, c.unit_id))
    return UnitRecommendation(incident.id, profile, tuple(ranked) + tuple(excluded), tuple(diversions))


def _classify(incident: IncidentState, units: Sequence[UnitState], now: datetime, policy: DispatchPolicy,
              ) -> tuple[list[tuple[UnitState, LatLon, bool, bool]], list[Candidate]]:
    """Units to route (unit, origin, stale fix, is a diversion) and units excluded before routing."""
    routed: list[tuple[UnitState, LatLon, bool, bool]] = []
    excluded: list[Candidate] = []
    for unit in units:
        reason = _exclusion(unit, incident, policy)
        if reason is None or (reason == "busy" and _divert_block(unit, incident, policy) is None):
            origin, stale = unit.effective_position(now, policy.gps_stale_after_s)
            routed.append((unit, origin, stale, reason is not None))
        if reason is not None:
            excluded.append(_candidate(unit, None, reason, None, None))
    return routed, excluded


def _distances_m(origins: Sequence[LatLon], destination: LatLon) -> list[float]:
    """Great-circle metres from each origin to `destination`: one by one for a few (array set-up costs more than a
    few dozen scalar distances), vectorised for many."""
    if len(origins) <= 32:
        return [haversine_m(o, destination) for o in origins]
    lat = np.fromiter((o.lat for o in origins), np.float64, len(origins))
    lon = np.fromiter((o.lon for o in origins), np.float64, len(origins))
    return haversine_many(lat, lon, destination.lat, destination.lon).tolist()  # type: ignore[no-any-return]


def _route(router: Router, routed: list[tuple[UnitState, LatLon, bool, bool]], destination: LatLon,
           profile: Profile, limit_s: float) -> list[float]:
    """Seconds from each routed unit to `destination` in one router call (inf when unreachable).

    A GPS fix off the road network (`OffNetwork` naming it) is replaced by the unit's station, flagged stale; a
    station off the network makes that unit unreachable. `routed` is updated in place. An off-network incident
    location is the caller's error and propagates.
    """
    def station_instead(i: int) -> LatLon | None:
        unit, origin, _stale, divert = routed[i]
        if origin == unit.station:
            return None
        routed[i] = (unit, unit.station, True, divert)
        return unit.station

    return _times_around_off_network(lambda origins: _times(router, origins, destination, profile, limit_s),
                                     [r[1] for r in routed], station_instead)


def _times_around_off_network(ask: Callable[[list[LatLon]], Any], places: Sequence[LatLon],
                              instead: Callable[[int], LatLon | None]) -> list[float]:
    """Seconds `ask` answers for `places`, asked together (inf when unreachable). A place the router refuses as off
    the road network (`OffNetwork` naming it) is replaced by `instead(its index)`, or left out (inf) when that is
    None, and the question asked again: one wrongly placed unit, station or hospital must not stop a
    recommendation. An error naming another point (the incident's place) propagates."""
    places = list(places)
    live = list(range(len(places)))
    for _ in range(2 * len(places) + 1):  # each place is replaced at most once, then left out
        asked = [places[i] for i in live]
        try:
            times = ask(asked) if asked else []
        except OffNetwork as exc:
            k = _offending(exc, asked)
            if k is None:
                raise
            other = instead(live[k])
            if other is None or other == asked[k]:
                del live[k]
            else:
                places[live[k]] = other
            continue
        out = [math.inf] * len(places)
        for i, t in zip(live, np.asarray(times, dtype=np.float64).tolist(), strict=True):
            out[i] = t
        return out
    raise AssertionError("unreachable: each retry leaves out a place or replaces one for the first time")


def _offending(exc: OffNetwork, origins: Sequence[LatLon]) -> int | None:
    """The index of the point of `origins` (or of any list of points asked about together) an `OffNetwork` error
    names, or None when it names another point."""
    i, lat, lon = exc.detail.get("index"), exc.detail.get("lat"), exc.detail.get("lon")
    if not isinstance(i, int) or not 0 <= i < len(origins):
        return None
    o = origins[i]
    return i if (lat is None or math.isclose(o.lat, float(str(lat)), abs_tol=1e-9)) and (
        lon is None or math.isclose(o.lon, float(str(lon)), abs_tol=1e-9)) else None


def _times(router: Router, origins: Sequence[LatLon], destination: LatLon, profile: Profile,
           limit_s: float) -> list[float]:
    """Seconds from each origin to `destination` (inf when unreachable); no router call when there is no origin."""
    if not origins:
        return []
    times = router.times_to(origins, destination, mode="drive", profile=profile, limit_s=limit_s)
    return np.asarray(times, dtype=np.float64).tolist()  # type: ignore[no-any-return]


class HospitalCandidate(NamedTuple):
    """One hospital considered as destination: ETA from the scene, whether it fits the pathway, and any diversion.

    A named tuple, as `Candidate`: one is made per hospital on every recommendation."""

    hospital_id: int
    name: str
    eta_s: float | None
    capable: bool
    diverted: bool
    diversion_reason: str | None = None


@dataclass(frozen=True, slots=True)
class HospitalRecommendation:
    """The chosen destination (None when no hospital is reachable), the pathway that decided it, and the reasons."""

    hospital_id: int | None
    name: str | None
    eta_s: float | None
    pathway: str | None
    required: frozenset[Capability]
    reasons: tuple[dict[str, str], ...]
    candidates: tuple[HospitalCandidate, ...]


def deciding_pathway(pathways: Iterable[str], policy: DispatchPolicy = DEFAULT_POLICY) -> str | None:
    """The pathway that chooses the destination: the first specialty pathway in the policy's precedence."""
    present = set(pathways)
    return next((p for p in policy.pathway_precedence if p in present and p in policy.pathway_capabilities), None)


def _fastest(cands: Iterable[HospitalCandidate]) -> HospitalCandidate | None:
    """The reachable candidate with the least ETA, ties by hospital id."""
    reachable = [c for c in cands if c.eta_s is not None]
    return min(reachable, key=lambda c: (c.eta_s, c.hospital_id), default=None)


def _hospital_candidates(hospitals: Sequence[HospitalState], etas: Sequence[float], required: frozenset[Capability],
                         now: datetime) -> list[HospitalCandidate]:
    out = []
    for h, eta in zip(hospitals, etas, strict=True):
        capable = h.has_any(required) if required else C.ED in h.capabilities
        diverted = h.is_diverted(now)
        out.append(HospitalCandidate(h.id, h.name, eta if math.isfinite(eta) else None, capable, diverted,
                                     h.diversion_reason if diverted else None))
    out.sort(key=lambda c: (c.eta_s is None, c.eta_s or 0.0, c.hospital_id))
    return out


def _mins(seconds: float) -> str:
    return f"{seconds / 60:.0f}"


def _centre(pathway: str) -> dict[str, str]:
    return CENTRE_NAMES.get(pathway, {"en": f"{pathway} centre", "zh-CN": f"{pathway}专科中心"})


def recommend_hospital(incident: IncidentState, hospitals: Sequence[HospitalState], router: Router, *,
                       now: datetime, policy: DispatchPolicy = DEFAULT_POLICY,
                       from_location: LatLon | None = None) -> HospitalRecommendation:
    """Choose the destination for `incident` from `from_location` (default: the incident) by pathway, ETA, diversion.

    A specialty pathway (STEMI -> PCI 24/7, stroke -> thrombolysis/thrombectomy, poisoning -> poisoning centre,
    major trauma -> trauma level 1-2) goes to the fastest capable centre if it is at most the pathway's allowance
    slower than the fastest ED; otherwise, and without a pathway, to the fastest ED. Diverted hospitals are skipped
    unless every suitable one is diverted. One one-to-many router call; ties break by hospital id.
    """
    pathway = deciding_pathway(incident.pathways, policy)
    required = policy.pathway_capabilities[pathway] if pathway else frozenset()
    etas = _hospital_etas(incident, hospitals, router, policy, from_location or incident.location)
    cands = _hospital_candidates(hospitals, etas, required, now)
    with_ed = {h.id for h in hospitals if C.ED in h.capabilities}
    nearest_ed, ed_reasons = _nearest_ed([c for c in cands if c.hospital_id in with_ed])
    reasons: list[dict[str, str]] = []
    choice = _choose_specialty(cands, pathway, nearest_ed, policy, reasons) if pathway else None
    if choice is None:
        choice = nearest_ed
        reasons += ed_reasons
    if choice is None:
        reasons.append({"en": "no hospital is reachable", "zh-CN": "无可到达的医院"})
        return HospitalRecommendation(None, None, None, pathway, required, tuple(reasons), tuple(cands))
    return HospitalRecommendation(choice.hospital_id, choice.name, choice.eta_s, pathway, required, tuple(reasons),
                                  tuple(cands))


def _hospital_etas(incident: IncidentState, hospitals: Sequence[HospitalState], router: Router,
                   policy: DispatchPolicy, origin: LatLon) -> list[float]:
    """Seconds from `origin` to each hospital (inf when unreachable), on the incident's routing profile. A hospital
    off the road network (`OffNetwork` naming it) is unreachable, and the others are asked again: one wrongly
    placed hospital must not stop every recommendation of its city. An origin off the network propagates."""
    profile = policy.profile_for(incident.priority)
    return _times_around_off_network(lambda places: router.times_from(origin, places, mode="drive", profile=profile),
                                     [h.location for h in hospitals], lambda _i: None)


def _nearest_ed(ed: list[HospitalCandidate]) -> tuple[HospitalCandidate | None, list[dict[str, str]]]:
    """The fastest emergency department not on diversion (or, if all are, the fastest one), with the reasons."""
    best = _fastest(c for c in ed if not c.diverted)
    reasons = []
    if best is None:
        best = _fastest(ed)
        if best is not None:
            reasons.append({"en": "every emergency department is on diversion", "zh-CN": "所有急诊科均在分流中"})
    if best is not None:
        reasons.insert(0, {"en": f"nearest emergency department ({_mins(best.eta_s or 0)} min)",
                           "zh-CN": f"最近的急诊科（约{_mins(best.eta_s or 0)}分钟）"})
    return best, reasons


def _choose_specialty(cands: list[HospitalCandidate], pathway: str, nearest_ed: HospitalCandidate | None,
                      policy: DispatchPolicy, reasons: list[dict[str, str]]) -> HospitalCandidate | None:
    """The fastest capable centre for `pathway` if within its allowance of the nearest ED, else None (with why)."""
    capable = [c for c in cands if c.capable]
    name = _centre(pathway)
    best = _fastest(c for c in capable if not c.diverted)
    if best is None and _fastest(capable) is not None:
        best = _fastest(capable)
        reasons.append({"en": f"every {name['en']} is on diversion", "zh-CN": f"所有{name['zh-CN']}均在分流中"})
    if best is None:
        reasons.append({"en": f"no reachable {name['en']}", "zh-CN": f"无可到达的{name['zh-CN']}"})
        return None
    allowance = policy.allowance_for(pathway)
    extra = (best.eta_s or 0.0) - (nearest_ed.eta_s or 0.0) if nearest_ed is not None else 0.0
    if extra > allowance:
        reasons.append({"en": f"{name['en']} {best.name} is {_mins(extra)} min farther than the nearest ED, "
                              f"beyond the {_mins(allowance)} min allowance",
                        "zh-CN": f"{name['zh-CN']}{best.name}比最近急诊科远{_mins(extra)}分钟，"
                                 f"超出允许的{_mins(allowance)}分钟"})
        return None
    reasons.append({"en": f"{name['en']} ({_mins(best.eta_s or 0)} min, {_mins(max(extra, 0))} min more than the "
                          f"nearest ED; allowance {_mins(allowance)} min)",
                    "zh-CN": f"{name['zh-CN']}（约{_mins(best.eta_s or 0)}分钟，比最近急诊科多"
                             f"{_mins(max(extra, 0))}分钟；允许{_mins(allowance)}分钟）"})
    return best


def queue_order(incidents: Iterable[IncidentState]) -> list[IncidentState]:
    """Waiting calls in service order: priority (1 first), then arrival time, then id."""
    return sorted(incidents, key=lambda i: (i.priority, i.received_at, i.id))


@dataclass(frozen=True, slots=True)
class FreeEstimate:
    """When a busy unit is expected to be free again."""

    unit_id: int
    call_sign: str
    status: UnitStatus
    free_at: datetime


def earliest_free(units: Iterable[UnitState], *, now: datetime, policy: DispatchPolicy = DEFAULT_POLICY,
                  status_since: Mapping[int, datetime] | None = None,
                  incident: IncidentState | None = None) -> list[FreeEstimate]:
    """Busy units by expected free time (earliest first, ties by unit id), for a call that has to wait.

    The expected remaining time comes from the policy by status, minus the time already spent in that status when
    `status_since` gives it (never below zero). With `incident`, only units of a suitable type are listed.
    """
    since = status_since or {}
    out = []
    for u in units:
        if is_available(u.status):
            continue
        if incident and incident.priority in policy.als_required_priorities and u.type is not UnitType.ALS:
            continue
        remaining = policy.expected_remaining_s.get(u.status, 0.0)
        if u.id in since:
            remaining = max(0.0, remaining - (now - since[u.id]).total_seconds())
        out.append(FreeEstimate(u.id, u.call_sign, u.status, now + timedelta(seconds=remaining)))
    out.sort(key=lambda f: (f.free_at, f.unit_id))
    return out
