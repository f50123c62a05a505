"""Volunteers and AEDs in the simulation, on the live alert policy (pure: no I/O, no wall clock).

On-duty volunteers are one population per replication: a homogeneous spatial Poisson process (density per km^2, by
the area of the nearest demand point) made tile by tile (1 km squares) where arrests need them; a tile's people
depend only on the seed and the tile, so runs repeat. For each arrest the simulation's event heap drives the live
`lifechain.volunteers.core` as live alerting does: `plan_alerts` (first phase), `next_phase` (a refusal replaced at
once, silence widened after `widen_after_s`), `on_accept` / `on_decline` when a volunteer answers, `on_action`
(arrived) and `stand_down` when the first ambulance is on scene; the functions are looked up on their module at call
time, so the simulation cannot drift from live alerting. A volunteer who accepted is busy until that response is
stood down: like live (`volunteers.repo.responding_ids`), they are not alertable for another arrest meanwhile.
Walking is on the city's walking network when the scenario travels on a city (the geo router live alerting uses),
else straight line x detour. AEDs are usable by their opening hours on the simulated clock (`Aed.is_accessible`).

Each arrest runs twice, without AEDs (`volunteers`) and with them (`volunteers_aed`), each variant in its own world
(its own busy volunteers); a volunteer's answer delay and yes/no to one arrest are the same in both (common random
numbers).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Annotated, Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lifechain.errors import Invalid
from lifechain.geo.core import (
    Latitude,
    LatLon,
    LocalProjection,
    Longitude,
    Mode,
    OffNetwork,
    Profile,
    Route,
    local_offsets_m,
)
from lifechain.volunteers import core as vc

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
QUALIFIED = (vc.Qualification(vc.QualificationKind.CPR, date(2000, 1, 1), date(2999, 12, 31)),)
TILE_M = 1000.0
DAY_S = 86_400.0
TICK_S = 5.0  # the live phase ticker's period (volunteers.views.TICK_S)
VARIANTS = ("volunteers", "volunteers_aed")  # index 0: without AEDs, 1: with AEDs
# Stream tags under the replication's volunteer seed: population tiles, answers.
_TILES, _ANSWERS = 1, 2


# Scenario input: an unknown key is a typo, and an infinite or NaN number a mistake (YAML's .inf and .nan, JSON's
# Infinity and NaN) that would only fail deep inside a run, if at all.
INPUT = ConfigDict(extra="forbid", allow_inf_nan=False)


class ScenarioAed(BaseModel):
    """A public AED of the scenario: where, and when it can be reached (OSM `opening_hours` subset, default 24/7)."""

    model_config = INPUT
    lat: Latitude
    lon: Longitude
    opening_hours: str | None = None

    @field_validator("opening_hours")
    @classmethod
    def _hours(cls, value: str | None) -> str | None:
        try:
            vc.parse_opening_hours(value)
        except Invalid as exc:
            raise ValueError(str(exc)) from exc
        return value


class VolunteersIn(BaseModel):
    """Volunteers on duty as a spatial Poisson process, how they answer, and the AEDs they can fetch."""

    model_config = INPUT
    density_per_km2: float = Field(0.0, ge=0, le=50_000)
    area_density_per_km2: dict[str, Annotated[float, Field(ge=0, le=50_000)]] = Field(default_factory=dict)
    acceptance_probability: float = Field(0.3, ge=0, le=1)
    answer_delay_s: float = Field(20.0, ge=0, le=DAY_S)
    set_off_delay_s: float = Field(105.0, ge=0, le=DAY_S)
    cpr_after_arrival_s: float = Field(10.0, ge=0, le=DAY_S)
    shock_after_arrival_s: float = Field(90.0, ge=0, le=DAY_S)
    walk_detour: float = Field(1.3, ge=1, le=10)  # straight-line walking only (no city walking network)
    max_wait_s: float = Field(1200.0, gt=0, le=DAY_S)  # a response with no ambulance on scene by then is stood down
    policy: dict[str, Any] = Field(default_factory=dict)
    aeds: list[ScenarioAed] = Field(default_factory=list)
    aeds_file: str | None = None
    aeds_from_city: bool = False

    @model_validator(mode="after")
    def _check_policy(self) -> VolunteersIn:
        try:
            self.alert_policy()
        except Invalid as exc:  # a ValueError is what pydantic reports as a validation error of this model
            raise ValueError(exc.message) from exc
        return self

    def alert_policy(self) -> vc.AlertPolicy:
        """The live alert policy with this scenario's settings (its set-off delay is the scenario's)."""
        return vc.AlertPolicy.from_mapping({**self.policy, "set_off_delay_s": self.set_off_delay_s})

    def density(self, area: str) -> float:
        """Volunteers per km^2 in `area`."""
        return self.area_density_per_km2.get(area, self.density_per_km2)


@dataclass
class WalkRouter:
    """Walking along the straight line times a detour factor, at the policy's network walking speed."""

    city: str
    speed_mps: float
    detour: float = 1.3

    def snap(self, points: Sequence[LatLon], *, mode: Mode = "walk", strict: bool = True) -> Any:
        """Nothing to snap: the points themselves."""
        return list(points)

    def route(self, origin: LatLon, destination: LatLon, *, mode: Mode = "walk", profile: Profile = "regular") -> Route:
        """The straight two-point walk."""
        secs = float(self.times_from(origin, [destination])[0])
        return Route(seconds=secs, meters=secs * self.speed_mps, geometry=(origin, destination))

    def matrix(self, origins: Sequence[LatLon] | Any, destinations: Sequence[LatLon] | Any, *, mode: Mode = "walk",
               profile: Profile = "regular") -> FloatArray:
        """Origins x destinations walking seconds."""
        return np.vstack([self.times_from(o, destinations) for o in origins]) if len(origins) else np.zeros((0, 0))

    def isochrone(self, origin: LatLon, seconds: float, *, mode: Mode = "walk",
                  profile: Profile = "regular") -> dict[str, Any]:
        """Not offered by a straight-line walking router."""
        raise Invalid("a straight-line walking router cannot draw isochrones")

    def times_from(self, origin: LatLon, destinations: Sequence[LatLon] | Any, *, mode: Mode = "walk",
                   profile: Profile = "regular", limit_s: float = math.inf) -> FloatArray:
        """Seconds from `origin` to each destination (inf beyond `limit_s`)."""
        lat = np.fromiter((d.lat for d in destinations), np.float64, len(destinations))
        lon = np.fromiter((d.lon for d in destinations), np.float64, len(destinations))
        dx, dy = local_offsets_m(origin, lat, lon)
        secs = np.hypot(dx, dy) * self.detour / self.speed_mps
        return np.where(secs <= limit_s, secs, np.inf)

    def times_to(self, origins: Sequence[LatLon] | Any, destination: LatLon, *, mode: Mode = "walk",
                 profile: Profile = "regular", limit_s: float = math.inf) -> FloatArray:
        """Seconds from each origin to `destination` (symmetric)."""
        return self.times_from(destination, origins, mode=mode, profile=profile, limit_s=limit_s)


# ------------------------------------------------------------------------------------------------ the population


@dataclass(frozen=True)
class _Tile:
    ids: IntArray
    lat: FloatArray
    lon: FloatArray
    snapped: Any  # the router's snapped batch (walking network), or None for straight-line walking


class Population:
    """On-duty volunteers as one spatial Poisson process, made tile by tile on first need.

    A tile's count is Poisson(density x tile area), its people uniform in the tile, all drawn from a stream of its
    own (the seed and the tile), so the same people stand in the same places whichever arrest asks first. The
    density of a tile is that of the area of the demand point nearest its centre.
    """

    def __init__(self, config: VolunteersIn, *, seed: int, demand: Sequence[tuple[float, float, str]],
                 router: Any, snap: bool) -> None:
        self.seed, self.router, self.snap = seed, router, snap
        lat = np.asarray([d[0] for d in demand], dtype=float)
        lon = np.asarray([d[1] for d in demand], dtype=float)
        self.proj = LocalProjection(float(lat.mean()), float(lon.mean()))
        self.density = np.asarray([config.density(d[2]) for d in demand], dtype=float)
        self.tree: Any = None
        if np.ptp(self.density) > 0:
            from scipy.spatial import cKDTree

            self.tree = cKDTree(self.proj.forward(lat, lon))
        self.tiles: dict[tuple[int, int], _Tile] = {}

    def _tile(self, tx: int, ty: int) -> _Tile:
        found = self.tiles.get((tx, ty))
        if found is not None:
            return found
        rng = np.random.default_rng([self.seed, _TILES, tx + 2**31, ty + 2**31])
        density = self.density[0] if self.tree is None else \
            self.density[int(self.tree.query([(tx + 0.5) * TILE_M, (ty + 0.5) * TILE_M])[1])]
        n = int(rng.poisson(density * (TILE_M / 1000) ** 2))
        if n >= 2**16:
            raise Invalid(f"volunteer density {density:g} per km^2 is beyond what the simulation can hold")
        x = (tx + rng.uniform(size=n)) * TILE_M
        y = (ty + rng.uniform(size=n)) * TILE_M
        lat, lon = self.proj.inverse(np.column_stack([x, y]))
        key = (tx + 2**20) * 2**21 + (ty + 2**20)
        ids = key * 2**16 + np.arange(1, n + 1, dtype=np.int64)
        snapped = None
        if self.snap and n:
            snapped = self.router.snap([LatLon(float(a), float(b)) for a, b in zip(lat, lon, strict=True)],
                                       mode="walk", strict=False)
        tile = _Tile(ids, lat, lon, snapped)
        self.tiles[(tx, ty)] = tile
        return tile

    def near(self, where: LatLon, reach_m: float) -> tuple[IntArray, FloatArray, FloatArray, Any]:
        """Ids, latitudes, longitudes (and the snapped batch) of the volunteers within `reach_m` of `where`."""
        x, y = self.proj.forward(where.lat, where.lon).tolist()
        r = reach_m * 1.05 + 1.0  # the tile grid is projected at the city's mean latitude: a little slack
        parts = [t for tx in range(math.floor((x - r) / TILE_M), math.floor((x + r) / TILE_M) + 1)
                 for ty in range(math.floor((y - r) / TILE_M), math.floor((y + r) / TILE_M) + 1)
                 if len((t := self._tile(tx, ty)).ids)]
        if not parts:
            return np.zeros(0, np.int64), np.zeros(0), np.zeros(0), None
        ids = np.concatenate([t.ids for t in parts])
        lat = np.concatenate([t.lat for t in parts])
        lon = np.concatenate([t.lon for t in parts])
        dx, dy = local_offsets_m(where, lat, lon)
        keep = np.flatnonzero(dx * dx + dy * dy <= reach_m * reach_m)
        snapped = None
        if self.snap:
            batch = parts[0].snapped if len(parts) == 1 else type(parts[0].snapped).concat([t.snapped for t in parts])
            snapped = batch.take(keep)
        return ids[keep], lat[keep], lon[keep], snapped


# ------------------------------------------------------------------------------------------------ one response


@dataclass
class Response:
    """One arrest's volunteer response in one variant, as the live tables would hold it."""

    call: int
    variant: int
    where: LatLon
    started: float
    eta_at: float | None  # simulation seconds the ambulance is expected on scene (live: the earliest unit's ETA)
    plan: vc.AlertPlan | None = None
    phase_s: float = math.nan  # when the last phase went out
    alerted_s: dict[int, float] = field(default_factory=dict)
    engaged: set[int] = field(default_factory=set)
    arrivals: list[tuple[float, bool]] = field(default_factory=list)  # (when, with an AED)
    tick_at: float = math.nan
    open: bool = True


# (time, kind, call, variant, responder): kinds "answer", "tick", "arrive" and "stop" (variant -1).
Event = tuple[float, str, int, int, int]


class FirstResponse:
    """Runs the live alerting for every arrest of a replication, on one persistent volunteer population."""

    def __init__(self, config: VolunteersIn, *, seed: int, start: datetime, router: Any,
                 demand: Sequence[tuple[float, float, str]], timezone: str = "UTC") -> None:
        if start.tzinfo is None:
            raise Invalid("the first response clock needs an aware start time")
        self.config, self.seed, self.epoch, self.router = config, seed, start, router
        self.policy = config.alert_policy()
        snap = not isinstance(router, WalkRouter)
        self.population = Population(config, seed=seed, demand=demand, router=router, snap=snap)
        self.aeds, self.aeds_off_network = _aed_pool(config, router, timezone, snap)
        self.busy: tuple[dict[int, int], dict[int, int]] = ({}, {})  # per variant: responder -> call
        self.responses: dict[tuple[int, int], Response] = {}
        self.draws: dict[tuple[int, int], tuple[float, bool]] = {}
        self.counts = {"volunteer_alerts": 0.0, "volunteer_acceptances": 0.0, "volunteer_arrivals": 0.0,
                       "volunteer_busy_unanswered": 0.0, "volunteer_arrests_off_network": 0.0}

    @property
    def walking(self) -> str:
        """How volunteers walk, in words."""
        return "straight line x detour" if isinstance(self.router, WalkRouter) else "the city's walking network"

    def clock(self, t: float) -> datetime:
        """The simulated instant `t` seconds after the start (aware)."""
        return self.epoch + timedelta(seconds=t)

    def _draw(self, call: int, rid: int) -> tuple[float, bool]:
        """How long `rid` takes to answer the alert for `call`, and whether they accept (the same in both variants)."""
        got = self.draws.get((call, rid))
        if got is None:
            rng = np.random.default_rng([self.seed, _ANSWERS, call, rid])
            delay = float(rng.exponential(self.config.answer_delay_s)) if self.config.answer_delay_s else 0.0
            got = (delay, bool(rng.uniform() < self.config.acceptance_probability))
            self.draws[(call, rid)] = got
        return got

    def _pool(self, where: LatLon, reach_m: float, now: datetime, variant: int) -> vc.ResponderPool:
        """The volunteers within `reach_m`, those busy on another arrest off duty (as live marks them)."""
        ids, lat, lon, snapped = self.population.near(where, reach_m)
        busy = self.busy[variant]
        people = tuple(vc.Responder(id=int(i), kind="volunteer", position=LatLon(float(a), float(b)),
                                    qualifications=QUALIFIED, on_duty=int(i) not in busy, last_heartbeat=now)
                       for i, a, b in zip(ids.tolist(), lat.tolist(), lon.tolist(), strict=True))
        return vc.ResponderPool(people, lat, lon, snapped)

    # -- what the simulation calls
    def start(self, call: int, where: LatLon, t: float, eta_at: float | None) -> list[Event]:
        """Alert the first phase for an arrest (both variants) and stand it down after `max_wait_s` at the latest."""
        events: list[Event] = [(t + self.config.max_wait_s, "stop", call, -1, 0)]
        for variant in (0, 1):
            r = Response(call, variant, where, t, eta_at)
            self.responses[(call, variant)] = r
            events += self._phase(r, t)
        return events

    def unit_notified(self, call: int, t: float, eta_at: float) -> list[Event]:
        """A unit was sent: an earlier ambulance ETA is kept (live `on_unit_notified`), and phases may resume."""
        events: list[Event] = []
        for variant in (0, 1):
            r = self.responses.get((call, variant))
            if r is not None and r.open and (r.eta_at is None or eta_at < r.eta_at):
                r.eta_at = eta_at
                if math.isnan(r.tick_at):
                    events += self._schedule_tick(r, t)
        return events

    def on_answer(self, call: int, variant: int, rid: int, t: float) -> list[Event]:
        """A volunteer answers: accept (a role and a walk) or decline (replaced at once, as live)."""
        r = self.responses.get((call, variant))
        if r is None or not r.open or r.plan is None or r.plan.alert_for(rid).state is not vc.AlertState.ALERTED:
            return []
        if self.busy[variant].get(rid, call) != call:
            if variant == 1:
                self.counts["volunteer_busy_unanswered"] += 1
            return []  # on the way to another arrest: this alert goes unanswered
        p, now = self.policy, self.clock(t)
        if self._draw(call, rid)[1]:
            acc = vc.on_accept(r.plan, rid, now=now, policy=p)
            r.plan = acc.plan
            if acc.role is None:
                return []
            self.busy[variant][rid] = call
            r.engaged.add(rid)
            walk = r.plan.alert_for(rid).eta_s - p.set_off_delay_s
            arrive = max(t, r.alerted_s[rid] + p.set_off_delay_s) + walk
            return [(arrive, "arrive", call, variant, rid)]
        r.plan = vc.on_decline(r.plan, rid, now=now)
        return self._phase(r, t)

    def on_tick(self, call: int, variant: int, t: float) -> list[Event]:
        """The phase ticker: widen when nobody accepted within `widen_after_s` (live `advance`)."""
        r = self.responses.get((call, variant))
        if r is None or not r.open or r.tick_at != t:
            return []
        r.tick_at = math.nan
        return self._phase(r, t)

    def on_arrive(self, call: int, variant: int, rid: int, t: float) -> list[Event]:
        """An accepted volunteer reaches the patient before the response is stood down."""
        r = self.responses.get((call, variant))
        if r is None or not r.open or r.plan is None:
            return []
        alert = r.plan.alert_for(rid)
        r.plan = vc.on_action(r.plan, rid, vc.Action.ARRIVED, now=self.clock(t))
        r.arrivals.append((t, alert.accepted_role is vc.ResponderRole.AED))
        if variant == 1:
            self.counts["volunteer_arrivals"] += 1
        return []

    def stop(self, call: int, t: float) -> None:
        """Stand the arrest's volunteers down (ambulance on scene, or `max_wait_s` passed): they are free again."""
        for variant in (0, 1):
            r = self.responses.get((call, variant))
            if r is None or not r.open:
                continue
            r.open = False
            if r.plan is not None:
                if variant == 1:
                    self.counts["volunteer_alerts"] += len(r.plan.alerts)
                    self.counts["volunteer_acceptances"] += len(r.engaged)
                r.plan, _told = vc.stand_down(r.plan, now=self.clock(t))
            busy = self.busy[variant]
            for rid in r.engaged:
                if busy.get(rid) == call:
                    del busy[rid]

    def outcome(self, call: int) -> tuple[tuple[float, float], tuple[float, float]]:
        """First CPR and first shock by volunteers (absolute seconds, inf if none), without and with AEDs; the
        arrest's records are then dropped."""
        out = []
        for variant in (0, 1):
            r = self.responses.pop((call, variant), None)
            arrivals = r.arrivals if r is not None else []
            cpr = min((a for a, _ in arrivals), default=math.inf) + self.config.cpr_after_arrival_s
            shock = min((a for a, aed in arrivals if aed), default=math.inf) + self.config.shock_after_arrival_s
            out.append((cpr, shock))
        for key in [k for k in self.draws if k[0] == call]:
            del self.draws[key]
        return out[0], out[1]

    # -- phases
    def _phase(self, r: Response, t: float) -> list[Event]:
        """The first phase, or `next_phase` (replacements, widening), with the volunteers in reach right now."""
        p, now = self.policy, self.clock(t)
        eta = None if r.eta_at is None else max(r.eta_at - t, 0.0)
        deadline = p.deadline_s(eta, t - r.started)
        reach = max(deadline - p.set_off_delay_s, 0.0) * p.walking_speed_mps * 1.01 + 1.0  # as live `_alert_more`
        pool = self._pool(r.where, reach, now, r.variant)
        aeds: vc.Aeds = self.aeds if r.variant == 1 else ()
        before = r.plan
        try:
            if before is None:
                plan = vc.plan_alerts(r.where, pool, aeds, self.router, now=now, ambulance_eta_s=eta, policy=p)
            else:
                plan = vc.next_phase(before, r.where, pool, aeds, self.router, now=now, ambulance_eta_s=eta,
                                     policy=p)
        except OffNetwork:  # the patient is off the walking network: nobody can be routed there
            if r.variant == 1:
                self.counts["volunteer_arrests_off_network"] += 1
            r.open = False
            return []
        r.plan = plan
        if before is None or plan.last_phase_at != before.last_phase_at:
            r.phase_s = t
        events: list[Event] = []
        for alert in plan.alerts:
            if alert.responder_id not in r.alerted_s:
                r.alerted_s[alert.responder_id] = t
                events.append((t + self._draw(r.call, alert.responder_id)[0], "answer", r.call, r.variant,
                               alert.responder_id))
        return events + self._schedule_tick(r, t)

    def _schedule_tick(self, r: Response, t: float) -> list[Event]:
        """The next widening check, while one could still alert somebody who arrives in time."""
        p, plan = self.policy, r.plan
        if (not r.open or plan is None or not plan.active or plan.last_phase_at is None or plan.accepted
                or len(plan.alerts) >= p.max_alerts):
            return []
        at = r.phase_s + p.widen_after_s + 1e-3  # just past the widening time, so it is due
        if at <= t:
            at = t + TICK_S  # overdue (a later ambulance ETA, a refusal left unreplaced): the ticker's next round
        eta = None if r.eta_at is None else max(r.eta_at - at, 0.0)
        if p.deadline_s(eta, at - r.started) <= p.set_off_delay_s or r.tick_at == at:
            return []
        r.tick_at = at
        return [(at, "tick", r.call, r.variant, 0)]


def _aed_pool(config: VolunteersIn, router: Any, timezone: str, snap: bool) -> tuple[vc.AedPool, int]:
    """The scenario's AEDs as the live pool (snapped once on the walking network; those off it are left out)."""
    aeds = [vc.Aed(id=k + 1, location=LatLon(a.lat, a.lon), hours=vc.parse_opening_hours(a.opening_hours),
                   timezone=timezone) for k, a in enumerate(config.aeds)]
    if not snap or not aeds:
        return vc.AedPool.build(aeds), 0
    snapped = router.snap([a.location for a in aeds], mode="walk", strict=False)
    keep = np.flatnonzero(np.isfinite(np.asarray(snapped.offroad_m)))
    kept = [aeds[i] for i in keep]
    lat = np.asarray([a.location.lat for a in kept], dtype=float)
    lon = np.asarray([a.location.lon for a in kept], dtype=float)
    return vc.AedPool(tuple(kept), lat, lon, snapped.take(keep)), len(aeds) - len(kept)
