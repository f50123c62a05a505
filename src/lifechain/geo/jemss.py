"""Read a JEMSS city model (multi-table CSV, times in days) into driving and walking networks plus its places.

A model folder holds `travel/roads/roads.zip` (`nodes.csv`: index, x = lon, y = lat; `arcs.csv`: fromNode, toNode,
optional distance in km, one travel time per mode in days), `stations/stations_1.csv` and
`hospitals/hospitals_1.csv`. Mode 1 (lights and sirens) becomes the `emergency` profile, mode 2 `regular`.
The walking network is derived from the road graph: every connected node pair in both directions, its great-circle
length at the walking speed.
"""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lifechain.errors import Invalid
from lifechain.geo.network import WALK_KEY, Network, class_from_speed, make_network
from lifechain.geo.osm import OsmCity

DAY_S = 86_400.0


def read_tables(text: str) -> dict[str, pd.DataFrame]:
    """Split a JEMSS multi-table CSV into DataFrames by table name (a name row, a header row, data rows)."""
    lines = text.splitlines()
    tables: dict[str, pd.DataFrame] = {}
    i = 0
    while i < len(lines):
        first = next(csv.reader([lines[i]]), [""])
        if not first or not first[0].strip():
            i += 1
            continue
        name, start = first[0].strip(), i + 1
        end = start + 1
        while end < len(lines) and next(csv.reader([lines[end]]), [""])[0].strip():
            end += 1
        if start < len(lines):
            tables[name] = _frame(lines[start:end])
        i = end
    return tables


def _frame(lines: list[str]) -> pd.DataFrame:
    """One table's header and rows; rows longer than the header (free-text notes) are cut to it."""
    try:
        frame = pd.read_csv(io.StringIO("\n".join(lines)), skipinitialspace=True)
    except pd.errors.ParserError:
        rows = list(csv.reader(lines))
        header = rows[0]
        body = [(r + [""] * len(header))[: len(header)] for r in rows[1:]]
        frame = pd.DataFrame(body, columns=header).replace("", np.nan)
        frame = frame.apply(lambda col: pd.to_numeric(col, errors="coerce") if col.name in ("index", "x", "y")
                            else col)
    return frame.loc[:, [c for c in frame.columns if str(c).strip() and not str(c).startswith("Unnamed")]]


def _points(path: Path, kind: str) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    frame = next(iter(read_tables(path.read_text(encoding="utf-8-sig")).values()))
    names = [c for c in frame.columns if str(c).lower().startswith("name")]
    fallback = [c for key in ("address", "station #") for c in frame.columns if str(c).lower() == key]
    name_col = (names or fallback or [None])[0]
    out = []
    for row in frame.itertuples(index=False):
        rec = dict(zip(frame.columns, row, strict=False))
        idx = int(rec["index"])
        name = str(rec[name_col]) if name_col and pd.notna(rec[name_col]) else f"{kind} {idx}"
        out.append({"index": idx, "name": name, "lat": float(rec["y"]), "lon": float(rec["x"]), "kind": kind})
    return out


def read_jemss(folder: Path, *, walk_speed_mps: float = 1.8) -> OsmCity:
    """Parse a JEMSS model folder into raw networks (before pruning) and its stations and hospitals."""
    roads = folder / "travel" / "roads" / "roads.zip"
    if not roads.exists():
        raise Invalid(f"{folder} is not a JEMSS model folder: {roads} is missing")
    with zipfile.ZipFile(roads) as zf:
        nodes = read_tables(zf.read("nodes.csv").decode("utf-8-sig"))["nodes"]
        arc_tables = read_tables(zf.read("arcs.csv").decode("utf-8-sig"))
    arcs = arc_tables["arcs"]
    directed = True
    if "miscData" in arc_tables and "arcForm" in arc_tables["miscData"].columns:
        directed = str(arc_tables["miscData"]["arcForm"].iloc[0]).strip() != "undirected"
    node_index = nodes["index"].to_numpy(np.int64)
    pos = np.full(node_index.max() + 1, -1, np.int64)
    pos[node_index] = np.arange(node_index.shape[0])
    tail = pos[arcs["fromNode"].to_numpy(np.int64)]
    head = pos[arcs["toNode"].to_numpy(np.int64)]
    emergency = arcs["mode_1"].to_numpy(np.float64) * DAY_S
    regular = arcs["mode_2"].to_numpy(np.float64) * DAY_S if "mode_2" in arcs else emergency
    if not directed:
        tail, head = np.concatenate([tail, head]), np.concatenate([head, tail])
        emergency, regular = np.tile(emergency, 2), np.tile(regular, 2)
    lat, lon = nodes["y"].to_numpy(np.float64), nodes["x"].to_numpy(np.float64)
    base = make_network(lat, lon, tail, head, {"regular": regular})
    kmh = base.length_m / np.maximum(regular, 1e-6) * 3.6
    drive = make_network(lat, lon, tail, head, {"emergency": emergency, "regular": regular},
                         length_m=base.length_m, road_class=class_from_speed(kmh))
    places = {"streets": [], "points": [], "aeds": [],
              "stations": _points(folder / "stations" / "stations_1.csv", "station"),
              "hospitals": _points(folder / "hospitals" / "hospitals_1.csv", "hospital")}
    return OsmCity(drive, walk_from_roads(drive, walk_speed_mps), places)


def walk_from_roads(drive: Network, walk_speed_mps: float) -> Network:
    """A walking network over the same nodes: each connected pair both ways, geometric length / walking speed."""
    lo, hi = np.minimum(drive.tail, drive.head), np.maximum(drive.tail, drive.head)
    pairs = np.unique(np.stack([lo, hi], axis=1), axis=0)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    tail = np.concatenate([pairs[:, 0], pairs[:, 1]])
    head = np.concatenate([pairs[:, 1], pairs[:, 0]])
    base = make_network(drive.lat, drive.lon, tail, head, {WALK_KEY: np.zeros(tail.shape[0])})
    return make_network(drive.lat, drive.lon, tail, head, {WALK_KEY: base.length_m / walk_speed_mps},
                        length_m=base.length_m)
