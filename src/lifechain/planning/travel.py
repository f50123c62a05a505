"""Travel times for the simulation (pure: no I/O, no wall clock).

`MatrixRouter` answers the live `Router` questions from times precomputed once per scenario between anchors
(stations, hospitals) and places (demand cells), and asks its source router (a city's, straight line, zero) for the
rare place-to-place pair, which it keeps. `FleetRouter` adds where moving units are: an ambulance between two
places (returning from a scene or a hospital, on its way to a call) is given to the live `recommend_units` as a
`Moving` position, and its time to a call is the better of "back to the place it last left, then on" and "on to the
place it is heading for, then on": an upper bound on the true time (triangle inequality), exact at both ends.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from lifechain.errors import Invalid
from lifechain.geo.core import LatLon, Mode, Profile, Route, haversine_m, haversine_many

FloatArray = npt.NDArray[np.float64]
PROFILES: tuple[Profile, ...] = ("emergency", "regular")


@dataclass
class StraightRouter:
    """Travel at a constant speed along the straight line times a detour factor (a city-less planning router)."""

    city: str
    speed_mps: dict[str, float]
    detour: float = 1.3

    def matrix(self, origins: Sequence[LatLon], destinations: Sequence[LatLon], *, mode: Mode = "drive",
               profile: Profile = "emergency") -> FloatArray:
        """Origins x destinations seconds."""
        metres = haversine_many(np.array([o.lat for o in origins])[:, None],
                                np.array([o.lon for o in origins])[:, None],
                                np.array([d.lat for d in destinations])[None, :],
                                np.array([d.lon for d in destinations])[None, :])
        return np.asarray(metres * self.detour / self.speed_mps[profile], dtype=np.float64)


@dataclass
class ZeroRouter:
    """Every journey takes no time (queueing tests: the M/M/c check)."""

    city: str = "zero"

    def matrix(self, origins: Sequence[LatLon], destinations: Sequence[LatLon], *, mode: Mode = "drive",
               profile: Profile = "emergency") -> FloatArray:
        """Origins x destinations zeros."""
        return np.zeros((len(origins), len(destinations)))


@dataclass
class MatrixRouter:
    """A `Router` answering from precomputed travel times between anchors (stations, hospitals) and demand cells.

    Built once per scenario from any router (a city's, straight-line, zero), so no dispatch pays a shortest-path
    search. Anchors x places are precomputed (memory is anchors x places, not places squared); a place-to-place
    pair (a unit leaving a scene) is asked of `source` and kept. `source` is not pickled: a process that receives
    the router attaches it again (`planning.flows` does) before place-to-place questions.
    """

    city: str
    places: list[LatLon]
    n_anchors: int
    from_anchor: dict[str, FloatArray]  # profile -> anchors x places
    to_anchor: dict[str, FloatArray]  # profile -> places x anchors
    index: dict[tuple[float, float], int] = field(default_factory=dict)
    source: Any = field(default=None, repr=False, compare=False)
    pair_cache: dict[tuple[int, int, str], float] = field(default_factory=dict, repr=False, compare=False)
    snapped: Any = field(default=None, repr=False, compare=False)  # the places snapped by the source, once

    def __post_init__(self) -> None:
        self.index = {(p.lat, p.lon): i for i, p in enumerate(self.places)}

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["source"], state["pair_cache"], state["snapped"] = None, {}, None
        return state

    def place(self, point: LatLon) -> int:
        """The index of `point` among the places; raises `Invalid` for any other point."""
        try:
            return self.index[(point.lat, point.lon)]
        except KeyError:
            raise Invalid(f"point {point} is not one of the simulation's places") from None

    def time(self, o: int, d: int, profile: str) -> float:
        """Seconds from place `o` to place `d`: from the matrices when one end is an anchor, else from the source."""
        if d < self.n_anchors:
            return float(self.to_anchor[profile][o, d])
        if o < self.n_anchors:
            return float(self.from_anchor[profile][o, d])
        key = (o, d, profile)
        hit = self.pair_cache.get(key)
        if hit is None:
            hit = self.pair_cache[key] = float(self._ask(o, d, profile))
        return hit

    def _ask(self, o: int, d: int, profile: str) -> float:
        """One place-to-place time from the source (its pre-snapped places when it offers them)."""
        if self.source is None:
            raise Invalid("the matrix router has no source router for place-to-place times (attach one)")
        if self.snapped is None:
            snap = getattr(self.source, "snap", None)
            batch = snap(self.places, mode="drive", strict=False) if snap is not None else None
            self.snapped = batch if hasattr(batch, "take") else False
        if self.snapped is not False:
            a, b = self.snapped.take([o]), self.snapped.take([d])
        else:
            a, b = [self.places[o]], [self.places[d]]
        return float(self.source.matrix(a, b, mode="drive", profile=profile)[0, 0])

    def lower_bound(self, o: int, d: int, profile: str) -> float:
        """A lower bound on the seconds from place `o` to place `d` from the anchors (triangle inequality:
        t(o,a) <= t(o,d) + t(d,a) and t(a,d) <= t(a,o) + t(o,d) for every anchor a), without asking the source."""
        to, frm = self.to_anchor[profile], self.from_anchor[profile]
        with np.errstate(invalid="ignore"):
            gaps = np.concatenate([to[o] - to[d], frm[:, d] - frm[:, o]])
        gaps = gaps[np.isfinite(gaps)]
        # A millisecond of slack for rounding, so a bound never exceeds the exact time it stands for.
        return max(float(gaps.max()) - 1e-3, 0.0) if gaps.size else 0.0

    def _pairs(self, o: list[int], d: list[int], profile: str) -> FloatArray:
        """Seconds for each origin-destination index pair (broadcast)."""
        oi, di = np.broadcast_arrays(np.asarray(o, dtype=np.int64), np.asarray(d, dtype=np.int64))
        out = np.empty(oi.shape)
        dest_anchor = di < self.n_anchors
        out[dest_anchor] = self.to_anchor[profile][oi[dest_anchor], di[dest_anchor]]
        from_a = ~dest_anchor & (oi < self.n_anchors)
        out[from_a] = self.from_anchor[profile][oi[from_a], di[from_a]]
        for k in zip(*np.nonzero(~dest_anchor & ~from_a), strict=True):
            out[k] = self.time(int(oi[k]), int(di[k]), profile)
        return out

    def snap(self, points: Sequence[LatLon], *, mode: Mode = "drive", strict: bool = True) -> Any:
        """Places are already snapped: the list itself."""
        return list(points)

    def times_to(self, origins: Sequence[LatLon] | Any, destination: LatLon, *, mode: Mode = "drive",
                 profile: Profile = "emergency", limit_s: float = math.inf) -> FloatArray:
        """Seconds from each origin to `destination` (inf beyond `limit_s`)."""
        d = self.place(destination)
        oi = np.fromiter((self.place(o) for o in origins), np.int64, len(origins))
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
        o = self.place(origin)
        places = [self.place(d) for d in destinations]
        di = np.array(places, dtype=np.int64)
        if not places or max(places) < self.n_anchors:
            out = self.to_anchor[profile][o, di]
        elif o < self.n_anchors:
            out = self.from_anchor[profile][o, di]
        else:
            out = self._pairs([o], di.tolist(), profile)
        return np.where(out <= limit_s, out, np.inf)

    def matrix(self, origins: Sequence[LatLon] | Any, destinations: Sequence[LatLon] | Any, *,
               mode: Mode = "drive", profile: Profile = "emergency") -> FloatArray:
        """Origins x destinations seconds."""
        o = np.asarray([self.place(p) for p in origins])[:, None]
        d = np.asarray([self.place(p) for p in destinations])[None, :]
        return self._pairs(o.tolist(), d.tolist(), profile)

    def route(self, origin: LatLon, destination: LatLon, *, mode: Mode = "drive",
              profile: Profile = "emergency") -> Route:
        """A straight two-point route with the matrix time."""
        secs = self.time(self.place(origin), self.place(destination), profile)
        return Route(seconds=secs, meters=haversine_m(origin, destination), geometry=(origin, destination))

    def isochrone(self, origin: LatLon, seconds: float, *, mode: Mode = "drive",
                  profile: Profile = "emergency") -> dict[str, Any]:
        """Not offered by a matrix router."""
        raise Invalid("a matrix router cannot draw isochrones")


def build_matrix_router(source: Any, *, anchors: Sequence[LatLon], cells: Sequence[LatLon],
                        hospitals: Sequence[LatLon], zero: bool = False) -> MatrixRouter:
    """Precompute anchors -> places and places -> anchors for both profiles from `source` (all zero if `zero`)."""
    anchor_list = list(dict.fromkeys([*anchors, *hospitals]))
    anchor_set = set(anchor_list)
    places = anchor_list + [c for c in dict.fromkeys(cells) if c not in anchor_set]
    n = len(anchor_list)
    src = ZeroRouter() if zero or source is None else source
    frm: dict[str, FloatArray] = {}
    to: dict[str, FloatArray] = {}
    for profile in PROFILES:
        frm[profile] = np.asarray(src.matrix(anchor_list, places, mode="drive", profile=profile), float)
        to[profile] = np.asarray(src.matrix(places, anchor_list, mode="drive", profile=profile), float)
    return MatrixRouter(city=getattr(src, "city", "matrix"), places=places, n_anchors=n, from_anchor=frm,
                        to_anchor=to, source=src)


# ------------------------------------------------------------------------------------------------ moving units


@dataclass(frozen=True, slots=True)
class Moving(LatLon):
    """Where a unit between two places is, as the position dispatch routes it from: it left (or will reach, when
    `left_at` is ahead) place `left` at `left_at` and reaches place `to` at `to_at` (simulation seconds).
    Its latitude and longitude are those of `left`, for display and distances only."""

    left: int = 0
    left_at: float = 0.0
    to: int = 0
    to_at: float = 0.0


@dataclass
class FleetRouter:
    """The simulation's router for dispatch: `MatrixRouter` times, with `Moving` origins timed from their legs.

    `now_s` is the simulation clock (set before each question). For a moving origin the time to a destination is
    min(|now - left_at| + t(left, dest), max(to_at - now, 0) + t(to, dest)). Place-to-place times the matrix lacks
    (a unit that left a scene) are asked of the source only when a lower bound says they could be the fastest of
    the question's origins; otherwise that origin gets its other (upper-bound) time, or inf. So the fastest origin
    and its time are always exact; the others may be upper bounds.
    """

    base: MatrixRouter
    now_s: float = 0.0
    city: str = ""

    def __post_init__(self) -> None:
        self.city = self.city or self.base.city

    def _legs(self, o: Moving) -> tuple[tuple[int, float], tuple[int, float]]:
        """(place, seconds to get there) for the place left and the place ahead."""
        now = self.now_s
        return (o.left, abs(now - o.left_at)), (o.to, max(o.to_at - now, 0.0))

    def via(self, o: Moving, destination: LatLon, profile: str, eta_s: float) -> tuple[int, float]:
        """The place a moving unit goes through to reach `destination` in `eta_s` (its fastest time, as
        `times_to` gave it) and when it is there."""
        m, d = self.base, self.base.place(destination)
        best: tuple[float, int, float] | None = None
        for place, reach in self._legs(o):
            if d >= m.n_anchors and place >= m.n_anchors and reach + m.lower_bound(place, d, profile) > eta_s:
                continue  # this leg cannot be the fastest: no need to ask the source
            secs = reach + m.time(place, d, profile)
            if best is None or secs < best[0]:
                best = (secs, place, self.now_s + reach)
        if best is None:
            raise Invalid("a moving unit has no leg reaching the destination in the time given")
        return best[1], best[2]

    def times_to(self, origins: Sequence[LatLon] | Any, destination: LatLon, *, mode: Mode = "drive",
                 profile: Profile = "emergency", limit_s: float = math.inf) -> FloatArray:
        """Seconds from each origin (a place or a `Moving` unit) to `destination` (inf beyond `limit_s`)."""
        m, now = self.base, self.now_s
        d, na = m.place(destination), m.n_anchors
        # Plain Python on a handful of units: cheaper than array set-up. Legs through an anchor come from the
        # matrices; place-to-place legs wait in `far` for the bound.
        col = m.from_anchor[profile][:, d].tolist() if d >= na else None
        out: list[float] = []
        far: list[tuple[float, int, int]] = []  # (seconds to get to the place, origin, place)
        for k, o in enumerate(origins):
            if isinstance(o, Moving):
                best = math.inf
                for place, reach in ((o.left, abs(now - o.left_at)), (o.to, max(o.to_at - now, 0.0))):
                    if col is None:
                        best = min(best, reach + m.time(place, d, profile))
                    elif place < na:
                        best = min(best, reach + col[place])
                    else:
                        far.append((reach, k, place))
                out.append(best)
            else:
                place = m.place(o)
                out.append(col[place] if col is not None and place < na else m.time(place, d, profile))
        if far:
            self._far_legs(out, far, d, profile)
        res = np.asarray(out, dtype=np.float64)
        return np.where(res <= limit_s, res, np.inf)

    def _far_legs(self, out: list[float], far: list[tuple[float, int, int]], d: int, profile: str) -> None:
        """Place-to-place legs, asked of the source in order of their lower bound while they could beat the
        fastest origin so far (`out` is updated in place)."""
        m = self.base
        bound = min(out)
        far = [leg for leg in far if leg[0] <= bound]
        if not far:
            return
        low = [reach + m.lower_bound(place, d, profile) for reach, _k, place in far]
        for lb, (reach, k, place) in sorted(zip(low, far, strict=True)):
            if lb > bound:
                break
            out[k] = min(out[k], reach + m.time(place, d, profile))
            bound = min(bound, out[k])

    def times_from(self, origin: LatLon, destinations: Sequence[LatLon] | Any, *, mode: Mode = "drive",
                   profile: Profile = "emergency", limit_s: float = math.inf) -> FloatArray:
        """Seconds from a place to each destination."""
        return self.base.times_from(origin, destinations, profile=profile, limit_s=limit_s)

    def matrix(self, origins: Sequence[LatLon] | Any, destinations: Sequence[LatLon] | Any, *,
               mode: Mode = "drive", profile: Profile = "emergency") -> FloatArray:
        """Places x places seconds."""
        return self.base.matrix(origins, destinations, profile=profile)

    def route(self, origin: LatLon, destination: LatLon, *, mode: Mode = "drive",
              profile: Profile = "emergency") -> Route:
        """A straight two-point route between places."""
        return self.base.route(origin, destination, profile=profile)

    def snap(self, points: Sequence[LatLon], *, mode: Mode = "drive", strict: bool = True) -> Any:
        """Places are already snapped: the list itself."""
        return list(points)

    def isochrone(self, origin: LatLon, seconds: float, *, mode: Mode = "drive",
                  profile: Profile = "emergency") -> dict[str, Any]:
        """Not offered by a matrix router."""
        raise Invalid("a matrix router cannot draw isochrones")
