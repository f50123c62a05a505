"""Pure network model: one travel mode's directed graph as arrays, its compressed adjacency and edge snapping.

A `Network` holds node positions and, per directed arc, its length in metres and its travel time in seconds for
each profile (`emergency`/`regular` when driving, `walk` on foot). Nothing here reads files or the clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import shapely

from lifechain.geo.core import LocalProjection, haversine_many

if TYPE_CHECKING:
    from scipy import sparse

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
# Road classes stored as small integer codes; "other" covers JEMSS arcs (no class in the model).
ROAD_CLASSES = ("motorway", "trunk", "primary", "secondary", "tertiary", "unclassified", "residential",
                "living_street", "service", "footway", "path", "steps", "pedestrian", "cycleway", "track", "other")
WALK_KEY = "walk"
# scipy's sparse graphs drop explicit zeros on some paths; a tiny floor keeps zero-time arcs as arcs.
MIN_ARC_S = 1e-6


@dataclass(frozen=True)
class Network:
    """One travel mode's directed road or path graph: node positions and per-arc length and travel times."""

    lat: FloatArray
    lon: FloatArray
    tail: IntArray
    head: IntArray
    length_m: FloatArray
    seconds: dict[str, FloatArray]
    road_class: npt.NDArray[np.uint8]

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.lat.shape[0])

    @property
    def n_arcs(self) -> int:
        """Number of directed arcs."""
        return int(self.tail.shape[0])

    @property
    def keys(self) -> tuple[str, ...]:
        """The weight names this network carries (profiles, or `walk`)."""
        return tuple(sorted(self.seconds))

    def bbox(self) -> tuple[float, float, float, float]:
        """(min_lat, min_lon, max_lat, max_lon) of the nodes."""
        return (float(self.lat.min()), float(self.lon.min()), float(self.lat.max()), float(self.lon.max()))


def make_network(lat: Any, lon: Any, tail: Any, head: Any, seconds: dict[str, Any], *,
                 length_m: Any = None, road_class: Any = None) -> Network:
    """Build a `Network` from plain sequences; lengths default to the great-circle length of each arc."""
    lat_a, lon_a = np.asarray(lat, np.float64), np.asarray(lon, np.float64)
    tail_a, head_a = np.asarray(tail, np.int64), np.asarray(head, np.int64)
    if length_m is None:
        length_m = haversine_many(lat_a[tail_a], lon_a[tail_a], lat_a[head_a], lon_a[head_a])
    if road_class is None:
        road_class = np.full(tail_a.shape[0], ROAD_CLASSES.index("other"), np.uint8)
    secs = {k: np.maximum(np.asarray(v, np.float64), MIN_ARC_S) for k, v in seconds.items()}
    return Network(lat_a, lon_a, tail_a, head_a, np.asarray(length_m, np.float64), secs,
                   np.asarray(road_class, np.uint8))


@dataclass(frozen=True)
class Pruned:
    """A network reduced to its largest strongly connected component, with what was dropped."""

    network: Network
    dropped_nodes: int
    dropped_arcs: int
    components: int


def largest_scc(net: Network) -> Pruned:
    """Keep the largest strongly connected component (every kept node can reach and be reached from every other)."""
    from scipy import sparse
    from scipy.sparse import csgraph

    n = net.n_nodes
    if n == 0:
        return Pruned(net, 0, 0, 0)
    adj = sparse.coo_matrix((np.ones(net.n_arcs), (net.tail, net.head)), shape=(n, n)).tocsr()
    count, labels = csgraph.connected_components(adj, directed=True, connection="strong")
    biggest = int(np.bincount(labels).argmax())
    keep = labels == biggest
    new_id = np.full(n, -1, np.int64)
    new_id[keep] = np.arange(int(keep.sum()))
    arc_keep = keep[net.tail] & keep[net.head]
    kept = Network(net.lat[keep], net.lon[keep], new_id[net.tail[arc_keep]], new_id[net.head[arc_keep]],
                   net.length_m[arc_keep], {k: v[arc_keep] for k, v in net.seconds.items()},
                   net.road_class[arc_keep])
    return Pruned(kept, n - kept.n_nodes, net.n_arcs - kept.n_arcs, int(count))


@dataclass
class Adjacency:
    """Compressed rows of the fastest arc per (from, to) pair for one weight, with one spare "virtual" row.

    The spare row (index n) has two slots that a query fills with its start nodes and offsets, so a point in the
    middle of an arc becomes a single Dijkstra source; callers hold `lock` while the slots are in use.
    """

    matrix: sparse.csr_matrix
    length_m: FloatArray
    n: int

    def arc_slot(self, a: int, b: int) -> int:
        """Index into the data arrays of the arc a -> b (which must exist)."""
        lo, hi = self.matrix.indptr[a], self.matrix.indptr[a + 1]
        hits = np.flatnonzero(self.matrix.indices[lo:hi] == b)
        return int(lo + hits[0])


def build_adjacency(net: Network, key: str, *, reverse: bool = False) -> Adjacency:
    """Adjacency of `net` for weight `key` (fastest of parallel arcs kept), reversed if asked."""
    # scipy is imported here, not with the module: a server on the contraction hierarchy needs it only for
    # bounded searches, and importing it costs ~0.2 s of start-up.
    from scipy import sparse

    n = net.n_nodes
    frm, to = (net.head, net.tail) if reverse else (net.tail, net.head)
    w = net.seconds[key]
    order = np.lexsort((w, to, frm))
    frm_s, to_s, w_s, len_s = frm[order], to[order], w[order], net.length_m[order]
    first = np.ones(frm_s.shape[0], bool)
    first[1:] = (frm_s[1:] != frm_s[:-1]) | (to_s[1:] != to_s[:-1])
    frm_s, to_s, w_s, len_s = frm_s[first], to_s[first], w_s[first], len_s[first]
    counts = np.bincount(frm_s, minlength=n + 1)
    counts[n] = 2
    indptr = np.zeros(n + 2, np.int32)
    np.cumsum(counts, out=indptr[1:])
    indices = np.concatenate([to_s, [0, 0]]).astype(np.int32)
    data = np.concatenate([w_s, [np.inf, np.inf]]).astype(np.float64)
    lengths = np.concatenate([len_s, [0.0, 0.0]])
    mat = sparse.csr_matrix((data, indices, indptr), shape=(n + 1, n + 1))
    return Adjacency(mat, lengths, n)


@dataclass
class Segments:
    """The undirected segments under a network (one per connected node pair), for snapping points onto arcs.

    `fwd[key]`/`rev[key]` give the fastest time along u -> v / v -> u (`inf` when that direction is not allowed).
    """

    u: IntArray
    v: IntArray
    length_m: FloatArray
    fwd: dict[str, FloatArray]
    rev: dict[str, FloatArray]
    proj: LocalProjection
    xy: FloatArray
    lines: Any = field(repr=False)
    tree: Any = field(repr=False)


def build_segments(net: Network) -> Segments:
    """Group arcs into undirected segments and index their geometry for nearest-segment queries."""
    lo = np.minimum(net.tail, net.head)
    hi = np.maximum(net.tail, net.head)
    pair = lo * net.n_nodes + hi
    uniq, inv = np.unique(pair, return_inverse=True)
    u, v = uniq // net.n_nodes, uniq % net.n_nodes
    is_fwd = net.tail == lo
    fwd: dict[str, FloatArray] = {}
    rev: dict[str, FloatArray] = {}
    for key, w in net.seconds.items():
        f = np.full(uniq.shape[0], np.inf)
        r = np.full(uniq.shape[0], np.inf)
        np.minimum.at(f, inv[is_fwd], w[is_fwd])
        np.minimum.at(r, inv[~is_fwd], w[~is_fwd])
        fwd[key], rev[key] = f, r
    lat0 = float((net.lat.min() + net.lat.max()) / 2)
    lon0 = float((net.lon.min() + net.lon.max()) / 2)
    proj = LocalProjection(lat0, lon0)
    xy = proj.forward(net.lat, net.lon)
    lines = shapely.linestrings(np.stack([xy[u], xy[v]], axis=1))
    length = haversine_many(net.lat[u], net.lon[u], net.lat[v], net.lon[v])
    # Nodes of 4 rather than GEOS's default 10: nearest-segment queries for 300 points took about 40% less time
    # on both networks of Auckland and Helsinki, points near the roads or 500 m off; building it takes the same.
    return Segments(u, v, length, fwd, rev, proj, xy, lines, shapely.STRtree(lines, node_capacity=4))


@dataclass(frozen=True)
class SnapResult:
    """Where points fall on segments: segment index, fraction from u, off-road distance; -1 when too far."""

    seg: IntArray
    t: FloatArray
    offroad_m: FloatArray
    xy: FloatArray


def snap_points(segs: Segments, lat: Any, lon: Any, max_m: float) -> SnapResult:
    """Project each point onto its nearest segment (ties broken by lowest index); seg = -1 beyond `max_m`."""
    xy = segs.proj.forward(lat, lon).reshape(-1, 2)
    pts = shapely.points(xy)
    n = xy.shape[0]
    seg = np.full(n, -1, np.int64)
    # The nearest segment at any distance, then those too far dropped: the same answer as passing `max_distance`
    # to the query, which first collects every segment in a box of that size around each point (hundreds in a
    # city) and was 1.6 times slower for 300 points near the roads (`bench/dispatch_core.py`).
    idx, dist = segs.tree.query_nearest(pts, all_matches=True, return_distance=True)
    idx = idx[:, dist <= max_m]
    if idx.shape[1]:
        order = np.lexsort((idx[1], idx[0]))
        src, tgt = idx[0][order], idx[1][order]
        first = np.ones(src.shape[0], bool)
        first[1:] = src[1:] != src[:-1]
        seg[src[first]] = tgt[first]
    ok = seg >= 0
    t = np.zeros(n)
    off = np.full(n, np.inf)
    snapped_xy = xy.copy()
    if ok.any():
        a, b = segs.xy[segs.u[seg[ok]]], segs.xy[segs.v[seg[ok]]]
        ab = b - a
        denom = np.einsum("ij,ij->i", ab, ab)
        frac = np.einsum("ij,ij->i", xy[ok] - a, ab) / np.where(denom > 0, denom, 1.0)
        frac = np.clip(np.where(denom > 0, frac, 0.0), 0.0, 1.0)
        foot = a + frac[:, None] * ab
        t[ok] = frac
        off[ok] = np.hypot(*(xy[ok] - foot).T)
        snapped_xy[ok] = foot
    return SnapResult(seg, t, off, snapped_xy)


# Smallest zoom at which each road class is drawn on the base map.
CLASS_MIN_ZOOM = {"motorway": 0, "trunk": 0, "primary": 9, "secondary": 11, "tertiary": 12, "unclassified": 13,
                  "residential": 13, "living_street": 14, "service": 15, "footway": 15, "path": 15, "steps": 16,
                  "pedestrian": 14, "cycleway": 15, "track": 15, "other": 12}


def roads_geojson(net: Network, zoom: int) -> dict[str, Any]:
    """The network as a GeoJSON FeatureCollection, one MultiLineString per road class, simplified for `zoom`."""
    lo, hi = np.minimum(net.tail, net.head), np.maximum(net.tail, net.head)
    pairs, first = np.unique(np.stack([lo, hi], axis=1), axis=0, return_index=True)
    cls = net.road_class[first]
    lat0, lon0 = float(net.lat.mean()), float(net.lon.mean())
    proj = LocalProjection(lat0, lon0)
    xy = proj.forward(net.lat, net.lon)
    tolerance = 156_543.03 * np.cos(np.radians(lat0)) / 2**zoom  # one pixel at this zoom, in metres
    features = []
    for code, name in enumerate(ROAD_CLASSES):
        mask = cls == code
        if not mask.any() or zoom < CLASS_MIN_ZOOM[name]:
            continue
        lines = shapely.linestrings(np.stack([xy[pairs[mask, 0]], xy[pairs[mask, 1]]], axis=1))
        merged = shapely.simplify(shapely.line_merge(shapely.multilinestrings(lines)), tolerance)
        geo = shapely.transform(merged, lambda p: np.round(np.stack(proj.inverse(p)[::-1], axis=-1), 6))
        features.append({"type": "Feature", "properties": {"class": name, "segments": int(mask.sum())},
                         "geometry": shapely.geometry.mapping(geo)})
    return {"type": "FeatureCollection", "features": features}


def class_from_speed(kmh: Any) -> npt.NDArray[np.uint8]:
    """A road class guessed from a regular driving speed, for models (JEMSS) that carry no road classes."""
    bands = [(80.0, "motorway"), (60.0, "trunk"), (50.0, "primary"), (40.0, "secondary"), (30.0, "tertiary"),
             (0.0, "residential")]
    out = np.full(np.shape(kmh), ROAD_CLASSES.index("residential"), np.uint8)
    for limit, name in reversed(bands):
        out[np.asarray(kmh) >= limit] = ROAD_CLASSES.index(name)
    return out
