"""Discrete-event simulation of a city's calls, on the live dispatch rules (pure: no I/O, no wall clock).

Every dispatch decision is `lifechain.dispatch.core.recommend_units`, every destination
`lifechain.dispatch.core.recommend_hospital`, the waiting line `lifechain.dispatch.core.queue_order`, every unit
status change `lifechain.fleet.core.next_status`, every volunteer alert `lifechain.volunteers.core` (see
`first_response`): the functions live dispatch calls, looked up on their modules at call time. Only the clock (the
event heap) and the store (arrays, and where each unit is: `travel.FleetRouter`) differ. Events follow JEMSS: call
arrives, dispatch, mobilised, reaches call, leaves for hospital, reaches hospital, handover done, turnaround done
(free), reaches station. A unit the recommendation offers as a diversion (`DispatchPolicy.redispatch`) is taken when
it is the fastest; the call it leaves goes back to the queue with its time nodes, as live `dispatch_unit(divert=True)`
does.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, Field, model_validator

from lifechain.dispatch import core as dispatch_core
from lifechain.dispatch.protocol import PATHWAYS
from lifechain.errors import Invalid
from lifechain.fleet import core as fleet_core
from lifechain.geo.core import Latitude, LatLon, Longitude
from lifechain.hospitals.core import Capability, HospitalState
from lifechain.keys import INT64_MAX
from lifechain.planning.first_response import DAY_S, INPUT, VARIANTS, FirstResponse, VolunteersIn, WalkRouter
from lifechain.planning.travel import FleetRouter, MatrixRouter, Moving
from lifechain.timeline.core import EventKind

FloatArray = npt.NDArray[np.float64]
S = fleet_core.UnitStatus

# Per-call time nodes, in seconds from the start of the run (NaN when the call never reached the node).
NODES: tuple[EventKind, ...] = (
    EventKind.PSAP_CALL, EventKind.UNIT_NOTIFIED, EventKind.UNIT_EN_ROUTE, EventKind.UNIT_ON_SCENE,
    EventKind.LEFT_SCENE, EventKind.AT_DESTINATION, EventKind.DESTINATION_TRANSFER_OF_CARE,
    EventKind.UNIT_BACK_IN_SERVICE, EventKind.ARREST, EventKind.FIRST_CPR, EventKind.FIRST_DEFIBRILLATION)
COL = {k: i for i, k in enumerate(NODES)}


# ------------------------------------------------------------------------------------------------ scenario model


# Bounds of a scenario's times: beyond them a scenario is a mistake, and the clock arithmetic would overflow.
WEEK_S = 7 * DAY_S
MAX_DAYS = 3660.0  # ten years
MAX_WEIGHT = 1e12  # a demand point's weight, a profile's or a priority's relative weight: finite sums
Hour = Annotated[float, Field(ge=0, le=24)]
RelativeWeight = Annotated[float, Field(ge=0, le=MAX_WEIGHT)]


class Dist(BaseModel):
    """A duration distribution in seconds: fixed, exponential, lognormal, gamma or Weibull (by mean and sd/shape)."""

    model_config = INPUT
    kind: Literal["fixed", "exponential", "lognormal", "gamma", "weibull"] = "fixed"
    mean: float = Field(0.0, ge=0, le=WEEK_S)
    sd: float = Field(0.0, ge=0, le=WEEK_S)
    shape: float = Field(1.0, gt=0, le=1000)

    def sample(self, rng: np.random.Generator) -> float:
        """One draw (seconds, never negative)."""
        if self.kind == "fixed" or self.mean == 0:
            return self.mean
        if self.kind == "exponential":
            return float(rng.exponential(self.mean))
        if self.kind == "lognormal":
            s2 = math.log(1 + (self.sd / self.mean) ** 2)
            return float(rng.lognormal(math.log(self.mean) - s2 / 2, math.sqrt(s2)))
        if self.kind == "gamma":
            k = (self.mean / self.sd) ** 2 if self.sd > 0 else self.shape
            return float(rng.gamma(k, self.mean / k))
        return float(self.mean / math.gamma(1 + 1 / self.shape) * rng.weibull(self.shape))


class ScenarioStation(BaseModel):
    """A station of the scenario."""

    model_config = INPUT
    id: int = Field(ge=0, le=INT64_MAX)
    name: str = ""
    lat: Latitude
    lon: Longitude


class ScenarioUnit(BaseModel):
    """An ambulance of the scenario, its station and its shifts (hours of day [start, end); empty = always on)."""

    model_config = INPUT
    id: int = Field(ge=0, le=INT64_MAX)
    call_sign: str = ""
    station: int = Field(ge=0, le=INT64_MAX)
    type: fleet_core.UnitType = fleet_core.UnitType.ALS
    shifts: list[tuple[Hour, Hour]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> ScenarioUnit:
        if any(a == b for a, b in self.shifts):
            raise ValueError("a shift needs different start and end hours (an end before the start ends the next "
                             "day, e.g. [20, 8]; leave shifts empty for a unit always on duty)")
        return self


def on_shift(shifts: Sequence[tuple[float, float]], hour: float) -> bool:
    """True when an hour of the day (0 <= hour < 24) falls in one of the shifts [start, end), a shift that ends
    before it starts running past midnight; no shifts: always on duty."""
    return not shifts or any(a <= hour < b if a < b else hour >= a or hour < b for a, b in shifts)


class ScenarioHospital(BaseModel):
    """A receiving hospital of the scenario."""

    model_config = INPUT
    id: int = Field(ge=0, le=INT64_MAX)
    name: str = ""
    lat: Latitude
    lon: Longitude
    capabilities: list[Capability] = Field(default_factory=lambda: [Capability.ED])


class PointIn(BaseModel):
    """A demand point (a population cell or a weighted place) and its area name for summaries."""

    model_config = INPUT
    lat: Latitude
    lon: Longitude
    weight: RelativeWeight = 1.0
    area: str = "all"


class ReplayedCall(BaseModel):
    """A historical call to replay: seconds from the scenario start, the demand point it happened at, its triage."""

    model_config = INPUT
    t: float = Field(ge=0, le=MAX_DAYS * DAY_S)
    point: int = Field(ge=0, le=INT64_MAX)
    priority: int = Field(1, ge=1, le=4)
    arrest: bool = False
    pathways: list[str] = Field(default_factory=list)


class CallsIn(BaseModel):
    """Call generation: Poisson with an hour-of-day x weekday profile, or replayed; priorities and pathways by
    probability (Poisson) or as recorded (replay)."""

    model_config = INPUT
    rate_per_day: float = Field(0.0, ge=0, le=1_000_000)
    replay_file: str | None = None
    replayed: list[ReplayedCall] = Field(default_factory=list)
    hourly_profile: list[RelativeWeight] = Field(default_factory=lambda: [1.0] * 24)
    weekday_profile: list[RelativeWeight] = Field(default_factory=lambda: [1.0] * 7)
    priorities: dict[Annotated[int, Field(ge=1, le=4)], RelativeWeight] = Field(default_factory=lambda: {1: 1.0})
    pathways: dict[str, Annotated[float, Field(ge=0, le=1)]] = Field(default_factory=dict)  # probability of each
    arrest_share: float = Field(0.0, ge=0, le=1)

    @model_validator(mode="after")
    def _check(self) -> CallsIn:
        if self.rate_per_day <= 0 and not (self.replay_file or self.replayed):
            raise ValueError("calls need a positive rate_per_day or a replay_file")
        if len(self.hourly_profile) != 24 or len(self.weekday_profile) != 7:
            raise ValueError("hourly_profile needs 24 values and weekday_profile 7")
        if max(self.hourly_profile) <= 0 or max(self.weekday_profile) <= 0:
            raise ValueError("profiles need at least one positive hour and one positive weekday")
        if sum(self.priorities.values()) <= 0:
            raise ValueError("priorities must be a probability (or a relative weight) per priority 1-4, "
                             "at least one of them positive")
        return self


class DurationsIn(BaseModel):
    """Every duration of a call's life as a distribution (seconds)."""

    model_config = INPUT
    dispatch_delay: Dist = Field(default_factory=Dist)
    mobilisation: Dist = Field(default_factory=Dist)
    on_scene: Dist = Field(default_factory=lambda: Dist(kind="exponential", mean=720))
    transport_probability: float = Field(0.8, ge=0, le=1)
    handover: Dist = Field(default_factory=lambda: Dist(kind="exponential", mean=720))
    turnaround: Dist = Field(default_factory=Dist)


class TravelIn(BaseModel):
    """How travel times are obtained: a city's router, straight line at a speed with a detour factor, or zero."""

    model_config = INPUT
    kind: Literal["city", "straight", "zero"] = "straight"
    city: str | None = None
    speed_kmh: float = Field(40.0, ge=1, le=300)
    regular_speed_kmh: float = Field(30.0, ge=1, le=300)
    detour: float = Field(1.3, ge=1, le=10)


class ArrestIn(BaseModel):
    """Cardiac arrest care: collapse-to-call delay, bystander CPR, EMS times to CPR and shock, survival models."""

    model_config = INPUT
    collapse_to_call_s: float = Field(120.0, ge=0, le=DAY_S)
    bystander_cpr_probability: float = Field(0.4, ge=0, le=1)
    bystander_cpr_delay_s: float = Field(120.0, ge=0, le=DAY_S)
    ems_cpr_after_arrival_s: float = Field(60.0, ge=0, le=DAY_S)
    ems_shock_after_arrival_s: float = Field(120.0, ge=0, le=DAY_S)
    # Larsen et al. 1993 (Ann Emerg Med 22:1652): 67% - 2.3%/min to CPR - 1.1%/min to shock - 2.1%/min to ACLS.
    larsen: tuple[float, float, float, float] = (0.67, 0.023, 0.011, 0.021)
    # De Maio et al. 2003 (Ann Emerg Med 42:242): 1 / (1 + exp(a + b t)), t = call to vehicle stopped, minutes.
    de_maio: tuple[float, float] = (0.679, 0.262)
    # Valenzuela et al. 1997 (Circulation 96:3308): 1 / (1 + exp(-a + b t_CPR + c t_shock)), minutes from collapse.
    valenzuela: tuple[float, float, float] = (0.260, 0.106, 0.139)


class Scenario(BaseModel):
    """A planning scenario: a city, its stations, units, hospitals, demand, call generation and policies."""

    model_config = INPUT
    name: str
    description: str = ""
    seed: int = Field(0, ge=0, le=INT64_MAX)  # numpy's SeedSequence takes no negative seed
    start: datetime = datetime(2026, 1, 5)  # a Monday  # noqa: DTZ001
    timezone: str = "UTC"  # of `start`, the hourly profile, shifts and AED opening hours (IANA name)
    days: float = Field(7.0, gt=0, le=MAX_DAYS)
    targets_min: list[Annotated[float, Field(gt=0, le=24 * 60)]] = Field(default_factory=lambda: [8.0, 12.0])
    stations: list[ScenarioStation]
    units: list[ScenarioUnit]
    hospitals: list[ScenarioHospital] = Field(default_factory=list)
    demand: list[PointIn]
    calls: CallsIn
    durations: DurationsIn = Field(default_factory=DurationsIn)
    travel: TravelIn = Field(default_factory=TravelIn)
    arrest: ArrestIn = Field(default_factory=ArrestIn)
    dispatch_policy: dict[str, Any] = Field(default_factory=dict)
    volunteers: VolunteersIn | None = None

    @model_validator(mode="after")
    def _check(self) -> Scenario:
        for what, items in (("station", self.stations), ("unit", self.units), ("hospital", self.hospitals)):
            twice = sorted(i for i, n in Counter(x.id for x in items).items() if n > 1)
            if twice:  # the simulation keys them by id: a second one would silently replace the first
                raise ValueError(f"{what} ids must be unique: {twice} appear more than once")
        ids = {s.id for s in self.stations}
        bad = [u.id for u in self.units if u.station not in ids]
        if bad:
            raise ValueError(f"units {bad} name a station that is not in the scenario")
        if not self.units or not self.demand:
            raise ValueError("a scenario needs at least one unit and one demand point")
        if self.durations.transport_probability > 0 and not self.hospitals:
            raise ValueError("transport_probability > 0 needs at least one hospital")
        if self.calls.rate_per_day > 0 and not sum(p.weight for p in self.demand) > 0:
            raise ValueError("Poisson calls need at least one demand point with a positive weight")
        far = [c.point for c in self.calls.replayed if c.point >= len(self.demand)]
        if far:
            raise ValueError(f"replayed calls name demand points {far[:5]} beyond the {len(self.demand)} given")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {self.timezone!r}") from exc
        try:
            policy = self.policy()
        except Invalid as exc:  # a ValueError is what pydantic reports as a validation error of this model
            raise ValueError(exc.message) from exc
        self._check_pathways(set(PATHWAYS) | set(policy.pathway_capabilities))
        return self

    def _check_pathways(self, known: set[str]) -> None:
        """Refuse a pathway neither the live triage protocol nor the scenario's dispatch policy knows: dispatch would
        ignore it, and a misspelt "storke" would quietly send strokes to the nearest ED."""
        named = [("calls.pathways", list(self.calls.pathways))]
        named += [(f"replayed call {n}", call.pathways) for n, call in enumerate(self.calls.replayed, start=1)]
        for where, pathways in named:
            if unknown := sorted(set(pathways) - known):
                raise ValueError(f"{where}: unknown pathway {', '.join(map(repr, unknown))}; the live triage "
                                 f"protocol's are {', '.join(PATHWAYS)} (dispatch_policy.pathway_capabilities may "
                                 "add more)")

    def aware_start(self) -> datetime:
        """The start as an aware UTC instant (a naive `start` is wall-clock time in `timezone`)."""
        start = self.start if self.start.tzinfo else self.start.replace(tzinfo=ZoneInfo(self.timezone))
        return start.astimezone(UTC)

    def policy(self) -> dispatch_core.DispatchPolicy:
        """The dispatch policy with this scenario's settings (checked when the scenario is)."""
        return dispatch_core.DispatchPolicy.from_mapping(self.dispatch_policy)


# ------------------------------------------------------------------------------------------------ the simulation

MAX_CASCADE = 4  # diversions one new call may set off in a row (a call that lost its unit may take another's)


@dataclass
class _Unit:
    """A simulated ambulance: its live state (as dispatch sees it) and the bookkeeping the simulation needs.

    Its leg: it left place `left` at `left_at` (or will reach it then, when ahead) for place `to`, reached at
    `to_at` (places of the matrix router; a unit standing still has left == to)."""

    state: fleet_core.UnitState
    shifts: list[tuple[float, float]]
    home: int
    left: int
    to: int
    left_at: float = 0.0
    to_at: float = 0.0
    busy_s: float = 0.0
    busy_since: float | None = None
    trip: int = 0  # bumped on every dispatch and diversion: events of an older trip are void
    call: int | None = None
    hospital: int | None = None
    going_off: bool = False
    where: Moving | None = None  # the leg as a position for dispatch, made on first need

    def stay(self, place: int, t: float) -> None:
        """The unit stands at `place` from `t`."""
        self.go(place, t, place, t)

    def go(self, frm: int, frm_at: float, to: int, to_at: float) -> None:
        """The unit is on its way from `frm` (left at, or reached at, `frm_at`) to `to`, reached at `to_at`."""
        self.left, self.left_at, self.to, self.to_at = frm, frm_at, to, to_at
        self.where = None


@dataclass
class RunResult:
    """One replication: per-call time nodes (seconds from start), call attributes, unit utilisation, queue waits."""

    times: FloatArray
    priority: npt.NDArray[np.int64]
    area: list[str]
    arrest: npt.NDArray[np.bool_]
    queued: npt.NDArray[np.bool_]
    transported: npt.NDArray[np.bool_]
    unit: npt.NDArray[np.int64]
    utilisation: dict[int, float]
    horizon_s: float
    arrest_variants: dict[str, FloatArray] = field(default_factory=dict)  # name -> calls x (first CPR, first shock)
    extra: dict[str, float] = field(default_factory=dict)
    cell: npt.NDArray[np.int64] | None = None  # the demand point of each call
    diverted: npt.NDArray[np.bool_] | None = None  # the call lost its unit to a diversion (at least once)
    redispatches: int = 0  # diversions in the run


def _arrivals(sc: Scenario, rng: np.random.Generator) -> FloatArray:
    """Call arrival times by thinning a Poisson process with the hour-of-day x weekday profile."""
    hp, wp = np.asarray(sc.calls.hourly_profile), np.asarray(sc.calls.weekday_profile)
    shape = np.outer(wp, hp)  # weekday x hour
    shape = shape / shape.mean()
    peak = sc.calls.rate_per_day / 86400.0 * shape.max()
    horizon = sc.days * 86400.0
    n = rng.poisson(peak * horizon)
    t = np.sort(rng.uniform(0, horizon, n))
    start_wd, start_h = sc.start.weekday(), sc.start.hour + sc.start.minute / 60
    hours = (t / 3600.0 + start_h).astype(np.int64)
    keep = rng.uniform(0, shape.max(), n) < shape[(start_wd + hours // 24) % 7, hours % 24]
    return np.asarray(t[keep], dtype=np.float64)


def _choice(rng: np.random.Generator, probs: Mapping[Any, float], n: int) -> list[Any]:
    """n draws from a categorical distribution given as {value: probability}."""
    keys = list(probs)
    p = np.asarray([probs[k] for k in keys], dtype=float)
    if p.sum() <= 0:
        raise Invalid("probabilities must sum to a positive number")
    return [keys[i] for i in rng.choice(len(keys), size=n, p=p / p.sum())]


def walking_router(sc: Scenario, router: MatrixRouter) -> Any:
    """The router volunteers walk on: the city's (its walking network, as live alerting) when the scenario travels
    on a city that has one, else straight line x the scenario's detour at the policy's network walking speed."""
    if sc.volunteers is None:
        return None
    if sc.travel.kind == "city":
        source = router.source
        if source is None:
            raise Invalid("a city scenario's matrix router needs its source router attached (planning.flows does)")
        try:
            source.snap([router.places[0]], mode="walk", strict=False)
            return source
        except Invalid:
            pass  # the city has no walking network
    return WalkRouter("planning", sc.volunteers.alert_policy().network_walk_speed_mps, sc.volunteers.walk_detour)


def simplifications(sc: Scenario, router: MatrixRouter | None = None) -> list[str]:
    """The simplifications of this scenario's model that remain, in words (for the report and the JSON result)."""
    travel = {"city": "travel times from the city's road network (the geo router), the same at every hour",
              "straight": f"travel along the straight line x {sc.travel.detour:g} at {sc.travel.speed_kmh:g} km/h "
                          f"(emergency) and {sc.travel.regular_speed_kmh:g} km/h (regular), no road network",
              "zero": "travel takes no time"}[sc.travel.kind]
    out = [
        f"Travel: {travel}; no traffic by time of day and no random delays.",
        "Calls happen at demand points (population cells), not at exact addresses; one unit per call.",
        "A unit between two places (returning, on its way to a call) is timed to a new call by the better of going "
        "back to the place it left or on to the place it heads for, then on: an upper bound on its true time, "
        "exact at both ends.",
        "The dispatcher always takes the fastest unit the live recommendation offers, a diversion included, with no "
        "delay beyond the dispatch delay; an assigned unit is not swapped for one that frees up nearer later.",
        "Waiting calls are served in the live queue order, and one that no free unit may take (it needs ALS and "
        "only BLS is free) lets the later ones go first.",
        "No call is cancelled or upgraded; hospitals never go on diversion; handover is a duration, not a queue; "
        "a unit due off shift finishes its call first.",
        "Cardiac arrests: bystander CPR by probability; EMS CPR and shock at fixed delays after arrival.",
    ]
    if sc.volunteers is not None:
        walking = "the city's walking network" if router is not None and router.source is not None and \
            not isinstance(walking_router(sc, router), WalkRouter) else \
            f"the straight line x {sc.volunteers.walk_detour:g}"
        out.append(
            "Volunteers: one on-duty population per replication, a spatial Poisson process (density by the area of "
            "the nearest demand point), the same density at every hour; each stays at their place between "
            f"responses; they walk along {walking}; each answers after an exponential delay and accepts with a fixed "
            "probability; one who accepted is not alertable until the response is stood down (the live rule) and "
            "leaves other alerts unanswered meanwhile; AEDs are ready and open by their hours; volunteers and "
            "volunteers with AEDs are separate worlds run on the same random numbers.")
    return out


class Simulation:
    """One replication of a scenario on a precomputed router, driven by an event heap (time, sequence, event)."""

    def __init__(self, sc: Scenario, router: MatrixRouter, rng: np.random.Generator) -> None:
        self.sc, self.router, self.rng = sc, router, rng
        self.fleet = FleetRouter(router)
        self.policy = sc.policy()
        self.routed = frozenset({S.AVAILABLE_RETURNING}) | (self.policy.redispatch_statuses
                                                            if self.policy.redispatch else frozenset())
        self.start = sc.start
        self._now = (0.0, sc.start)
        self.heap: list[tuple[float, int, str, int, int]] = []
        self.seq = 0
        stations = {s.id: LatLon(s.lat, s.lon) for s in sc.stations}
        self.units: dict[int, _Unit] = {}
        for u in sc.units:
            home = router.place(stations[u.station])
            self.units[u.id] = _Unit(fleet_core.UnitState(
                id=u.id, call_sign=u.call_sign or f"U{u.id}", type=u.type, status=S.AVAILABLE_AT_STATION,
                station=stations[u.station], position=stations[u.station], position_at=sc.start), list(u.shifts),
                home=home, left=home, to=home)
        self.hospitals = [HospitalState(id=h.id, name=h.name or f"H{h.id}", location=LatLon(h.lat, h.lon),
                                        capabilities=frozenset(h.capabilities)) for h in sc.hospitals]
        self.hospital_place = {h.id: router.place(h.location) for h in self.hospitals}
        self.cells = [LatLon(p.lat, p.lon) for p in sc.demand]
        self.cell_place = [router.place(c) for c in self.cells]
        self.waiting: dict[int, dispatch_core.IncidentState] = {}
        self.redispatches = 0
        self._generate()
        self.first_response = None if sc.volunteers is None else FirstResponse(
            sc.volunteers, seed=self.vol_seed, start=sc.aware_start(), router=walking_router(sc, router),
            demand=[(p.lat, p.lon, p.area) for p in sc.demand], timezone=sc.timezone)

    # -- set-up
    def _generate(self) -> None:
        sc, rng = self.sc, self.rng
        if sc.calls.replayed:
            self._replay()
        else:
            self._poisson()
        n = len(self.arrival)
        self.transport = rng.uniform(size=n) < sc.durations.transport_probability
        self.times = np.full((n, len(NODES)), np.nan)
        self.times[:, COL[EventKind.PSAP_CALL]] = self.arrival
        self.queued = np.zeros(n, dtype=bool)
        self.diverted = np.zeros(n, dtype=bool)
        self.unit_of = np.full(n, -1, dtype=np.int64)
        self.incident: list[dispatch_core.IncidentState | None] = [None] * n
        self.vol_seed = int(rng.integers(2**62))  # drawn always, so volunteers on/off share every other number
        self.eta_at = np.full(n, np.nan)  # earliest ambulance ETA given to a call (live: on unit notified)
        names = ["ems"] + (list(VARIANTS) if sc.volunteers else [])
        self.variants = {v: np.full((n, 2), np.nan) for v in names}
        for i, t in enumerate(self.arrival):
            self._push(float(t + sc.durations.dispatch_delay.sample(rng)), "dispatch", i)
        for uid, u in self.units.items():
            self._schedule_shifts(uid, u)

    def _poisson(self) -> None:
        """Arrivals, places, priorities, arrests and pathways drawn from the scenario's distributions."""
        sc, rng = self.sc, self.rng
        self.arrival = _arrivals(sc, rng)
        n = len(self.arrival)
        w = np.asarray([p.weight for p in sc.demand], dtype=float)
        self.cell = rng.choice(len(self.cells), size=n, p=w / w.sum())
        self.priority = np.asarray(_choice(rng, sc.calls.priorities, n), dtype=np.int64)
        self.is_arrest = rng.uniform(size=n) < sc.calls.arrest_share
        names = list(sc.calls.pathways)
        probs = np.asarray([sc.calls.pathways[k] for k in names], dtype=float)
        self.pathways = [frozenset(names[j] for j in np.flatnonzero(r)) for r in
                         (rng.uniform(size=(n, len(names))) < probs)] if names else [frozenset()] * n

    def _replay(self) -> None:
        """Arrivals, places, priorities, arrests and pathways as recorded (calls beyond the horizon are left out)."""
        calls = sorted((c for c in self.sc.calls.replayed if c.t < self.sc.days * 86400.0), key=lambda c: c.t)
        self.arrival = np.asarray([c.t for c in calls], dtype=np.float64)
        self.cell = np.asarray([c.point for c in calls], dtype=np.int64)
        self.priority = np.asarray([c.priority for c in calls], dtype=np.int64)
        self.is_arrest = np.asarray([c.arrest for c in calls], dtype=bool)
        self.pathways = [frozenset(c.pathways) for c in calls]

    def _schedule_shifts(self, uid: int, u: _Unit) -> None:
        """Off/on events for the unit's shifts over the horizon (a unit off duty finishes its call first)."""
        if not u.shifts:
            return
        horizon = self.sc.days * 86400.0
        h0 = self._hour_of_day(0.0) * 3600.0
        if not on_shift(u.shifts, h0 / 3600.0):
            self._push(0.0, "off", uid)
        for day in range(int(self.sc.days) + 2):
            for a, b in u.shifts:
                for t, kind in ((day * 86400 + a * 3600 - h0, "on"), (day * 86400 + b * 3600 - h0, "off")):
                    if 0 < t < horizon:
                        self._push(t, kind, uid)

    def _push(self, t: float, kind: str, ref: int, token: int = 0) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (t, self.seq, kind, ref, token))

    def now(self, t: float) -> datetime:
        """The simulation clock as a datetime."""
        if t != self._now[0]:
            self._now = (t, self.start + timedelta(0, t))
        return self._now[1]

    # -- unit state
    def _set(self, uid: int, status: fleet_core.UnitStatus, t: float, *, position: LatLon | None = None,
             call: int | None = None, priority: int | None = None) -> None:
        """Move a unit through the live state machine (raises on an illegal move) and track its busy time."""
        u = self.units[uid]
        new = fleet_core.next_status(u.state.status, status)
        busy = not fleet_core.is_available(new) and new is not S.OUT_OF_SERVICE
        if busy and u.busy_since is None:
            u.busy_since = t
        elif not busy and u.busy_since is not None:
            u.busy_s += t - u.busy_since
            u.busy_since = None
        u.state = fleet_core.UnitState(
            id=u.state.id, call_sign=u.state.call_sign, type=u.state.type, status=new, station=u.state.station,
            position=position or u.state.position, position_at=self.now(t), incident_id=call,
            incident_priority=priority)

    def _states(self, t: float) -> list[fleet_core.UnitState]:
        """Every unit as dispatch sees it at `t`; one that may be routed while on a leg (returning, or diverted) is
        reported on that leg (`Moving`, which `FleetRouter` times), with a fresh fix: the simulation knows where it is.
        """
        now: datetime | None = None
        out = []
        for u in self.units.values():
            s = u.state
            if s.status in self.routed:
                if u.where is None:
                    at = self.router.places[u.left]
                    u.where = Moving(at.lat, at.lon, u.left, u.left_at, u.to, u.to_at)
                now = now or self.now(t)
                s = fleet_core.UnitState(s.id, s.call_sign, s.type, s.status, s.station, u.where, now, s.incident_id,
                                         s.incident_priority)
            out.append(s)
        return out

    # -- the event loop
    def run(self) -> RunResult:
        """Process every event in time order and return the per-call results."""
        handlers = {"dispatch": self._on_dispatch, "mobilised": self._on_mobilised, "at_call": self._on_at_call,
                    "leave_scene": self._on_leave_scene, "at_hospital": self._on_at_hospital,
                    "free": self._on_free, "cleared": self._on_cleared, "at_station": self._on_at_station,
                    "on": self._on_shift_on, "off": self._on_shift_off, "vol_answer": self._on_vol_answer,
                    "vol_tick": self._on_vol_tick, "vol_arrive": self._on_vol_arrive, "vol_stop": self._on_vol_stop}
        end = self.sc.days * 86400.0
        last = 0.0
        while self.heap:
            t, _, kind, ref, token = heapq.heappop(self.heap)
            last = t
            handlers[kind](t, ref, token)
        horizon = max(end, last)
        for u in self.units.values():
            if u.busy_since is not None:
                u.busy_s += horizon - u.busy_since
        fr = self.first_response
        return RunResult(times=self.times, priority=self.priority,
                         area=[self.sc.demand[c].area for c in self.cell], arrest=self.is_arrest,
                         queued=self.queued, transported=self.transport & (self.unit_of >= 0), unit=self.unit_of,
                         utilisation={uid: u.busy_s / horizon for uid, u in self.units.items()}, horizon_s=horizon,
                         arrest_variants=self.variants if fr else {},
                         extra={**fr.counts, "aeds_off_network": float(fr.aeds_off_network)} if fr else {},
                         cell=np.asarray(self.cell, dtype=np.int64), diverted=self.diverted,
                         redispatches=self.redispatches)

    def _on_dispatch(self, t: float, i: int, _token: int) -> None:
        inc = dispatch_core.IncidentState(id=i, location=self.cells[self.cell[i]], priority=int(self.priority[i]),
                                          pathways=self.pathways[i], received_at=self.now(float(self.arrival[i])))
        self.incident[i] = inc
        if not self._try_dispatch(t, inc):
            self.queued[i] = True
            self.waiting[i] = inc
        if self.is_arrest[i] and self.first_response is not None:
            eta_at = float(self.eta_at[i]) if math.isfinite(self.eta_at[i]) else None
            self._push_vol(self.first_response.start(i, self.cells[self.cell[i]], t, eta_at))

    def _try_dispatch(self, t: float, inc: dispatch_core.IncidentState, depth: int = 0) -> bool:
        """Ask the live `recommend_units` and send the fastest unit it offers, a diversion included when the
        redispatch table allows one and it is faster than every free unit; False when none can go."""
        self.fleet.now_s = t
        rec = dispatch_core.recommend_units(inc, self._states(t), self.fleet, now=self.now(t), policy=self.policy)
        choice = rec.best if rec.best is not None and rec.best.eta_s is not None else None
        divert = False
        if rec.redispatch and depth < MAX_CASCADE:
            option = rec.redispatch[0]
            if option.eta_s is not None and (choice is None or option.eta_s < (choice.eta_s or 0.0)):
                choice, divert = option, True
        if choice is None or choice.eta_s is None:
            return False
        self._send(t, inc, choice, divert=divert, depth=depth)
        return True

    def _send(self, t: float, inc: dispatch_core.IncidentState, choice: dispatch_core.Candidate, *, divert: bool,
              depth: int) -> None:
        """Dispatch the chosen unit (from where it is), taking it off its call first when it is a diversion."""
        i, uid, eta = inc.id, choice.unit_id, float(choice.eta_s or 0.0)
        u = self.units[uid]
        if isinstance(choice.origin, Moving):  # between places: no mobilisation, it sets off through `frm`
            profile = self.policy.profile_for(inc.priority)
            frm, frm_at = self.fleet.via(choice.origin, inc.location, profile, eta)
            mob = 0.0
        else:
            frm = self.router.place(choice.origin) if choice.origin is not None else u.home
            mob = self.sc.durations.mobilisation.sample(self.rng) if u.state.status is S.AVAILABLE_AT_STATION \
                else 0.0
            frm_at = t + mob
        left = self._divert(uid, t) if divert else None
        self._set(uid, S.DISPATCHED, t, call=i, priority=inc.priority)
        u.call, u.trip = i, u.trip + 1
        u.go(frm, frm_at, self.cell_place[self.cell[i]], t + mob + eta)
        self.unit_of[i] = uid
        if math.isnan(self.times[i, COL[EventKind.UNIT_NOTIFIED]]):
            self.times[i, COL[EventKind.UNIT_NOTIFIED]] = t
        self._push(t + mob, "mobilised", uid, u.trip)
        if self.is_arrest[i] and (math.isnan(self.eta_at[i]) or t + eta < self.eta_at[i]):  # live keeps the earliest
            self.eta_at[i] = t + eta
            if self.first_response is not None:
                self._push_vol(self.first_response.unit_notified(i, t, t + eta))
        if left is not None:  # the call the unit left goes back to the queue, or takes another unit now
            old = self.incident[left]
            assert old is not None
            if not self._try_dispatch(t, old, depth + 1):
                self.queued[left] = True
                self.waiting[left] = old

    def _divert(self, uid: int, t: float) -> int:
        """Take a dispatched or en-route unit off its call (live `_divert`: it is available, its call unattended)."""
        u = self.units[uid]
        left = u.call
        assert left is not None
        self._set(uid, S.AVAILABLE_RETURNING, t)
        u.call, u.trip = None, u.trip + 1
        self.unit_of[left] = -1
        self.diverted[left] = True
        self.redispatches += 1
        return left

    def _on_mobilised(self, t: float, uid: int, trip: int) -> None:
        u = self.units[uid]
        if trip != u.trip:
            return
        i = u.call
        assert i is not None
        self._set(uid, S.EN_ROUTE, t, call=i, priority=u.state.incident_priority)
        if math.isnan(self.times[i, COL[EventKind.UNIT_EN_ROUTE]]):
            self.times[i, COL[EventKind.UNIT_EN_ROUTE]] = t
        self._push(u.to_at, "at_call", uid, u.trip)

    def _on_at_call(self, t: float, uid: int, trip: int) -> None:
        u = self.units[uid]
        i = u.call
        if trip != u.trip or i is None:
            return
        self._set(uid, S.ON_SCENE, t, position=self.cells[self.cell[i]], call=i, priority=u.state.incident_priority)
        u.stay(self.cell_place[self.cell[i]], t)
        self.times[i, COL[EventKind.UNIT_ON_SCENE]] = t
        if self.is_arrest[i]:
            self._arrest_care(i, t)
        self._push(t + self.sc.durations.on_scene.sample(self.rng), "leave_scene", uid, u.trip)

    def _arrest_care(self, i: int, ems_at: float) -> None:
        """Collapse, CPR and shock times of an arrest: bystander CPR by chance, otherwise EMS; volunteers are stood
        down (live: EMS on scene) and whoever of them arrived first counts."""
        a = self.sc.arrest
        collapse = float(self.arrival[i]) - a.collapse_to_call_s
        cpr = ems_at + a.ems_cpr_after_arrival_s
        if self.rng.uniform() < a.bystander_cpr_probability:
            cpr = min(cpr, collapse + a.bystander_cpr_delay_s)
        shock = ems_at + a.ems_shock_after_arrival_s
        self.times[i, COL[EventKind.ARREST]] = collapse
        self.variants["ems"][i] = (cpr, shock)
        if self.first_response is not None:
            self.first_response.stop(i, ems_at)
            (bare_cpr, _), (vol_cpr, vol_shock) = self.first_response.outcome(i)
            self.variants[VARIANTS[0]][i] = (min(cpr, bare_cpr), shock)
            self.variants[VARIANTS[1]][i] = cpr, shock = (min(cpr, vol_cpr), min(shock, vol_shock))
        self.times[i, COL[EventKind.FIRST_CPR]] = cpr
        self.times[i, COL[EventKind.FIRST_DEFIBRILLATION]] = shock

    def _on_leave_scene(self, t: float, uid: int, trip: int) -> None:
        u = self.units[uid]
        i = u.call
        if trip != u.trip or i is None:
            return
        inc = self.incident[i]
        assert inc is not None
        self.times[i, COL[EventKind.LEFT_SCENE]] = t
        if self.transport[i] and self.hospitals:
            rec = dispatch_core.recommend_hospital(inc, self.hospitals, self.fleet, now=self.now(t),
                                                   policy=self.policy)
            if rec.hospital_id is not None and rec.eta_s is not None:
                self._set(uid, S.TRANSPORTING, t, call=i, priority=inc.priority)
                u.hospital = self.hospital_place[rec.hospital_id]
                u.go(self.cell_place[self.cell[i]], t, u.hospital, t + rec.eta_s)
                self._push(t + rec.eta_s, "at_hospital", uid, u.trip)
                return
        self.transport[i] = False
        self._release(uid, t, self.cell_place[self.cell[i]])

    def _on_at_hospital(self, t: float, uid: int, trip: int) -> None:
        u = self.units[uid]
        if trip != u.trip or u.call is None or u.hospital is None:
            return
        self._set(uid, S.AT_HOSPITAL, t, position=self.router.places[u.hospital], call=u.call,
                  priority=u.state.incident_priority)
        u.stay(u.hospital, t)
        self.times[u.call, COL[EventKind.AT_DESTINATION]] = t
        self._push(t + self.sc.durations.handover.sample(self.rng), "free", uid, u.trip)

    def _on_free(self, t: float, uid: int, trip: int) -> None:
        """Handover done; the crew turns the unit around at the hospital before it is available."""
        u = self.units[uid]
        if trip != u.trip or u.call is None:
            return
        self.times[u.call, COL[EventKind.DESTINATION_TRANSFER_OF_CARE]] = t
        self._push(t + self.sc.durations.turnaround.sample(self.rng), "cleared", uid, u.trip)

    def _on_cleared(self, t: float, uid: int, trip: int) -> None:
        u = self.units[uid]
        if trip != u.trip or u.hospital is None:
            return
        self._release(uid, t, u.hospital)

    def _release(self, uid: int, t: float, where: int) -> None:
        """The unit clears its call where it is (scene or hospital) and heads home; on the way it can take a call,
        timed from where it is on that way."""
        u = self.units[uid]
        assert u.call is not None
        self.times[u.call, COL[EventKind.UNIT_BACK_IN_SERVICE]] = t
        u.call = None
        self._set(uid, S.AVAILABLE_RETURNING, t, position=self.router.places[where])
        back = self.router.time(where, u.home, "regular")
        back = back if math.isfinite(back) else 0.0
        u.go(where, t, u.home, t + back)
        self._push(t + back, "at_station", uid, u.trip)
        if not u.going_off:
            self._serve_queue(t)

    def _on_at_station(self, t: float, uid: int, trip: int) -> None:
        u = self.units[uid]
        if trip != u.trip or u.state.status is not S.AVAILABLE_RETURNING:
            return  # dispatched again on the way home
        self._set(uid, S.AVAILABLE_AT_STATION, t, position=u.state.station)
        u.stay(u.home, t)
        if u.going_off:
            self._set(uid, S.OUT_OF_SERVICE, t)
            u.going_off = False

    def _serve_queue(self, t: float) -> None:
        """Waiting calls in the live `queue_order`, each offered the best unit. A call no free unit may take (a
        priority 1 call needing ALS when only a BLS unit is free) does not hold up the calls behind it, as a
        dispatcher would not let it. Whether a unit may take a call, or be diverted to it, depends on the call's
        priority only (the type it needs and the redispatch table), so a pass asks at most once per priority in
        vain."""
        failed: set[int] = set()
        for inc in dispatch_core.queue_order(self.waiting.values()):
            if inc.id not in self.waiting or inc.priority in failed:
                continue  # served meanwhile (a diversion cascade re-queues and serves calls itself)
            del self.waiting[inc.id]
            if not self._try_dispatch(t, inc):
                self.waiting[inc.id] = inc
                failed.add(inc.priority)

    def _on_shift_on(self, t: float, uid: int, _token: int) -> None:
        u = self.units[uid]
        u.going_off = False
        if u.state.status is S.OUT_OF_SERVICE:
            self._set(uid, S.AVAILABLE_AT_STATION, t, position=u.state.station)
            u.stay(u.home, t)
            self._serve_queue(t)

    def _hour_of_day(self, t: float) -> float:
        """The hour of the day (0 <= hour < 24, in the scenario's time zone) at simulated second `t`."""
        return ((self.start.hour * 3600.0 + self.start.minute * 60.0 + t) % 86400.0) / 3600.0

    def _on_shift_off(self, t: float, uid: int, _token: int) -> None:
        u = self.units[uid]
        if on_shift(u.shifts, self._hour_of_day(t)):
            return  # another shift of the unit covers this hour (overlapping or back-to-back shifts)
        if u.state.status is S.AVAILABLE_AT_STATION:
            self._set(uid, S.OUT_OF_SERVICE, t)
        elif u.state.status is not S.OUT_OF_SERVICE:
            u.going_off = True

    # -- volunteers (events of `first_response`: ref = call x 2 + variant, token = responder)
    def _push_vol(self, events: Sequence[tuple[float, str, int, int, int]]) -> None:
        for t, kind, call, variant, rid in events:
            self._push(t, f"vol_{kind}", call * 2 + max(variant, 0), rid)

    def _on_vol_answer(self, t: float, ref: int, rid: int) -> None:
        assert self.first_response is not None
        self._push_vol(self.first_response.on_answer(ref // 2, ref % 2, rid, t))

    def _on_vol_tick(self, t: float, ref: int, _token: int) -> None:
        assert self.first_response is not None
        self._push_vol(self.first_response.on_tick(ref // 2, ref % 2, t))

    def _on_vol_arrive(self, t: float, ref: int, rid: int) -> None:
        assert self.first_response is not None
        self._push_vol(self.first_response.on_arrive(ref // 2, ref % 2, rid, t))

    def _on_vol_stop(self, t: float, ref: int, _token: int) -> None:
        assert self.first_response is not None
        self.first_response.stop(ref // 2, t)
