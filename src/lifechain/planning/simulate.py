"""Discrete-event simulation of a city's calls, on the live dispatch rules (pure: no I/O, no wall clock).

Every dispatch decision is `lifechain.dispatch.core.recommend_units`, every destination
`lifechain.dispatch.core.recommend_hospital`, the waiting line `lifechain.dispatch.core.queue_order`, every unit
status change `lifechain.fleet.core.next_status`: the functions live dispatch calls, looked up on their modules at
call time. Only the clock (the event heap) and the store (arrays) differ. Events follow JEMSS: call arrives,
dispatch, mobilised, reaches call, leaves for hospital, reaches hospital, handover done (free), reaches station.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, model_validator

from lifechain.dispatch import core as dispatch_core
from lifechain.errors import Invalid
from lifechain.fleet import core as fleet_core
from lifechain.geo.core import LatLon, Mode, Profile, Route, haversine_m
from lifechain.hospitals.core import Capability, HospitalState
from lifechain.planning.first_response import FirstResponse, VolunteersIn
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


class Dist(BaseModel):
    """A duration distribution in seconds: fixed, exponential, lognormal, gamma or Weibull (by mean and sd/shape)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["fixed", "exponential", "lognormal", "gamma", "weibull"] = "fixed"
    mean: float = Field(0.0, ge=0)
    sd: float = Field(0.0, ge=0)
    shape: float = Field(1.0, gt=0)

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


class StationIn(BaseModel):
    """A station of the scenario."""

    model_config = ConfigDict(extra="forbid")
    id: int
    name: str = ""
    lat: float
    lon: float


class UnitIn(BaseModel):
    """An ambulance of the scenario, its station and its shifts (hours of day [start, end); empty = always on)."""

    model_config = ConfigDict(extra="forbid")
    id: int
    call_sign: str = ""
    station: int
    type: fleet_core.UnitType = fleet_core.UnitType.ALS
    shifts: list[tuple[float, float]] = Field(default_factory=list)


class HospitalIn(BaseModel):
    """A receiving hospital of the scenario."""

    model_config = ConfigDict(extra="forbid")
    id: int
    name: str = ""
    lat: float
    lon: float
    capabilities: list[Capability] = Field(default_factory=lambda: [Capability.ED])


class PointIn(BaseModel):
    """A demand point (a population cell or a weighted place) and its area name for summaries."""

    model_config = ConfigDict(extra="forbid")
    lat: float
    lon: float
    weight: float = Field(1.0, ge=0)
    area: str = "all"


class ReplayedCall(BaseModel):
    """A historical call to replay: seconds from the scenario start, the demand point it happened at, its triage."""

    model_config = ConfigDict(extra="forbid")
    t: float = Field(ge=0)
    point: int = Field(ge=0)
    priority: int = Field(1, ge=1, le=4)
    arrest: bool = False
    pathways: list[str] = Field(default_factory=list)


class CallsIn(BaseModel):
    """Call generation: Poisson with an hour-of-day x weekday profile, or replayed; priorities and pathways by
    probability (Poisson) or as recorded (replay)."""

    model_config = ConfigDict(extra="forbid")
    rate_per_day: float = Field(0.0, ge=0)
    replay_file: str | None = None
    replayed: list[ReplayedCall] = Field(default_factory=list)
    hourly_profile: list[float] = Field(default_factory=lambda: [1.0] * 24)
    weekday_profile: list[float] = Field(default_factory=lambda: [1.0] * 7)
    priorities: dict[int, float] = Field(default_factory=lambda: {1: 1.0})
    pathways: dict[str, float] = Field(default_factory=dict)
    arrest_share: float = Field(0.0, ge=0, le=1)

    @model_validator(mode="after")
    def _check(self) -> CallsIn:
        if self.rate_per_day <= 0 and not (self.replay_file or self.replayed):
            raise ValueError("calls need a positive rate_per_day or a replay_file")
        if len(self.hourly_profile) != 24 or len(self.weekday_profile) != 7:
            raise ValueError("hourly_profile needs 24 values and weekday_profile 7")
        if min(self.hourly_profile + self.weekday_profile) < 0 or max(self.hourly_profile) <= 0:
            raise ValueError("profiles must be non-negative with at least one positive hour")
        if not self.priorities or any(p not in (1, 2, 3, 4) for p in self.priorities):
            raise ValueError("priorities must be a probability per priority 1-4")
        return self


class DurationsIn(BaseModel):
    """Every duration of a call's life as a distribution (seconds)."""

    model_config = ConfigDict(extra="forbid")
    dispatch_delay: Dist = Field(default_factory=Dist)
    mobilisation: Dist = Field(default_factory=Dist)
    on_scene: Dist = Field(default_factory=lambda: Dist(kind="exponential", mean=720))
    transport_probability: float = Field(0.8, ge=0, le=1)
    handover: Dist = Field(default_factory=lambda: Dist(kind="exponential", mean=720))
    turnaround: Dist = Field(default_factory=Dist)


class TravelIn(BaseModel):
    """How travel times are obtained: a city's router, straight line at a speed with a detour factor, or zero."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["city", "straight", "zero"] = "straight"
    city: str | None = None
    speed_kmh: float = Field(40.0, gt=0)
    regular_speed_kmh: float = Field(30.0, gt=0)
    detour: float = Field(1.3, ge=1)


class ArrestIn(BaseModel):
    """Cardiac arrest care: collapse-to-call delay, bystander CPR, EMS times to CPR and shock, survival models."""

    model_config = ConfigDict(extra="forbid")
    collapse_to_call_s: float = Field(120.0, ge=0)
    bystander_cpr_probability: float = Field(0.4, ge=0, le=1)
    bystander_cpr_delay_s: float = Field(120.0, ge=0)
    ems_cpr_after_arrival_s: float = Field(60.0, ge=0)
    ems_shock_after_arrival_s: float = Field(120.0, ge=0)
    # Larsen et al. 1993 (Ann Emerg Med 22:1652): 67% - 2.3%/min to CPR - 1.1%/min to shock - 2.1%/min to ACLS.
    larsen: tuple[float, float, float, float] = (0.67, 0.023, 0.011, 0.021)
    # De Maio et al. 2003 (Ann Emerg Med 42:242): 1 / (1 + exp(a + b t)), t = call to vehicle stopped, minutes.
    de_maio: tuple[float, float] = (0.679, 0.262)
    # Valenzuela et al. 1997 (Circulation 96:3308): 1 / (1 + exp(-a + b t_CPR + c t_shock)), minutes from collapse.
    valenzuela: tuple[float, float, float] = (0.260, 0.106, 0.139)


class Scenario(BaseModel):
    """A planning scenario: a city, its stations, units, hospitals, demand, call generation and policies."""

    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    seed: int = 0
    start: datetime = datetime(2026, 1, 5)  # a Monday  # noqa: DTZ001
    days: float = Field(7.0, gt=0)
    targets_min: list[float] = Field(default_factory=lambda: [8.0, 12.0])
    stations: list[StationIn]
    units: list[UnitIn]
    hospitals: list[HospitalIn] = Field(default_factory=list)
    demand: list[PointIn]
    calls: CallsIn
    durations: DurationsIn = Field(default_factory=DurationsIn)
    travel: TravelIn = Field(default_factory=TravelIn)
    arrest: ArrestIn = Field(default_factory=ArrestIn)
    dispatch_policy: dict[str, Any] = Field(default_factory=dict)
    volunteers: VolunteersIn | None = None

    @model_validator(mode="after")
    def _check(self) -> Scenario:
        ids = {s.id for s in self.stations}
        bad = [u.id for u in self.units if u.station not in ids]
        if bad:
            raise ValueError(f"units {bad} name a station that is not in the scenario")
        if not self.units or not self.demand:
            raise ValueError("a scenario needs at least one unit and one demand point")
        if self.durations.transport_probability > 0 and not self.hospitals:
            raise ValueError("transport_probability > 0 needs at least one hospital")
        far = [c.point for c in self.calls.replayed if c.point >= len(self.demand)]
        if far:
            raise ValueError(f"replayed calls name demand points {far[:5]} beyond the {len(self.demand)} given")
        return self

    def policy(self) -> dispatch_core.DispatchPolicy:
        """The dispatch policy with this scenario's settings."""
        values = dict(self.dispatch_policy)
        for key in ("als_required_priorities", "emergency_profile_priorities"):
            if key in values:
                values[key] = frozenset(values[key])
        if "redispatch" in values:
            values["redispatch"] = frozenset(tuple(p) for p in values["redispatch"])
        try:
            return dispatch_core.DispatchPolicy(**values)
        except TypeError as exc:
            raise Invalid(f"dispatch_policy: {exc}") from exc


# ----------------------------------------------------------------------------------------------- matrix router


@dataclass
class MatrixRouter:
    """A `Router` answering from precomputed travel times between anchors (stations, hospitals) and demand cells.

    Built once per scenario from any router (a city's, straight-line, zero), so no call pays a shortest-path search.
    Every question has an anchor at one end; memory is anchors x places, not places squared.
    """

    city: str
    places: list[LatLon]
    n_anchors: int
    from_anchor: dict[str, FloatArray]  # profile -> anchors x places
    to_anchor: dict[str, FloatArray]  # profile -> places x anchors
    index: dict[tuple[float, float], int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.index = {(p.lat, p.lon): i for i, p in enumerate(self.places)}

    def _i(self, point: LatLon) -> int:
        try:
            return self.index[(point.lat, point.lon)]
        except KeyError:
            raise Invalid(f"point {point} is not one of the simulation's places") from None

    def _pairs(self, o: list[int], d: list[int], profile: str) -> FloatArray:
        """Seconds for each origin-destination index pair (broadcast), one end being an anchor."""
        oi, di = np.asarray(o), np.asarray(d)
        oi, di = np.broadcast_arrays(oi, di)
        out = np.full(oi.shape, np.inf)
        dest_anchor = di < self.n_anchors
        out[dest_anchor] = self.to_anchor[profile][oi[dest_anchor], di[dest_anchor]]
        rest = ~dest_anchor & (oi < self.n_anchors)
        out[rest] = self.from_anchor[profile][oi[rest], di[rest]]
        return out

    def snap(self, points: Sequence[LatLon], *, mode: Mode = "drive") -> Any:
        """Places are already snapped: the list itself."""
        return list(points)

    def times_to(self, origins: Sequence[LatLon] | Any, destination: LatLon, *, mode: Mode = "drive",
                 profile: Profile = "emergency", limit_s: float = math.inf) -> FloatArray:
        """Seconds from each origin to `destination` (inf beyond `limit_s`)."""
        d = self._i(destination)
        oi = np.fromiter((self._i(o) for o in origins), np.int64, len(origins))
        if d < self.n_anchors:
            out = self.to_anchor[profile][oi, d]
        elif oi.size and int(oi.max()) >= self.n_anchors:
            out = self._pairs(oi.tolist(), [d], profile)
        else:
            out = self.from_anchor[profile][oi, d]
        return np.where(out <= limit_s, out, np.inf)

    def times_from(self, origin: LatLon, destinations: Sequence[LatLon] | Any, *, mode: Mode = "drive",
                   profile: Profile = "emergency", limit_s: float = math.inf) -> FloatArray:
        """Seconds from `origin` to each destination (inf beyond `limit_s`)."""
        out = self._pairs([self._i(origin)], [self._i(d) for d in destinations], profile)
        return np.where(out <= limit_s, out, np.inf)

    def matrix(self, origins: Sequence[LatLon] | Any, destinations: Sequence[LatLon] | Any, *,
               mode: Mode = "drive", profile: Profile = "emergency") -> FloatArray:
        """Origins x destinations seconds."""
        o = np.asarray([self._i(p) for p in origins])[:, None]
        d = np.asarray([self._i(p) for p in destinations])[None, :]
        return self._pairs(o.tolist(), d.tolist(), profile)

    def route(self, origin: LatLon, destination: LatLon, *, mode: Mode = "drive",
              profile: Profile = "emergency") -> Route:
        """A straight two-point route with the matrix time."""
        secs = float(self._pairs([self._i(origin)], [self._i(destination)], profile)[0])
        return Route(seconds=secs, meters=haversine_m(origin, destination), geometry=(origin, destination))

    def isochrone(self, origin: LatLon, seconds: float, *, mode: Mode = "drive",
                  profile: Profile = "emergency") -> dict[str, Any]:
        """Not offered by a matrix router."""
        raise Invalid("a matrix router cannot draw isochrones")


@dataclass
class StraightRouter:
    """Travel at a constant speed along the straight line times a detour factor (a city-less planning router)."""

    city: str
    speed_mps: dict[str, float]
    detour: float = 1.3

    def matrix(self, origins: Sequence[LatLon], destinations: Sequence[LatLon], *, mode: Mode = "drive",
               profile: Profile = "emergency") -> FloatArray:
        """Origins x destinations seconds."""
        lat1 = np.radians([o.lat for o in origins])[:, None]
        lon1 = np.radians([o.lon for o in origins])[:, None]
        lat2 = np.radians([d.lat for d in destinations])[None, :]
        lon2 = np.radians([d.lon for d in destinations])[None, :]
        h = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
        metres = 2 * 6_371_008.8 * np.arcsin(np.sqrt(h))
        return np.asarray(metres * self.detour / self.speed_mps[profile], dtype=np.float64)


def build_matrix_router(source: Any, *, anchors: Sequence[LatLon], cells: Sequence[LatLon],
                        hospitals: Sequence[LatLon], zero: bool = False) -> MatrixRouter:
    """Precompute anchors -> places and places -> anchors for both profiles from `source` (all zero if `zero`)."""
    anchor_list = list(dict.fromkeys([*anchors, *hospitals]))
    places = anchor_list + [c for c in dict.fromkeys(cells) if c not in set(anchor_list)]
    n = len(anchor_list)
    frm: dict[str, FloatArray] = {}
    to: dict[str, FloatArray] = {}
    for profile in ("emergency", "regular"):
        if zero:
            frm[profile], to[profile] = np.zeros((n, len(places))), np.zeros((len(places), n))
        else:
            frm[profile] = np.asarray(source.matrix(anchor_list, places, mode="drive", profile=profile), float)
            to[profile] = np.asarray(source.matrix(places, anchor_list, mode="drive", profile=profile), float)
    return MatrixRouter(city=getattr(source, "city", "matrix"), places=places, n_anchors=n, from_anchor=frm,
                        to_anchor=to)


# ------------------------------------------------------------------------------------------------ the simulation


@dataclass
class _Unit:
    """A simulated ambulance: its live state (as dispatch sees it) and the bookkeeping the simulation needs."""

    state: fleet_core.UnitState
    shifts: list[tuple[float, float]]
    busy_s: float = 0.0
    busy_since: float | None = None
    version: int = 0
    call: int | None = None
    eta_s: float = 0.0
    hospital: LatLon | None = None
    going_off: bool = False


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


class Simulation:
    """One replication of a scenario on a precomputed router, driven by an event heap (time, sequence, event)."""

    def __init__(self, sc: Scenario, router: Any, rng: np.random.Generator) -> None:
        self.sc, self.router, self.rng = sc, router, rng
        self.policy = sc.policy()
        self.start = sc.start
        self.heap: list[tuple[float, int, str, int]] = []
        self.seq = 0
        stations = {s.id: LatLon(s.lat, s.lon) for s in sc.stations}
        self.units = {u.id: _Unit(fleet_core.UnitState(
            id=u.id, call_sign=u.call_sign or f"U{u.id}", type=u.type, status=S.AVAILABLE_AT_STATION,
            station=stations[u.station], position=stations[u.station], position_at=sc.start), list(u.shifts))
            for u in sc.units}
        self.hospitals = [HospitalState(id=h.id, name=h.name or f"H{h.id}", location=LatLon(h.lat, h.lon),
                                        capabilities=frozenset(h.capabilities)) for h in sc.hospitals]
        self.cells = [LatLon(p.lat, p.lon) for p in sc.demand]
        self.waiting: dict[int, dispatch_core.IncidentState] = {}
        self.first_response = FirstResponse.build(sc.volunteers) if sc.volunteers else None
        self._generate()

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
        self.unit_of = np.full(n, -1, dtype=np.int64)
        self.incident: list[dispatch_core.IncidentState | None] = [None] * n
        self.vol_seed = int(rng.integers(2**62))  # drawn always, so volunteers on/off share every other number
        self.ems_planned = np.full(n, np.nan)
        names = ["ems"] + (["volunteers", "volunteers_aed"] if self.first_response else [])
        self.variants = {v: np.full((n, 2), np.nan) for v in names}
        self.vol: dict[int, tuple[float, float, float]] = {}  # call -> (no-AED CPR, CPR, shock), absolute seconds
        self.vol_counts = {"volunteer_alerts": 0.0, "volunteer_acceptances": 0.0}
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
        h0 = self.start.hour * 3600.0 + self.start.minute * 60.0
        if not any(a * 3600 <= h0 % 86400 < b * 3600 for a, b in u.shifts):
            self._push(0.0, "off", uid)
        for day in range(int(self.sc.days) + 2):
            for a, b in u.shifts:
                for t, kind in ((day * 86400 + a * 3600 - h0, "on"), (day * 86400 + b * 3600 - h0, "off")):
                    if 0 < t < horizon:
                        self._push(t, kind, uid)

    def _push(self, t: float, kind: str, ref: int) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (t, self.seq, kind, ref))

    def now(self, t: float) -> datetime:
        """The simulation clock as a datetime."""
        return self.start + timedelta(seconds=t)

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
        u.version += 1

    # -- the event loop
    def run(self) -> RunResult:
        """Process every event in time order and return the per-call results."""
        handlers = {"dispatch": self._on_dispatch, "mobilised": self._on_mobilised, "at_call": self._on_at_call,
                    "leave_scene": self._on_leave_scene, "at_hospital": self._on_at_hospital,
                    "free": self._on_free, "at_station": self._on_at_station, "on": self._on_shift_on,
                    "off": self._on_shift_off}
        end = self.sc.days * 86400.0
        last = 0.0
        while self.heap:
            t, _, kind, ref = heapq.heappop(self.heap)
            last = t
            handlers[kind](t, ref)
        horizon = max(end, last)
        for u in self.units.values():
            if u.busy_since is not None:
                u.busy_s += horizon - u.busy_since
        return RunResult(times=self.times, priority=self.priority,
                         area=[self.sc.demand[c].area for c in self.cell], arrest=self.is_arrest,
                         queued=self.queued, transported=self.transport & (self.unit_of >= 0), unit=self.unit_of,
                         utilisation={uid: u.busy_s / horizon for uid, u in self.units.items()}, horizon_s=horizon,
                         arrest_variants=self.variants if self.first_response else {},
                         extra=dict(self.vol_counts) if self.first_response else {},
                         cell=np.asarray(self.cell, dtype=np.int64))

    def _on_dispatch(self, t: float, i: int) -> None:
        inc = dispatch_core.IncidentState(id=i, location=self.cells[self.cell[i]], priority=int(self.priority[i]),
                                          pathways=self.pathways[i], received_at=self.now(float(self.arrival[i])))
        self.incident[i] = inc
        if not self._try_dispatch(t, inc):
            self.queued[i] = True
            self.waiting[i] = inc
        if self.is_arrest[i] and self.first_response is not None:
            self._alert_volunteers(i, t)

    def _alert_volunteers(self, i: int, t: float) -> None:
        """Run the live alerting for an arrest, without and with AEDs, on the call's own random stream."""
        assert self.first_response is not None
        ems = float(self.ems_planned[i] - t) if math.isfinite(self.ems_planned[i]) else None
        where, area = self.cells[self.cell[i]], self.sc.demand[self.cell[i]].area
        kw: dict[str, Any] = {"call_at": self.now(t), "ems_after_s": ems}
        bare = self.first_response.respond(where, area, rng=np.random.default_rng([self.vol_seed, i]),
                                           with_aeds=False, **kw)
        full = self.first_response.respond(where, area, rng=np.random.default_rng([self.vol_seed, i]), **kw)
        self.vol[i] = (t + bare.cpr_s, t + full.cpr_s, t + full.shock_s)
        self.vol_counts["volunteer_alerts"] += full.alerts
        self.vol_counts["volunteer_acceptances"] += full.accepted

    def _try_dispatch(self, t: float, inc: dispatch_core.IncidentState) -> bool:
        """Ask the live `recommend_units` and send its best eligible unit; False when none can go."""
        rec = dispatch_core.recommend_units(inc, [u.state for u in self.units.values()], self.router,
                                            now=self.now(t), policy=self.policy)
        best = rec.best
        if best is None or best.eta_s is None:
            return False
        i, uid = inc.id, best.unit_id
        was_returning = self.units[uid].state.status is S.AVAILABLE_RETURNING
        self._set(uid, S.DISPATCHED, t, call=i, priority=inc.priority)
        self.units[uid].call = i
        self.unit_of[i] = uid
        self.times[i, COL[EventKind.UNIT_NOTIFIED]] = t
        mob = 0.0 if was_returning else self.sc.durations.mobilisation.sample(self.rng)
        self._push(t + mob, "mobilised", uid)
        self.units[uid].eta_s = best.eta_s
        self.ems_planned[i] = t + mob + best.eta_s
        return True

    def _on_mobilised(self, t: float, uid: int) -> None:
        u = self.units[uid]
        assert u.call is not None
        self._set(uid, S.EN_ROUTE, t, call=u.call, priority=u.state.incident_priority)
        self.times[u.call, COL[EventKind.UNIT_EN_ROUTE]] = t
        self._push(t + u.eta_s, "at_call", uid)

    def _on_at_call(self, t: float, uid: int) -> None:
        u = self.units[uid]
        i = u.call
        assert i is not None
        self._set(uid, S.ON_SCENE, t, position=self.cells[self.cell[i]], call=i, priority=u.state.incident_priority)
        self.times[i, COL[EventKind.UNIT_ON_SCENE]] = t
        if self.is_arrest[i]:
            self._arrest_care(i, t)
        self._push(t + self.sc.durations.on_scene.sample(self.rng), "leave_scene", uid)

    def _arrest_care(self, i: int, ems_at: float) -> None:
        """Collapse, CPR and shock times of an arrest: bystander CPR by chance, otherwise EMS."""
        a = self.sc.arrest
        collapse = float(self.arrival[i]) - a.collapse_to_call_s
        cpr = ems_at + a.ems_cpr_after_arrival_s
        if self.rng.uniform() < a.bystander_cpr_probability:
            cpr = min(cpr, collapse + a.bystander_cpr_delay_s)
        shock = ems_at + a.ems_shock_after_arrival_s
        self.times[i, COL[EventKind.ARREST]] = collapse
        self.variants["ems"][i] = (cpr, shock)
        if i in self.vol:
            bare_cpr, vol_cpr, vol_shock = self.vol[i]
            self.variants["volunteers"][i] = (min(cpr, bare_cpr), shock)
            self.variants["volunteers_aed"][i] = cpr, shock = (min(cpr, vol_cpr), min(shock, vol_shock))
        self.times[i, COL[EventKind.FIRST_CPR]] = cpr
        self.times[i, COL[EventKind.FIRST_DEFIBRILLATION]] = shock

    def _on_leave_scene(self, t: float, uid: int) -> None:
        u = self.units[uid]
        i = u.call
        assert i is not None
        inc = self.incident[i]
        assert inc is not None
        self.times[i, COL[EventKind.LEFT_SCENE]] = t
        if self.transport[i] and self.hospitals:
            rec = dispatch_core.recommend_hospital(inc, self.hospitals, self.router, now=self.now(t),
                                                   policy=self.policy)
            if rec.hospital_id is not None and rec.eta_s is not None:
                self._set(uid, S.TRANSPORTING, t, call=i, priority=inc.priority)
                u.hospital = next(h.location for h in self.hospitals if h.id == rec.hospital_id)
                self._push(t + rec.eta_s, "at_hospital", uid)
                return
        self.transport[i] = False
        self._release(uid, t, self.cells[self.cell[i]], from_scene=True)

    def _on_at_hospital(self, t: float, uid: int) -> None:
        u = self.units[uid]
        assert u.call is not None
        self._set(uid, S.AT_HOSPITAL, t, position=u.hospital, call=u.call,
                  priority=u.state.incident_priority)
        self.times[u.call, COL[EventKind.AT_DESTINATION]] = t
        self._push(t + self.sc.durations.handover.sample(self.rng), "free", uid)

    def _on_free(self, t: float, uid: int) -> None:
        u = self.units[uid]
        assert u.call is not None
        self.times[u.call, COL[EventKind.DESTINATION_TRANSFER_OF_CARE]] = t
        assert u.hospital is not None
        self._release(uid, t + self.sc.durations.turnaround.sample(self.rng), u.hospital, from_scene=False)

    def _release(self, uid: int, t: float, where: LatLon, *, from_scene: bool) -> None:
        """The unit clears its call and heads home; it can take a call on the way (from where it left)."""
        u = self.units[uid]
        assert u.call is not None
        self.times[u.call, COL[EventKind.UNIT_BACK_IN_SERVICE]] = t
        u.call = None
        # Origins the matrix knows are stations and hospitals: a unit leaving a scene is routed from its station.
        self._set(uid, S.AVAILABLE_RETURNING, t, position=u.state.station if from_scene else where)
        back = float(self.router.times_to([where], u.state.station, profile="regular")[0])
        self._push(t + (back if math.isfinite(back) else 0.0), "at_station", uid * 1_000_000 + u.version)
        if not u.going_off:
            self._serve_queue(t)

    def _on_at_station(self, t: float, ref: int) -> None:
        uid, version = divmod(ref, 1_000_000)
        u = self.units[uid]
        if u.version != version or u.state.status is not S.AVAILABLE_RETURNING:
            return  # dispatched again on the way home
        self._set(uid, S.AVAILABLE_AT_STATION, t, position=u.state.station)
        if u.going_off:
            self._set(uid, S.OUT_OF_SERVICE, t)
            u.going_off = False

    def _serve_queue(self, t: float) -> None:
        """Waiting calls in the live `queue_order`; each gets the best available unit until none is left."""
        for inc in dispatch_core.queue_order(self.waiting.values()):
            if not self._try_dispatch(t, inc):
                break
            del self.waiting[inc.id]

    def _on_shift_on(self, t: float, uid: int) -> None:
        u = self.units[uid]
        u.going_off = False
        if u.state.status is S.OUT_OF_SERVICE:
            self._set(uid, S.AVAILABLE_AT_STATION, t, position=u.state.station)
            self._serve_queue(t)

    def _on_shift_off(self, t: float, uid: int) -> None:
        u = self.units[uid]
        if u.state.status is S.AVAILABLE_AT_STATION:
            self._set(uid, S.OUT_OF_SERVICE, t)
        elif u.state.status is not S.OUT_OF_SERVICE:
            u.going_off = True
