"""The `Router` engines: scipy's compiled Dijkstra and a customizable contraction hierarchy (pyroutingkit).

Both share snapping and the arithmetic that joins a point in the middle of an arc to the graph, so they answer
the same question and differ only in how node-to-node shortest paths are found. Pure: no files, no clock.

How a snapped point joins the graph: a point at fraction `t` along segment u-v leaves towards v in
`(1 - t) * time(u -> v)` and towards u in `t * time(v -> u)` (a direction that does not exist costs `inf`), plus
the off-road leg at the off-road speed. Two points on the same segment may also go straight along it.

Use from other domains (through `CityStore.router(city)` or `geo.views.router_for(request, city)`):
    volunteers = router.snap(positions, mode="walk", strict=False)  # once; far-away points become `inf`
    secs = router.times_from(incident, volunteers, mode="walk", limit_s=360)  # per incident, vectorised
    etas = router.times_to(unit_positions, incident, profile="emergency", limit_s=1800)
A `Snapped` caches its offsets per network, so asking about the same points again costs only array lookups.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely

from lifechain.errors import Invalid
from lifechain.geo.core import (
    FloatArray,
    LatLon,
    Mode,
    OffNetwork,
    Profile,
    Route,
    Unreachable,
    check_mode,
    check_profile,
)
from lifechain.geo.network import (
    WALK_KEY,
    Adjacency,
    IntArray,
    Network,
    Segments,
    build_adjacency,
    build_segments,
    snap_points,
)

INF = float("inf")
# Chunk of Dijkstra sources per call in matrix queries (bounds memory to chunk x nodes floats).
MATRIX_CHUNK = 64


@dataclass(frozen=True)
class Snapped:
    """Points projected onto one mode's network: pass it instead of `LatLon`s to skip snapping again."""

    mode: Mode
    lat: FloatArray
    lon: FloatArray
    seg: IntArray
    t: FloatArray
    offroad_m: FloatArray
    snapped_lat: FloatArray
    snapped_lon: FloatArray
    # Offsets to the segment ends per (network, weight, direction), so pre-snapped points cost only lookups.
    # An entry is used only while the network and this object's arrays are the very ones it was built from, so a
    # `dataclasses.replace` copy (which shares the dict) never reads another point set's offsets.
    cache: dict[tuple[str, str, float], tuple[tuple[Any, ...], _Ends]] = field(default_factory=dict, compare=False,
                                                                               repr=False)

    def __len__(self) -> int:
        return int(self.seg.shape[0])

    @classmethod
    def concat(cls, parts: Sequence[Snapped]) -> Snapped:
        """Several snapped batches of one mode as one (e.g. units and stations), in order."""
        modes = {p.mode for p in parts}
        if len(modes) != 1:
            raise Invalid(f"cannot join points snapped for different modes: {sorted(modes)}")
        def join(name: str) -> Any:
            return np.concatenate([getattr(p, name) for p in parts])

        return cls(parts[0].mode, join("lat"), join("lon"), join("seg"), join("t"), join("offroad_m"),
                   join("snapped_lat"), join("snapped_lon"))

    def take(self, idx: Any) -> Snapped:
        """A subset of these points (index array or slice)."""
        return Snapped(self.mode, self.lat[idx], self.lon[idx], self.seg[idx], self.t[idx], self.offroad_m[idx],
                       self.snapped_lat[idx], self.snapped_lon[idx])


class SnapCache:
    """Remembers where points were snapped, so positions asked about again (stations, parked units, GPS fixes
    that have not moved) cost a dictionary lookup instead of a spatial search. Bounded: cleared when full."""

    def __init__(self, max_points: int = 200_000) -> None:
        self.max_points = max_points
        self._rows: dict[tuple[float, float], int] = {}
        self._store: Snapped | None = None
        self._lock = threading.Lock()

    def lookup(self, points: Sequence[LatLon], snap: Any) -> Snapped:
        """The points snapped, in order; `snap(missing)` snaps (and may refuse) the ones not seen before."""
        keys = [(p.lat, p.lon) for p in points]
        with self._lock:
            missing = list(dict.fromkeys(k for k in keys if k not in self._rows))
        if missing:
            try:
                fresh: Snapped = snap([LatLon(lat, lon) for lat, lon in missing])
            except OffNetwork:
                snap(list(points))  # raise again with the index of the offending point among those asked about
                raise
            with self._lock:
                if self._store is not None and len(self._store) + len(fresh) > self.max_points:
                    self._rows, self._store = {}, None
                base = 0 if self._store is None else len(self._store)
                self._store = fresh if self._store is None else Snapped.concat([self._store, fresh])
                for i, k in enumerate(missing):
                    self._rows[k] = base + i
        with self._lock:
            rows = [self._rows.get(k) for k in keys]
            store = self._store
        if store is None or any(r is None for r in rows):  # cleared by a concurrent fill: snap directly
            result: Snapped = snap([LatLon(lat, lon) for lat, lon in keys])
            return result
        return store.take(np.asarray(rows, dtype=np.int64))


@dataclass
class _Ends:
    """The two graph nodes a set of snapped points touch, with the seconds to leave to (or arrive from) each."""

    u: IntArray
    v: IntArray
    off_u: FloatArray
    off_v: FloatArray


class ModeGraph:
    """One mode's network with its snapping index and adjacencies (forward and reversed), each built on first use:
    a server starts answering before it has built them all (`warm` builds them in the background)."""

    def __init__(self, net: Network) -> None:
        self.net = net
        self._segs: Segments | None = None
        self._segs_lock = threading.Lock()
        self._adj: dict[tuple[str, bool], Adjacency] = {}
        self._locks: dict[tuple[str, bool], threading.Lock] = {}
        self._build_lock = threading.Lock()

    @property
    def segs(self) -> Segments:
        """The undirected segments and their spatial index, for snapping (built on first use)."""
        segs = self._segs
        if segs is None:
            with self._segs_lock:
                if self._segs is None:
                    self._segs = build_segments(self.net)
                segs = self._segs
        return segs

    def adjacency(self, key: str, reverse: bool) -> tuple[Adjacency, threading.Lock]:
        """The adjacency for weight `key` (reversed if asked) and the lock guarding its virtual row."""
        with self._build_lock:
            if (key, reverse) not in self._adj:
                self._adj[(key, reverse)] = build_adjacency(self.net, key, reverse=reverse)
                self._locks[(key, reverse)] = threading.Lock()
        return self._adj[(key, reverse)], self._locks[(key, reverse)]

    def warm(self) -> None:
        """Build the snapping index and every adjacency now."""
        _ = self.segs
        for key in self.net.seconds:
            for reverse in (False, True):
                self.adjacency(key, reverse)


class ScipyRouter:
    """Travel times by scipy's compiled Dijkstra (bounded with `limit`) on the compiled city arrays."""

    engine = "scipy"

    def __init__(self, city: str, networks: dict[str, Network], *, offroad_speed_mps: float = 1.4,
                 snap_max_distance_m: float = 1000.0) -> None:
        self.city = city
        self.graphs = {mode: ModeGraph(net) for mode, net in networks.items()}
        self.offroad_speed_mps = offroad_speed_mps
        self.snap_max_distance_m = snap_max_distance_m
        self.snap_caches = {mode: SnapCache() for mode in networks}

    def warm(self) -> None:
        """Prepare everything a first query would otherwise build."""
        for g in self.graphs.values():
            g.warm()

    # ---- points -------------------------------------------------------------------------------------------
    def _graph(self, mode: str) -> ModeGraph:
        m = check_mode(mode)
        if m not in self.graphs:
            raise Invalid(f"city {self.city!r} has no {m} network")
        return self.graphs[m]

    def snap(self, points: Sequence[LatLon], *, mode: Mode = "drive", strict: bool = True) -> Snapped:
        """Snap points onto the network of `mode`; raises `OffNetwork` naming the first point too far from it.

        With `strict=False` a point too far away is kept with an infinite off-road leg instead, so every time
        to or from it is `inf` (useful when pre-snapping thousands of volunteers, some of them out of town).
        """
        g = self._graph(mode)
        lat = np.array([p.lat for p in points], np.float64)
        lon = np.array([p.lon for p in points], np.float64)
        return self.snap_arrays(lat, lon, mode=mode, strict=strict, graph=g)

    def snap_arrays(self, lat: Any, lon: Any, *, mode: Mode = "drive", strict: bool = True,
                    graph: ModeGraph | None = None) -> Snapped:
        """Snap points given as latitude and longitude arrays (degrees); see `snap`."""
        g = graph or self._graph(mode)
        lat, lon = np.asarray(lat, np.float64).reshape(-1), np.asarray(lon, np.float64).reshape(-1)
        res = snap_points(g.segs, lat, lon, self.snap_max_distance_m)
        far = np.flatnonzero(res.seg < 0)
        if far.size and strict:
            i = int(far[0])
            raise OffNetwork(
                f"point {i} ({lat[i]:.6f}, {lon[i]:.6f}) is more than {self.snap_max_distance_m:g} m from the "
                f"{mode} network of {self.city}", index=i, lat=float(lat[i]), lon=float(lon[i]))
        seg, off = res.seg.copy(), res.offroad_m.copy()
        seg[far], off[far] = 0, np.inf
        slat, slon = g.segs.proj.inverse(res.xy)
        return Snapped(check_mode(mode), lat, lon, seg, res.t, off, slat, slon)

    def _as_snapped(self, points: Sequence[LatLon] | Snapped, mode: Mode) -> Snapped:
        if isinstance(points, Snapped):
            if points.mode != mode:
                raise Invalid(f"points were snapped for {points.mode}, asked about {mode}")
            return points
        cache = self.snap_caches.get(mode)
        if cache is None:  # a mode this city lacks: `snap` refuses it with the reason
            return self.snap(points, mode=mode)
        return cache.lookup(points, lambda missing: self.snap(missing, mode=mode))

    def _one(self, point: LatLon, mode: Mode, name: str) -> Snapped:
        """`point` snapped; too far from the network, it is refused as `name` ("origin") rather than "point 0"."""
        return _named(lambda: self.snap([point], mode=mode), name, single=True)

    def _many(self, points: Sequence[LatLon] | Snapped, mode: Mode, name: str) -> Snapped:
        """`points` snapped (through the cache); one too far from the network is refused as `name[i]`."""
        return _named(lambda: self._as_snapped(points, mode), name, single=False)

    @staticmethod
    def _key(mode: Mode, profile: Profile) -> str:
        check_profile(profile)
        return WALK_KEY if mode == "walk" else profile

    def _leave(self, g: ModeGraph, s: Snapped, key: str) -> _Ends:
        """Seconds from each point to the segment's u and v nodes (off-road leg included)."""
        return self._ends(g, s, key, "leave")

    def _arrive(self, g: ModeGraph, s: Snapped, key: str) -> _Ends:
        """Seconds from the segment's u and v nodes to each point (off-road leg included)."""
        return self._ends(g, s, key, "arrive")

    def _ends(self, g: ModeGraph, s: Snapped, key: str, way: str) -> _Ends:
        """Leaving towards u runs the segment backwards (and towards v forwards); arriving is the mirror image."""
        tag = (key, way, self.offroad_speed_mps)
        owners = (g.segs, s.seg, s.t, s.offroad_m)
        hit = s.cache.get(tag)
        if hit is not None and all(a is b for a, b in zip(hit[0], owners, strict=True)):
            return hit[1]
        to_u, to_v = (g.segs.rev, g.segs.fwd) if way == "leave" else (g.segs.fwd, g.segs.rev)
        off = s.offroad_m / self.offroad_speed_mps
        seg = s.seg
        ends = _Ends(g.segs.u[seg], g.segs.v[seg], off + _part(s.t, to_u[key][seg]),
                     off + _part(1 - s.t, to_v[key][seg]))
        s.cache[tag] = (owners, ends)
        return ends

    def _direct(self, g: ModeGraph, o: Snapped, d: Snapped, key: str) -> FloatArray:
        """Origins x destinations seconds going straight along a shared segment (`inf` elsewhere)."""
        same = o.seg[:, None] == d.seg[None, :]
        out = np.full(same.shape, INF)
        if not same.any():
            return out
        i, j = np.nonzero(same)
        seg = o.seg[i]
        dt = d.t[j] - o.t[i]
        along = np.where(dt >= 0, _part(dt, g.segs.fwd[key][seg]), _part(-dt, g.segs.rev[key][seg]))
        out[i, j] = along + (o.offroad_m[i] + d.offroad_m[j]) / self.offroad_speed_mps
        return out

    # ---- node-level search (the engine-specific part) -------------------------------------------------------
    def _sssp(self, g: ModeGraph, key: str, ends: _Ends, i: int, *, reverse: bool, limit: float,
              predecessors: bool = False) -> Any:
        """Seconds from point `i` (its two ends) to every node, or from every node to it when `reverse`."""
        adj, lock = g.adjacency(key, reverse)
        nodes = np.array([ends.u[i], ends.v[i]], np.int32)
        offs = np.array([ends.off_u[i], ends.off_v[i]], np.float64)
        if not np.isfinite(offs).any():
            dist = np.full(adj.n, INF)
            return (dist, np.full(adj.n, -9999, np.int32)) if predecessors else dist
        bad = ~np.isfinite(offs)
        nodes[bad], offs[bad] = nodes[~bad][0], offs[~bad][0]
        from scipy.sparse import csgraph  # imported on first use: see build_adjacency

        slot = adj.matrix.indptr[adj.n]
        with lock:
            adj.matrix.indices[slot:slot + 2] = nodes
            adj.matrix.data[slot:slot + 2] = np.maximum(offs, 1e-9)
            res = csgraph.dijkstra(adj.matrix, directed=True, indices=adj.n, limit=limit,
                                   return_predecessors=predecessors)
        if predecessors:
            return res[0][: adj.n], res[1][: adj.n]
        return res[: adj.n]

    def _node_matrix(self, g: ModeGraph, key: str, src: IntArray, dst: IntArray) -> FloatArray:
        """Seconds between graph nodes, sources x targets."""
        from scipy.sparse import csgraph

        adj, _lock = g.adjacency(key, False)
        uniq, inv = np.unique(src, return_inverse=True)
        out = np.empty((uniq.shape[0], dst.shape[0]))
        for lo in range(0, uniq.shape[0], MATRIX_CHUNK):
            d = csgraph.dijkstra(adj.matrix, directed=True, indices=uniq[lo:lo + MATRIX_CHUNK])
            out[lo:lo + MATRIX_CHUNK] = d[:, dst]
        return out[inv]

    # ---- the Router protocol --------------------------------------------------------------------------------
    def times_from(self, origin: LatLon, destinations: Sequence[LatLon] | Snapped, *, mode: Mode = "drive",
                   profile: Profile = "emergency", limit_s: float = INF) -> FloatArray:
        """One-to-many: seconds from `origin` to each destination, `inf` beyond `limit_s`."""
        g, key = self._graph(mode), self._key(mode, profile)
        o, d = self._one(origin, mode, "origin"), self._many(destinations, mode, "destinations")
        if (none := _nothing_within(limit_s, len(d))) is not None:
            return none
        dist = self._sssp(g, key, self._leave(g, o, key), 0, reverse=False, limit=limit_s)
        a = self._arrive(g, d, key)
        res: FloatArray = np.minimum(dist[a.u] + a.off_u, dist[a.v] + a.off_v)
        res = np.minimum(res, self._direct(g, o, d, key)[0])
        res[res > limit_s] = INF
        return res

    def times_to(self, origins: Sequence[LatLon] | Snapped, destination: LatLon, *, mode: Mode = "drive",
                 profile: Profile = "emergency", limit_s: float = INF) -> FloatArray:
        """Many-to-one: seconds from each origin to `destination`, `inf` beyond `limit_s`."""
        g, key = self._graph(mode), self._key(mode, profile)
        o, d = self._many(origins, mode, "origins"), self._one(destination, mode, "destination")
        if (none := _nothing_within(limit_s, len(o))) is not None:
            return none
        dist = self._sssp(g, key, self._arrive(g, d, key), 0, reverse=True, limit=limit_s)
        lv = self._leave(g, o, key)
        res: FloatArray = np.minimum(lv.off_u + dist[lv.u], lv.off_v + dist[lv.v])
        res = np.minimum(res, self._direct(g, o, d, key)[:, 0])
        res[res > limit_s] = INF
        return res

    def matrix(self, origins: Sequence[LatLon] | Snapped, destinations: Sequence[LatLon] | Snapped, *,
               mode: Mode = "drive", profile: Profile = "emergency") -> FloatArray:
        """Many-to-many: an origins x destinations array of seconds (`inf` where unreachable)."""
        g, key = self._graph(mode), self._key(mode, profile)
        o, d = self._many(origins, mode, "origins"), self._many(destinations, mode, "destinations")
        lv, ar = self._leave(g, o, key), self._arrive(g, d, key)
        m = len(o)
        src = np.concatenate([lv.u, lv.v])
        dst = np.concatenate([ar.u, ar.v])
        nm = self._node_matrix(g, key, src, dst)
        n = len(d)
        best = np.full((m, n), INF)
        for si, soff in ((slice(0, m), lv.off_u), (slice(m, 2 * m), lv.off_v)):
            for ti, toff in ((slice(0, n), ar.off_u), (slice(n, 2 * n), ar.off_v)):
                np.minimum(best, soff[:, None] + nm[si, ti] + toff[None, :], out=best)
        out: FloatArray = np.minimum(best, self._direct(g, o, d, key))
        return out

    def route(self, origin: LatLon, destination: LatLon, *, mode: Mode = "drive",
              profile: Profile = "emergency") -> Route:
        """Fastest path between two points; raises `Unreachable` when none exists."""
        g, key = self._graph(mode), self._key(mode, profile)
        o, d = self._one(origin, mode, "origin"), self._one(destination, mode, "destination")
        dist, pred = self._sssp(g, key, self._leave(g, o, key), 0, reverse=False, limit=INF, predecessors=True)
        a = self._arrive(g, d, key)
        ends = [(float(dist[a.u[0]] + a.off_u[0]), int(a.u[0])), (float(dist[a.v[0]] + a.off_v[0]), int(a.v[0]))]
        secs, end = min(ends)
        direct = float(self._direct(g, o, d, key)[0, 0])
        if not np.isfinite(min(secs, direct)):
            raise Unreachable(f"no {mode} path from ({origin.lat}, {origin.lon}) to "
                              f"({destination.lat}, {destination.lon}) in {self.city}")
        if direct <= secs:
            return self._direct_route(g, o, d, direct)
        adj, _ = g.adjacency(key, False)
        nodes = [end]
        while pred[nodes[-1]] >= 0 and pred[nodes[-1]] != adj.n:
            nodes.append(int(pred[nodes[-1]]))
        nodes.reverse()
        arc_m = sum(float(adj.length_m[adj.arc_slot(x, y)]) for x, y in itertools.pairwise(nodes))
        return self._assemble(g, o, d, nodes, secs, arc_m)

    def _assemble(self, g: ModeGraph, o: Snapped, d: Snapped, nodes: list[int], secs: float,
                  arc_m: float) -> Route:
        """Route geometry and length from origin through graph `nodes` to destination."""
        segs = g.segs
        first, last = nodes[0], nodes[-1]
        lead = (o.t[0] if first == segs.u[o.seg[0]] else 1 - o.t[0]) * segs.length_m[o.seg[0]]
        tail = (d.t[0] if last == segs.u[d.seg[0]] else 1 - d.t[0]) * segs.length_m[d.seg[0]]
        meters = float(o.offroad_m[0] + lead + arc_m + tail + d.offroad_m[0])
        pts = [(o.lat[0], o.lon[0]), (o.snapped_lat[0], o.snapped_lon[0])]
        pts += [(g.net.lat[n], g.net.lon[n]) for n in nodes]
        pts += [(d.snapped_lat[0], d.snapped_lon[0]), (d.lat[0], d.lon[0])]
        return Route(secs, meters, _dedupe(pts))

    def _direct_route(self, g: ModeGraph, o: Snapped, d: Snapped, secs: float) -> Route:
        along = abs(float(d.t[0] - o.t[0])) * float(g.segs.length_m[o.seg[0]])
        pts = [(o.lat[0], o.lon[0]), (o.snapped_lat[0], o.snapped_lon[0]),
               (d.snapped_lat[0], d.snapped_lon[0]), (d.lat[0], d.lon[0])]
        return Route(secs, float(o.offroad_m[0] + along + d.offroad_m[0]), _dedupe(pts))

    def isochrone(self, origin: LatLon, seconds: float, *, mode: Mode = "drive",
                  profile: Profile = "emergency") -> dict[str, Any]:
        """The area reachable from `origin` within `seconds`, as a GeoJSON Polygon or MultiPolygon geometry."""
        if not (seconds > 0 and np.isfinite(seconds)):
            raise Invalid(f"isochrone seconds must be a positive number, got {seconds}")
        g, key = self._graph(mode), self._key(mode, profile)
        o = self._one(origin, mode, "origin")
        dist = self._sssp(g, key, self._leave(g, o, key), 0, reverse=False, limit=seconds)
        return isochrone_geometry(g, key, o, dist, seconds, self.offroad_speed_mps, mode)


def _named(snap: Callable[[], Snapped], name: str, *, single: bool) -> Snapped:
    """Run `snap`; a point too far from the network is refused under the caller's name for it ("destination",
    "origins[3]"; in the message and as `point` in the detail) instead of "point i", which was ambiguous when a
    call snaps its origins and destinations apart. The detail's `index` stays the point's index in its list."""
    try:
        return snap()
    except OffNetwork as exc:
        i = exc.detail.get("index", 0)
        label = name if single else f"{name}[{i}]"
        raise OffNetwork(exc.message.replace(f"point {i} ", f"{label} ", 1), **{**exc.detail, "point": label}) from None


def _nothing_within(limit_s: float, count: int) -> FloatArray | None:
    """All-`inf` answer for a negative limit (nothing is reachable in less than no time); refuses NaN."""
    if np.isnan(limit_s):
        raise Invalid("time limit must be a number of seconds, got NaN")
    return np.full(count, INF) if limit_s < 0 else None


def _part(frac: FloatArray, seconds: FloatArray) -> FloatArray:
    """`frac * seconds`, where no distance to cover costs nothing even along a forbidden direction."""
    with np.errstate(invalid="ignore"):
        return np.where(frac <= 0, 0.0, frac * seconds)


def _dedupe(pts: list[tuple[float, float]]) -> tuple[LatLon, ...]:
    out: list[LatLon] = []
    for lat, lon in pts:
        p = LatLon(float(lat), float(lon))
        if not out or out[-1] != p:
            out.append(p)
    return tuple(out)


def isochrone_geometry(g: ModeGraph, key: str, o: Snapped, dist: FloatArray, seconds: float,
                       offroad_speed: float, mode: str) -> dict[str, Any]:
    """Buffer the reached parts of every segment into a polygon (lat/lon GeoJSON geometry)."""
    s = g.segs
    du, dv = dist[s.u], dist[s.v]
    with np.errstate(invalid="ignore"):  # unreached end over a forbidden direction: inf / inf, no reach
        from_u = np.clip((seconds - du) / s.fwd[key], 0, 1)
        from_v = np.clip((seconds - dv) / s.rev[key], 0, 1)
    from_u, from_v = np.nan_to_num(from_u), np.nan_to_num(from_v)
    whole = from_u + from_v >= 1
    a, b = s.xy[s.u], s.xy[s.v]
    pieces = [np.stack([a[whole], b[whole]], axis=1)]
    pu = (~whole) & (from_u > 0)
    pieces.append(np.stack([a[pu], a[pu] + from_u[pu, None] * (b[pu] - a[pu])], axis=1))
    pv = (~whole) & (from_v > 0)
    pieces.append(np.stack([b[pv], b[pv] + from_v[pv, None] * (a[pv] - b[pv])], axis=1))
    left = seconds - o.offroad_m[0] / offroad_speed
    seg0, t0 = int(o.seg[0]), float(o.t[0])
    start = a[seg0] + t0 * (b[seg0] - a[seg0])
    if left > 0:
        reach_v = min(1.0, t0 + left / s.fwd[key][seg0]) if np.isfinite(s.fwd[key][seg0]) else t0
        reach_u = max(0.0, t0 - left / s.rev[key][seg0]) if np.isfinite(s.rev[key][seg0]) else t0
        pieces.append(np.array([[a[seg0] + reach_u * (b[seg0] - a[seg0]), a[seg0] + reach_v * (b[seg0] - a[seg0])]]))
    lines = np.concatenate(pieces)
    radius = 25.0 if mode == "walk" else 40.0
    # Merging segments into chains, thinning them to half the buffer radius and unioning small buffers is
    # far faster in GEOS than buffering one multi-line (Auckland 8 min drive: 1.9 s -> 0.2 s).
    if lines.shape[0]:
        chains = shapely.get_parts(shapely.line_merge(shapely.multilinestrings(shapely.linestrings(lines))))
        geoms = shapely.simplify(chains, radius / 2)
    else:
        geoms = shapely.points([start])
    shape = shapely.union_all(shapely.buffer(geoms, radius, quad_segs=2))
    shape = shapely.simplify(shape, radius / 4)
    shape = shapely.transform(shape, lambda xy: np.stack(s.proj.inverse(xy)[::-1], axis=-1))
    return dict(shapely.geometry.mapping(shape))


def build_topology(net: Network, *, reverse: bool = False) -> Any:
    """The contraction order (nested dissection) of a network, or of its reverse; weight-independent."""
    import pyroutingkit

    tail, head = (net.head, net.tail) if reverse else (net.tail, net.head)
    topo = pyroutingkit.CCHTopology()
    topo.build(tail.astype(np.uint32), head.astype(np.uint32), net.lat.astype(np.float32),
               net.lon.astype(np.float32), net.n_nodes)
    return topo


def topology_name(mode: str, reverse: bool) -> str:
    """Folder name of a stored topology."""
    return f"{mode}-rev" if reverse else mode


def to_millis(seconds: FloatArray) -> Any:
    """Arc weights as integer milliseconds, the unit the contraction hierarchy adds up."""
    return np.minimum(np.rint(seconds * 1000.0), 2**31 - 2).astype(np.uint32)


class CHRouter(ScipyRouter):
    """Travel times by a customizable contraction hierarchy (RoutingKit via pyroutingkit).

    Point-to-point, matrices and wide many-to-one / one-to-many questions go through the hierarchy; questions
    bounded by a short limit, or about very many points, stay on the bounded Dijkstra, which the benchmark found
    faster for them (see docs/decisions/geo-routing-engine.md).
    """

    engine = "ch"
    # A bounded Dijkstra settles few nodes under these limits (seconds) and beats the hierarchy.
    dijkstra_below_s: dict[str, float] = {"drive": 600.0, "walk": 1800.0}
    # Above this many points a single Dijkstra beats a many-to-many search.
    ch_max_points = 2000

    def __init__(self, city: str, networks: dict[str, Network], *, topologies: dict[str, Any] | None = None,
                 topology_loader: Callable[[str], Any] | None = None, offroad_speed_mps: float = 1.4,
                 snap_max_distance_m: float = 1000.0) -> None:
        super().__init__(city, networks, offroad_speed_mps=offroad_speed_mps,
                         snap_max_distance_m=snap_max_distance_m)
        # One metric per (mode, weight, direction), customized on first use (`warm` builds them all): the
        # hierarchy's many-to-many is fast for few sources and many targets, so "many to one" runs as
        # "one to many" on the reversed graph. A topology (contraction order) comes from `topologies`, else from
        # `topology_loader(name)` on first use (None: not stored), else is computed.
        self._topologies: dict[str, Any] = dict(topologies or {})
        self._topology_loader = topology_loader
        self._metrics: dict[tuple[str, str, bool], tuple[Any, threading.Lock]] = {}
        self._metrics_lock = threading.Lock()

    def _metric(self, mode: str, key: str, reverse: bool) -> tuple[Any, threading.Lock]:
        """The customized hierarchy for one mode, weight and direction, with the lock guarding its queries."""
        found = self._metrics.get((mode, key, reverse))
        if found is not None:
            return found
        import pyroutingkit

        with self._metrics_lock:
            if (mode, key, reverse) not in self._metrics:
                net = self.graphs[mode].net
                name = topology_name(mode, reverse)
                if name not in self._topologies and self._topology_loader is not None:
                    self._topologies[name] = self._topology_loader(name)
                if self._topologies.get(name) is None:
                    self._topologies[name] = build_topology(net, reverse=reverse)
                metric = pyroutingkit.CCHMetric(self._topologies[name])
                metric.customize(to_millis(net.seconds[key]))
                self._metrics[(mode, key, reverse)] = (metric, threading.Lock())
            return self._metrics[(mode, key, reverse)]

    def warm(self) -> None:
        """Build everything now rather than on first use: first what a route on the first network needs (its
        snapping index and forward metrics), then the other metrics, then the bounded Dijkstra's adjacencies."""
        for mode, g in self.graphs.items():
            _ = g.segs
            for reverse in (False, True):
                for key in g.net.seconds:
                    self._metric(mode, key, reverse)
        super().warm()

    def _use_dijkstra(self, mode: Mode, points: Sequence[LatLon] | Snapped, limit_s: float) -> bool:
        bounded_short = not limit_s > self.dijkstra_below_s[check_mode(mode)]  # NaN and negatives too
        return len(points) > self.ch_max_points or bounded_short

    def times_from(self, origin: LatLon, destinations: Sequence[LatLon] | Snapped, *, mode: Mode = "drive",
                   profile: Profile = "emergency", limit_s: float = INF) -> FloatArray:
        """One-to-many: seconds from `origin` to each destination, `inf` beyond `limit_s`."""
        if self._use_dijkstra(mode, destinations, limit_s):
            return super().times_from(origin, destinations, mode=mode, profile=profile, limit_s=limit_s)
        res: FloatArray = self.matrix([origin], destinations, mode=mode, profile=profile)[0]
        res[res > limit_s] = INF
        return res

    def times_to(self, origins: Sequence[LatLon] | Snapped, destination: LatLon, *, mode: Mode = "drive",
                 profile: Profile = "emergency", limit_s: float = INF) -> FloatArray:
        """Many-to-one: seconds from each origin to `destination`, `inf` beyond `limit_s`."""
        if self._use_dijkstra(mode, origins, limit_s):
            return super().times_to(origins, destination, mode=mode, profile=profile, limit_s=limit_s)
        res: FloatArray = self.matrix(origins, [destination], mode=mode, profile=profile)[:, 0]
        res[res > limit_s] = INF
        return res

    def _node_matrix(self, g: ModeGraph, key: str, src: IntArray, dst: IntArray) -> FloatArray:
        mode = next(m for m, gg in self.graphs.items() if gg is g)
        src_u, src_inv = np.unique(src, return_inverse=True)
        dst_u, dst_inv = np.unique(dst, return_inverse=True)
        reverse = src_u.shape[0] > dst_u.shape[0]
        metric, lock = self._metric(mode, key, reverse)
        with lock:
            if reverse:
                raw = metric.distances_many_to_many(dst_u.astype(np.uint32), src_u.astype(np.uint32)).T
            else:
                raw = metric.distances_many_to_many(src_u.astype(np.uint32), dst_u.astype(np.uint32))
        out: FloatArray = raw.astype(np.float64) / 1000.0
        out[raw >= 2**31 - 1] = INF
        return out[np.ix_(src_inv.reshape(-1), dst_inv.reshape(-1))]

    def route(self, origin: LatLon, destination: LatLon, *, mode: Mode = "drive",
              profile: Profile = "emergency") -> Route:
        """Fastest path between two points; raises `Unreachable` when none exists."""
        g, key = self._graph(mode), self._key(mode, profile)
        o, d = self._one(origin, mode, "origin"), self._one(destination, mode, "destination")
        lv, ar = self._leave(g, o, key), self._arrive(g, d, key)
        metric, lock = self._metric(check_mode(mode), key, False)
        best: tuple[float, list[int], float] = (INF, [], 0.0)
        for a, oa in ((int(lv.u[0]), float(lv.off_u[0])), (int(lv.v[0]), float(lv.off_v[0]))):
            for b, ob in ((int(ar.u[0]), float(ar.off_u[0])), (int(ar.v[0]), float(ar.off_v[0]))):
                if not (np.isfinite(oa) and np.isfinite(ob)):
                    continue
                with lock:
                    raw, nodes, arcs = metric.query(a, b)
                if raw >= 2**31 - 1:
                    continue
                arcs_a = np.asarray(arcs, np.int64)
                secs = oa + float(g.net.seconds[key][arcs_a].sum()) + ob
                if secs < best[0]:
                    best = (secs, [int(n) for n in nodes] or [a], float(g.net.length_m[arcs_a].sum()))
        direct = float(self._direct(g, o, d, key)[0, 0])
        if direct <= best[0]:
            if not np.isfinite(direct):
                raise Unreachable(f"no {mode} path from ({origin.lat}, {origin.lon}) to "
                                  f"({destination.lat}, {destination.lon}) in {self.city}")
            return self._direct_route(g, o, d, direct)
        return self._assemble(g, o, d, best[1], best[0], best[2])
