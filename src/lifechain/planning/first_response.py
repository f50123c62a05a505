"""Volunteers and AEDs in the simulation, on the live alert policy (pure: no I/O, no wall clock).

For each cardiac arrest, volunteers around the patient are drawn as a homogeneous spatial Poisson process (density
per km^2, by area), then the live `lifechain.volunteers.core` decides who is alerted and in which role
(`plan_alerts`), replaces refusals and widens (`next_phase`), accepts within the cap (`on_accept`), records
arrivals (`on_action`) and stands everyone down when the ambulance arrives (`stand_down`); functions are looked
up on their module at call time, so the simulation cannot drift from live alerting. Walking uses a straight-line
router (detour factor x distance at the policy's walking speed).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from lifechain.errors import Invalid
from lifechain.geo.core import LatLon, Mode, Profile, Route
from lifechain.volunteers import core as vc

FloatArray = npt.NDArray[np.float64]
EARTH_M_PER_DEG = 111_195.0
QUALIFIED = (vc.Qualification(vc.QualificationKind.CPR, date(2000, 1, 1), date(2999, 12, 31)),)


class AedIn(BaseModel):
    """A public AED of the scenario (always open and ready)."""

    model_config = ConfigDict(extra="forbid")
    lat: float
    lon: float


class VolunteersIn(BaseModel):
    """Volunteers as a spatial Poisson process around arrests, how they answer, and the AEDs they can fetch."""

    model_config = ConfigDict(extra="forbid")
    density_per_km2: float = Field(0.0, ge=0)
    area_density_per_km2: dict[str, float] = Field(default_factory=dict)
    acceptance_probability: float = Field(0.3, ge=0, le=1)
    answer_delay_s: float = Field(20.0, ge=0)
    set_off_delay_s: float = Field(105.0, ge=0)
    cpr_after_arrival_s: float = Field(10.0, ge=0)
    shock_after_arrival_s: float = Field(90.0, ge=0)
    walk_detour: float = Field(1.3, ge=1)
    max_wait_s: float = Field(1200.0, gt=0)
    policy: dict[str, Any] = Field(default_factory=dict)
    aeds: list[AedIn] = Field(default_factory=list)
    aeds_file: str | None = None
    aeds_from_city: bool = False

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
        dy = (lat - origin.lat) * EARTH_M_PER_DEG
        dx = (lon - origin.lon) * EARTH_M_PER_DEG * math.cos(math.radians(origin.lat))
        secs = np.hypot(dx, dy) * self.detour / self.speed_mps
        return np.where(secs <= limit_s, secs, np.inf)

    def times_to(self, origins: Sequence[LatLon] | Any, destination: LatLon, *, mode: Mode = "walk",
                 profile: Profile = "regular", limit_s: float = math.inf) -> FloatArray:
        """Seconds from each origin to `destination` (symmetric)."""
        return self.times_from(destination, origins, mode=mode, profile=profile, limit_s=limit_s)


@dataclass(frozen=True)
class Outcome:
    """What first responders achieved for one arrest: seconds from the call to first CPR and first shock (inf if
    none arrived before the ambulance), alerts sent and acceptances."""

    cpr_s: float
    shock_s: float
    alerts: int
    accepted: int


NOBODY = Outcome(math.inf, math.inf, 0, 0)


@dataclass
class FirstResponse:
    """Runs the live alerting for one arrest at a time, with volunteers drawn afresh around each patient."""

    config: VolunteersIn
    aeds: vc.AedPool
    policy: vc.AlertPolicy
    router: WalkRouter

    @classmethod
    def build(cls, config: VolunteersIn) -> FirstResponse:
        """The first response of a scenario: its policy, AED pool and walking router."""
        policy = config.alert_policy()
        aeds = [vc.Aed(id=i + 1, location=LatLon(a.lat, a.lon)) for i, a in enumerate(config.aeds)]
        return cls(config, vc.AedPool.build(aeds), policy,
                   WalkRouter("planning", policy.network_walk_speed_mps, config.walk_detour))

    def volunteers(self, where: LatLon, area: str, reach_m: float, now: datetime,
                   rng: np.random.Generator) -> list[vc.Responder]:
        """Volunteers within `reach_m` of `where`: a Poisson number, uniform in the disc."""
        n = int(rng.poisson(self.config.density(area) * math.pi * (reach_m / 1000) ** 2))
        r = reach_m * np.sqrt(rng.uniform(size=n))
        theta = rng.uniform(0, 2 * math.pi, size=n)
        lat = where.lat + r * np.sin(theta) / EARTH_M_PER_DEG
        lon = where.lon + r * np.cos(theta) / (EARTH_M_PER_DEG * math.cos(math.radians(where.lat)))
        return [vc.Responder(id=k + 1, kind="volunteer", position=LatLon(float(a), float(b)),
                             qualifications=QUALIFIED, on_duty=True, last_heartbeat=now)
                for k, (a, b) in enumerate(zip(lat, lon, strict=True))]

    def respond(self, where: LatLon, area: str, *, call_at: datetime, ems_after_s: float | None,
                rng: np.random.Generator, with_aeds: bool = True) -> Outcome:
        """Alert, answer, arrive: first CPR and first shock by volunteers, in seconds after the call."""
        now = call_at if call_at.tzinfo else call_at.replace(tzinfo=UTC)
        deadline = self.policy.deadline_s(ems_after_s)
        reach = max(deadline - self.policy.set_off_delay_s, 0.0) * self.policy.walking_speed_mps
        people = self.volunteers(where, area, reach, now, rng)
        if not people:
            return NOBODY
        pool = vc.ResponderPool.build(people)
        aeds: vc.Aeds = self.aeds if with_aeds else ()
        stop = ems_after_s if ems_after_s is not None else self.config.max_wait_s
        plan = vc.plan_alerts(where, pool, aeds, self.router, now=now, ambulance_eta_s=ems_after_s,
                              policy=self.policy)
        plan, arrivals = self._answers(plan, where, pool, aeds, now, ems_after_s, stop, rng)
        plan = self._arrive(plan, arrivals, now, stop)
        vc.stand_down(plan, now=now + timedelta(seconds=stop))
        cpr = min((t for t, _, _ in arrivals), default=math.inf) + self.config.cpr_after_arrival_s
        shock = min((t for t, aed, _ in arrivals if aed), default=math.inf) + self.config.shock_after_arrival_s
        return Outcome(cpr if cpr <= stop else math.inf, shock if shock <= stop else math.inf, len(plan.alerts),
                       len(plan.accepted))

    def _answers(self, plan: vc.AlertPlan, where: LatLon, pool: vc.ResponderPool, aeds: vc.Aeds, now: datetime,
                 ems_after_s: float | None, stop: float,
                 rng: np.random.Generator) -> tuple[vc.AlertPlan, list[tuple[float, bool, int]]]:
        """Each alerted volunteer answers after a delay; refusals are replaced and silence widens, as live."""
        c, p = self.config, self.policy
        heap: list[tuple[float, int, int]] = []
        asked: set[int] = set()
        arrivals: list[tuple[float, bool, int]] = []

        def queue_new(at: float) -> None:
            for a in plan.alerts:
                if a.responder_id not in asked:
                    asked.add(a.responder_id)
                    heapq.heappush(heap, (at + float(rng.exponential(c.answer_delay_s)) if c.answer_delay_s else at,
                                          0, a.responder_id))
            heapq.heappush(heap, (at + p.widen_after_s, 1, 0))

        queue_new(0.0)
        while heap:
            t, kind, rid = heapq.heappop(heap)
            if t > stop or not plan.active:
                break
            at = now + timedelta(seconds=t)
            if kind == 0 and plan.alert_for(rid).state is vc.AlertState.ALERTED:
                if rng.uniform() < c.acceptance_probability:
                    acc = vc.on_accept(plan, rid, now=at, policy=p)
                    plan = acc.plan
                    if acc.role is not None:
                        alert = plan.alert_for(rid)
                        alerted = (alert.alerted_at - now).total_seconds()
                        walk = alert.eta_s - p.set_off_delay_s
                        arrivals.append((max(t, alerted + c.set_off_delay_s) + walk,
                                         acc.role is vc.ResponderRole.AED, rid))
                    continue
                plan = vc.on_decline(plan, rid, now=at)
            before = len(plan.alerts)
            plan = vc.next_phase(plan, where, pool, aeds, self.router, now=at,
                                 ambulance_eta_s=None if ems_after_s is None else max(ems_after_s - t, 0.0),
                                 policy=p)
            if len(plan.alerts) > before:
                queue_new(t)
        return plan, arrivals

    def _arrive(self, plan: vc.AlertPlan, arrivals: list[tuple[float, bool, int]], now: datetime,
                stop: float) -> vc.AlertPlan:
        """Record the arrival of every accepted volunteer who gets there before the ambulance."""
        for at, _aed, rid in sorted(arrivals):
            if at <= stop:
                plan = vc.on_action(plan, rid, vc.Action.ARRIVED, now=now + timedelta(seconds=at))
        return plan
