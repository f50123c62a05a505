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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from lifechain.errors import Invalid
from lifechain.files import read_text
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


def checked_table(tables: dict[str, pd.DataFrame], where: str, *, name: str | None = None,
                  numbers: Sequence[str] = (), whole: Sequence[str] = ()) -> pd.DataFrame:
    """The table `name` (else the first) of `read_tables`' answer, with `numbers` columns that are numbers in every
    row (`whole` ones whole numbers); raises `Invalid` naming `where` (a file), and the row and column, when not."""
    if name is not None and name not in tables:
        raise Invalid(f"{where} has no table {name!r} (a row with its name, a header row, data rows)"
                      + (f"; it has {', '.join(map(repr, tables))}" if tables else ""))
    if not tables:
        raise Invalid(f"{where} holds no JEMSS table (a row with its name, a header row, data rows)")
    table = tables[name] if name is not None else next(iter(tables.values()))
    missing = [c for c in numbers if c not in table.columns]
    if missing:
        raise Invalid(f"{where}: its table has no column {', '.join(missing)} "
                      f"(it has {', '.join(str(c) for c in table.columns)})")
    for column in numbers:
        values = pd.to_numeric(table[column], errors="coerce").to_numpy(float)
        bad = ~np.isfinite(values) | ((values != np.round(values)) if column in whole else False)
        if bad.any():
            row = int(np.argmax(bad))
            kind = "a whole number" if column in whole else "a number"
            raise Invalid(f"{where}: {column} of data row {row + 1} is {_shown(table[column].iloc[row])}, not {kind}")
    return table


def _shown(value: Any) -> str:
    """A cell's value as the refusal shows it: empty, 'text' or a number."""
    return "empty" if pd.isna(value) else repr(value) if isinstance(value, str) else f"{value:g}"


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
    frame = checked_table(read_tables(read_text(path, what="JEMSS file")), str(path), numbers=("index", "x", "y"),
                          whole=("index",))
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
    texts = zip_texts(roads, ("nodes.csv", "arcs.csv"))
    nodes = checked_table(read_tables(texts["nodes.csv"]), f"{roads}: nodes.csv", name="nodes",
                          numbers=("index", "x", "y"), whole=("index",))
    arc_tables = read_tables(texts["arcs.csv"])
    modes = ("mode_1", "mode_2") if "mode_2" in arc_tables.get("arcs", {}) else ("mode_1",)
    arcs = checked_table(arc_tables, f"{roads}: arcs.csv", name="arcs", numbers=("fromNode", "toNode", *modes),
                         whole=("fromNode", "toNode"))
    directed = True
    if "miscData" in arc_tables and "arcForm" in arc_tables["miscData"].columns:
        directed = str(arc_tables["miscData"]["arcForm"].iloc[0]).strip() != "undirected"
    node_index = nodes["index"].to_numpy(np.float64).astype(np.int64)
    _check_nodes(node_index, nodes, f"{roads}: nodes.csv")
    ends = {c: arcs[c].to_numpy(np.float64).astype(np.int64) for c in ("fromNode", "toNode")}
    times = {c: arcs[c].to_numpy(np.float64) for c in modes}
    _check_arcs(ends, times, node_index, f"{roads}: arcs.csv")
    order = np.argsort(node_index)
    tail = order[np.searchsorted(node_index, ends["fromNode"], sorter=order)]
    head = order[np.searchsorted(node_index, ends["toNode"], sorter=order)]
    emergency = times["mode_1"] * DAY_S
    regular = times["mode_2"] * DAY_S if "mode_2" in times else emergency
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


def zip_texts(path: Path, names: Sequence[str]) -> dict[str, str]:
    """The text of each member `names` of the zip file `path`; `Invalid` naming what cannot be read."""
    try:
        with zipfile.ZipFile(path) as zf:
            missing = [n for n in names if n not in zf.namelist()]
            if missing:
                raise Invalid(f"{path} has no {', '.join(missing)} (it holds {', '.join(zf.namelist()) or 'nothing'})")
            return {n: zf.read(n).decode("utf-8-sig") for n in names}
    except (zipfile.BadZipFile, UnicodeDecodeError) as exc:
        raise Invalid(f"cannot read {path}: {exc}") from exc


def _check_nodes(index: npt.NDArray[np.int64], nodes: pd.DataFrame, where: str) -> None:
    """Node indexes given once each, and coordinates on the globe."""
    unique, counts = np.unique(index, return_counts=True)
    if (counts > 1).any():
        raise Invalid(f"{where}: node index {int(unique[np.argmax(counts > 1)])} is given {counts.max()} times")
    for column, limit in (("y", 90.0), ("x", 180.0)):
        values = nodes[column].to_numpy(np.float64)
        bad = np.abs(values) > limit
        if bad.any():
            row = int(np.argmax(bad))
            raise Invalid(f"{where}: {column} of data row {row + 1} is {values[row]:g}, beyond +-{limit:g} degrees")


def _check_arcs(ends: dict[str, npt.NDArray[np.int64]], times: dict[str, npt.NDArray[np.float64]],
                node_index: npt.NDArray[np.int64], where: str) -> None:
    """Arcs between nodes that exist, with travel times of zero or more (a negative one would break shortest paths;
    before, a node index missing from nodes.csv silently became another node or a traceback)."""
    for column, ids in ends.items():
        known = np.isin(ids, node_index)
        if not known.all():
            row = int(np.argmax(~known))
            raise Invalid(f"{where}: {column} of data row {row + 1} is {ids[row]}, which is no node of nodes.csv")
    for column, values in times.items():
        if (values < 0).any():
            row = int(np.argmax(values < 0))
            raise Invalid(f"{where}: {column} of data row {row + 1} is {values[row]:g}: a travel time cannot be "
                          "negative")


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
