"""Planning flows: read inputs from files (or a city's router), call the pure models, hand back results."""

from __future__ import annotations

import contextlib
import csv
import io
import logging
import math
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TextIO

import numpy as np
import numpy.typing as npt

from lifechain.errors import DomainError, Invalid, validated
from lifechain.files import read_text, read_yaml
from lifechain.geo.core import LatLon, check_mode, check_profile
from lifechain.planning import core
from lifechain.planning.first_response import WalkRouter
from lifechain.planning.travel import ZeroRouter

if TYPE_CHECKING:
    from lifechain.geo.repo import CityStore

DEMAND_ID_COLUMNS = ("demand_id", "NAME", "id", "name")
WEIGHT_COLUMNS = ("weight", "POP2000", "population", "demand")
LONG_DEMAND_COLUMNS = ("demand_id", "DestinationName", "demand_name", "demand")
LONG_SITE_COLUMNS = ("site_id", "name", "site", "OriginName")
LONG_COST_COLUMNS = ("cost", "distance", "seconds", "time")


def _pick(header: Sequence[str], wanted: str | None, defaults: Sequence[str], what: str, path: Path) -> str | None:
    """The column to use: the one asked for, or the first known name present."""
    if wanted:
        if wanted not in header:
            raise Invalid(f"{path}: no column {wanted!r} for {what} (columns: {', '.join(header)})")
        return wanted
    return next((c for c in defaults if c in header), None)


def _require(header: Sequence[str], wanted: str | None, defaults: Sequence[str], what: str, path: Path,
             option: str) -> str:
    """As `_pick`, for a column the file must have: refused, saying how to name it, when none is found."""
    column = _pick(header, wanted, defaults, what, path)
    if column is None:
        raise Invalid(f"{path}: no column for {what}: give {option}, or call it {' or '.join(defaults)} "
                      f"(columns: {', '.join(header)})")
    return column


def _rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """Header and rows of a CSV file; raises `Invalid` when it is missing or empty."""
    if not path.is_file():
        raise Invalid(f"no such file: {path}")
    text = read_text(path, what="CSV file")
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        rows = list(reader)
        header = [h for h in (reader.fieldnames or []) if h is not None]
    except csv.Error as exc:
        raise Invalid(f"{path} is not a readable CSV file: {exc}") from exc
    if not rows:
        raise Invalid(f"{path} has no data rows")
    return header, rows


def read_weights(path: Path, *, id_col: str | None = None, weight_col: str | None = None) -> dict[str, float]:
    """Demand weights from a CSV (id and weight columns; weight 1 for every point when no weight column)."""
    header, rows = _rows(path)
    idc = _require(header, id_col, DEMAND_ID_COLUMNS, "the demand id", path, "--demand-id-col")
    wc = _pick(header, weight_col, WEIGHT_COLUMNS, "the weight", path)
    return dict(zip(_unique_ids(path, [r[idc] for r in rows]), _weights(rows, wc, path), strict=True))


def _unique_ids(path: Path, ids: Sequence[str | None]) -> Sequence[str]:
    """`ids` (one per data row), refused, naming the line, when one is empty or appears twice."""
    seen: set[str] = set()
    for line, ident in enumerate(ids, start=2):
        if not ident:
            raise Invalid(f"{path}: line {line} has no id")
        if ident in seen:
            raise Invalid(f"{path}: line {line}: id {ident!r} appears twice")
        seen.add(ident)
    return [str(ident) for ident in ids]


def _weights(rows: Sequence[dict[str, str]], column: str | None, path: Path) -> list[float]:
    """The weight of every row from `column`, 1 for every row without one."""
    if not column:
        return [1.0] * len(rows)
    weights = []
    for line, r in enumerate(rows, start=2):
        try:
            weights.append(float(r[column]))
        except (TypeError, ValueError) as exc:
            raise Invalid(f"{path}: line {line}: weight {r[column]!r} (column {column!r}) is not a number") from exc
    return weights


def read_problem(costs: Path, *, demand: Path | None = None, demand_col: str | None = None,
                 site_col: str | None = None, cost_col: str | None = None, demand_id_col: str | None = None,
                 weight_col: str | None = None) -> core.Problem:
    """A location problem from a long cost table (demand, site, cost) and optionally a demand file with weights."""
    header, rows = _rows(costs)
    dc = _require(header, demand_col, LONG_DEMAND_COLUMNS, "the demand id", costs, "--demand-col")
    sc = _require(header, site_col, LONG_SITE_COLUMNS, "the site id", costs, "--site-col")
    cc = _require(header, cost_col, LONG_COST_COLUMNS, "the cost", costs, "--cost-col")
    triples = []
    for line, r in enumerate(rows, start=2):
        d, s, c = r[dc], r[sc], r[cc]
        if not d or not s or not c:
            what = "demand id" if not d else "site id" if not s else "cost"
            raise Invalid(f"{costs}: line {line} has no {what} (columns {dc!r}, {sc!r}, {cc!r})")
        try:
            triples.append((d, s, float(c)))
        except ValueError as exc:
            raise Invalid(f"{costs}: line {line}: cost {c!r} is not a number") from exc
    if demand is not None:
        weights = read_weights(demand, id_col=demand_id_col, weight_col=weight_col)
    else:
        weights = {d: 1.0 for d, _, _ in triples}
    return core.problem_from_long(triples, weights)


def read_places(path: Path, *, id_col: str | None = None, weight_col: str | None = None,
                weighted: bool = True) -> list[tuple[str, LatLon, float]]:
    """(id, position, weight) rows of a CSV with lat/lon columns. The id comes from an id column (`id_col`, or
    demand_id/NAME/id/name/site_id) or else is the row's number from 1; the weight from a weight column (1 without,
    and always 1 when not `weighted`)."""
    header, rows = _rows(path)
    points = _coordinates(path, header, rows)
    idc = _pick(header, id_col, (*DEMAND_ID_COLUMNS, "site_id"), "the id", path)
    ids = _unique_ids(path, [r[idc] for r in rows] if idc else [str(k) for k in range(1, len(rows) + 1)])
    wc = _pick(header, weight_col, WEIGHT_COLUMNS, "the weight", path) if weighted else None
    weights = _weights(rows, wc, path)
    return [(ident, LatLon(lat, lon), w) for ident, (lat, lon), w in zip(ids, points, weights, strict=True)]


def problem_on_city(cities: CityStore, city: str, demand: Path, sites: Path, *, mode: str = "drive",
                    profile: str = "emergency", demand_id_col: str | None = None, weight_col: str | None = None,
                    site_id_col: str | None = None) -> core.Problem:
    """A location problem whose costs are travel seconds from every candidate site to every demand point on an
    imported city's network (`mode` drive or walk), from a demand CSV and a sites CSV with coordinates."""
    mode, profile = check_mode(mode), check_profile(profile)
    points = read_places(demand, id_col=demand_id_col, weight_col=weight_col)
    candidates = read_places(sites, id_col=site_id_col, weighted=False)
    router = cities.router(city)
    return core.problem_from_router(router, points, [(ident, pos) for ident, pos, _ in candidates], mode=mode,
                                    profile=profile)


def unreachable(problem: core.Problem) -> dict[str, int]:
    """Demand points no candidate site reaches and sites that reach no point (off the network or cut off)."""
    return {"demand_points": int(problem.unreached_points().size), "sites": int(problem.idle_sites().size)}


# The models whose solve can stop at a time limit with the best answer found (lscp and pcenter solve set-covering
# problems to the end: an answer short of the optimum would not say what they promise).
TIME_LIMITED = ("mclp", "aed", "pmedian", "mexclp")


def optimize(model: str, problem: core.Problem, **params: Any) -> core.Solution:
    """Run one location model by name with its parameters. For `aed`, `radius` is the walking time and `fixed` the
    AEDs already in place (p more are added); for `mclp`, fixed sites count in p. The models of `TIME_LIMITED` take
    `time_limit_s`."""
    if model not in core.MODELS:
        raise Invalid(f"unknown model {model!r}: expected one of {', '.join(core.MODELS)}")
    limit = params.pop("time_limit_s", None)
    if limit is not None:
        if model not in TIME_LIMITED:
            raise Invalid(f"a time limit applies to {', '.join(TIME_LIMITED)}, not {model}")
        params["time_limit_s"] = limit

    def aed(pr: core.Problem, *, p: int, radius: float, fixed: Sequence[str] = (),
            time_limit_s: float | None = None) -> core.Solution:
        return core.place_aeds(pr, p=p, walk_s=radius, existing=fixed, time_limit_s=time_limit_s)

    solvers: dict[str, Callable[..., core.Solution]] = {
        "mclp": core.mclp, "lscp": core.lscp, "pmedian": core.pmedian, "pcenter": core.pcenter, "mexclp": core.mexclp,
        "aed": aed}
    return solvers[model](problem, **params)


# ------------------------------------------------------------------------------------------------ simulation


def load_scenario(path: Path) -> core.Scenario:
    """Read and validate a scenario YAML file; raises `Invalid` saying what is wrong."""
    sc = validated(core.Scenario, read_yaml(path, what="scenario file"), where=str(path))
    if sc.calls.replay_file and not Path(sc.calls.replay_file).is_absolute():
        sc = sc.model_copy(update={"calls": sc.calls.model_copy(
            update={"replay_file": str(path.parent / sc.calls.replay_file)})})
    v = sc.volunteers
    if v is not None and v.aeds_file and not Path(v.aeds_file).is_absolute():
        sc = sc.model_copy(update={"volunteers": v.model_copy(update={"aeds_file": str(path.parent / v.aeds_file)})})
    return sc


def read_points(path: Path) -> list[tuple[float, float]]:
    """(lat, lon) rows of a CSV with `lat`/`latitude` and `lon`/`lng`/`longitude` columns."""
    header, rows = _rows(path)
    return _coordinates(path, header, rows)


def _coordinates(path: Path, header: Sequence[str], rows: Sequence[dict[str, str]]) -> list[tuple[float, float]]:
    """The (lat, lon) of every row, checked to be degrees."""
    lat = _pick(header, None, ("lat", "latitude", "LAT", "y"), "the latitude", path)
    lon = _pick(header, None, ("lon", "lng", "longitude", "LON", "x"), "the longitude", path)
    if lat is None or lon is None:
        raise Invalid(f"{path}: needs lat and lon columns (columns: {', '.join(header)})")
    try:
        points = [(float(r[lat]), float(r[lon])) for r in rows]
    except (TypeError, ValueError) as exc:
        raise Invalid(f"{path}: a coordinate is missing or not a number: {exc}") from exc
    for line, (a, b) in enumerate(points, start=2):
        if not (-90 <= a <= 90 and -180 <= b <= 180):  # NaN fails both
            raise Invalid(f"{path}: line {line}: ({a}, {b}) is not a latitude and longitude in degrees")
    return points


TIME_COLUMNS = ("time", "t", "seconds", "received_at", "arrival_time")
TRUE = frozenset({"1", "true", "yes", "y", "t"})


def _seconds(value: str, start: Any) -> float:
    """Seconds from the scenario start: a number as is, or an ISO date-time."""
    from datetime import datetime

    try:
        return float(value)
    except ValueError:
        pass
    when = datetime.fromisoformat(value)
    if when.tzinfo is not None and start.tzinfo is None:
        when = when.replace(tzinfo=None) - (when.utcoffset() or timedelta(0))
    return float((when - start).total_seconds())


def resolve_replay(scenario: core.Scenario) -> core.Scenario:
    """The scenario with the calls of `calls.replay_file` (time, lat, lon, priority, arrest, pathways, area) as
    replayed calls, their places added as zero-weight demand points."""
    path = scenario.calls.replay_file
    if not path:
        return scenario
    header, rows = _rows(Path(path))
    tc = _pick(header, None, TIME_COLUMNS, "the time", Path(path))
    if tc is None or "lat" not in header or "lon" not in header:
        raise Invalid(f"{path}: a replay needs time, lat and lon columns (columns: {', '.join(header)})")
    demand = list(scenario.demand)
    index: dict[tuple[float, float], int] = {}
    calls = []
    for n, r in enumerate(rows, start=2):
        try:
            lat, lon, t = float(r["lat"]), float(r["lon"]), _seconds(r[tc], scenario.start)
            priority = int(r.get("priority") or 1)
            key = (lat, lon)
            if key not in index:
                demand.append(core.PointIn(lat=lat, lon=lon, weight=0.0, area=r.get("area") or "replay"))
                index[key] = len(demand) - 1
        except (TypeError, ValueError) as exc:  # a short row (None), a non-number, a place off the globe
            raise Invalid(f"{path} line {n}: {exc}") from exc
        if t < 0:
            raise Invalid(f"{path} line {n}: the call is before the scenario start {scenario.start.isoformat()}")
        pathways = [p.strip() for p in (r.get("pathways") or "").split(";") if p.strip()]
        calls.append({"t": t, "point": index[key], "priority": priority, "pathways": pathways,
                      "arrest": (r.get("arrest") or "").strip().lower() in TRUE})
    data = scenario.model_dump()
    data["demand"] = [p.model_dump() for p in demand]
    data["calls"] = {**data["calls"], "replay_file": None, "replayed": calls}
    return validated(core.Scenario, data, where=str(path))


def read_aeds(path: Path) -> list[dict[str, Any]]:
    """AEDs of a CSV: lat/lon columns as `read_points`, and `opening_hours` (OSM subset, empty = 24/7) if present."""
    points = read_points(path)
    _header, rows = _rows(path)
    hours = [(r.get("opening_hours") or "").strip() or None for r in rows]
    return [{"lat": a, "lon": b, "opening_hours": h} for (a, b), h in zip(points, hours, strict=True)]


def _osm_hours(text: str | None) -> str | None:
    """An OSM `opening_hours` value if the live AED rules can read it, else None (always open), as the live OSM
    import of AEDs does: OSM's grammar is richer than ours, and OSM lists mostly public 24/7 units."""
    from lifechain.volunteers.core import parse_opening_hours

    try:
        parse_opening_hours(text)
    except Invalid:
        return None
    return text


def resolve_aeds(scenario: core.Scenario, *, cities: CityStore | None = None) -> core.Scenario:
    """The scenario with its AEDs read from `volunteers.aeds_file` and/or the city's registry added to the list,
    with their opening hours (a file's `opening_hours` column, the OSM tag of a city's AED)."""
    v = scenario.volunteers
    if v is None or not (v.aeds_file or v.aeds_from_city):
        return scenario
    aeds = [a.model_dump() for a in v.aeds]
    if v.aeds_file:
        aeds += read_aeds(Path(v.aeds_file))
    if v.aeds_from_city:
        city = scenario.travel.city
        if not city or cities is None:
            raise Invalid("volunteers.aeds_from_city needs travel.city naming an imported city")
        aeds += [{"lat": float(a["lat"]), "lon": float(a["lon"]),
                  "opening_hours": _osm_hours((a.get("tags") or {}).get("opening_hours"))}
                 for a in cities.places(city).get("aeds", [])]
    update = {"aeds": aeds, "aeds_file": None, "aeds_from_city": False}
    volunteers = validated(type(v), {**v.model_dump(), **update}, where="volunteers")
    return scenario.model_copy(update={"volunteers": volunteers})


def source_router(scenario: core.Scenario, *, cities: CityStore | None = None) -> Any:
    """The router the scenario's travel times come from (a city's geo router, straight line, or zero)."""
    t = scenario.travel
    if t.kind == "city":
        if not t.city or cities is None:
            raise Invalid("travel.kind 'city' needs travel.city and an imported city (lifechain city import)")
        return cities.router(t.city)
    if t.kind == "zero":
        return ZeroRouter()
    return core.StraightRouter(city=scenario.name, detour=t.detour,
                               speed_mps={"emergency": t.speed_kmh / 3.6, "regular": t.regular_speed_kmh / 3.6})


def check_city(scenario: core.Scenario, name: str, cities: CityStore | None) -> None:
    """Refuse a city scenario whose city is not imported in `cities`, naming the field and the cities that are
    (`name`: where the scenario is, e.g. `variant`), so that a run is not stored only to fail."""
    t = scenario.travel
    if t.kind != "city":
        return
    if not t.city:
        raise Invalid(f"{name}.travel.city: travel.kind 'city' needs the name of an imported city")
    if cities is None:
        from lifechain.geo.repo import not_imported

        raise not_imported(t.city, [], field=f"{name}.travel.city")
    cities.check_imported(t.city, field=f"{name}.travel.city")


def attach_source(router: core.MatrixRouter, scenario: core.Scenario, *, cities: CityStore | None) -> None:
    """Give a matrix router that came through a process boundary its source router again (it is not pickled)."""
    if router.source is None:
        router.source = source_router(scenario, cities=cities)


def _off_network(source: Any, places: Sequence[Any]) -> npt.NDArray[np.bool_] | None:
    """Which of `places` (with lat and lon) lie farther than the snap distance from the source router's drive
    network, as a boolean array; None when the router does not snap (straight line, zero)."""
    snap = getattr(source, "snap", None)
    if snap is None:
        return None
    off = getattr(snap([LatLon(p.lat, p.lon) for p in places], mode="drive", strict=False), "offroad_m", None)
    return None if off is None else ~np.isfinite(np.asarray(off, float))


def check_places(scenario: core.Scenario, source: Any, where: str = "") -> None:
    """Refuse a station or hospital farther than the snap distance from the source router's drive network, by id
    and name, with how many there are (`where`: a prefix for the message, e.g. `variant`). Units start from it and
    patients go to it, so no time of the run could be computed; before, the router refused "point 0", its place in
    a list the user never sees."""
    for what, places in (("station", scenario.stations), ("hospital", scenario.hospitals)):
        far = _off_network(source, places)
        if far is not None and far.any():
            first = places[int(np.argmax(far))]
            named = f"{what} {first.id}" + (f" ({first.name})" if first.name else "")
            also = f" ({int(far.sum())} of the {len(places)} {what}s are)" if far.sum() > 1 else ""
            raise Invalid(f"{where}{': ' if where else ''}{named} at ({first.lat:.6f}, {first.lon:.6f}) is more "
                          f"than {source.snap_max_distance_m:g} m from the drive network of {source.city}{also}")


def on_network(scenario: core.Scenario, source: Any) -> tuple[core.Scenario, int]:
    """The scenario without the demand points too far from the source router's drive network, and how many went;
    a station or hospital that far is refused (`check_places`)."""
    check_places(scenario, source)
    far = _off_network(source, scenario.demand)
    if far is None or not far.any():
        return scenario, 0
    ok = ~far
    if not ok.any():
        raise Invalid("no demand point of the scenario lies near the city's road network")
    new_index = np.cumsum(ok) - 1
    keep = [p for p, good in zip(scenario.demand, ok, strict=True) if good]
    replayed = [c.model_copy(update={"point": int(new_index[c.point])}) for c in scenario.calls.replayed
                if ok[c.point]]
    calls = scenario.calls.model_copy(update={"replayed": replayed})
    return scenario.model_copy(update={"demand": keep, "calls": calls}), len(scenario.demand) - len(keep)


def prepare(scenario: core.Scenario, *, cities: CityStore | None = None) -> tuple[core.Scenario, core.MatrixRouter,
                                                                                dict[str, Any]]:
    """The scenario ready to run (AEDs read, off-network demand dropped) and its precomputed travel times."""

    scenario = resolve_replay(resolve_aeds(scenario, cities=cities))
    src = source_router(scenario, cities=cities)
    scenario, dropped = on_network(scenario, src)
    router = core.build_matrix_router(src, anchors=[LatLon(s.lat, s.lon) for s in scenario.stations],
                                      cells=[LatLon(p.lat, p.lon) for p in scenario.demand],
                                      hospitals=[LatLon(h.lat, h.lon) for h in scenario.hospitals])
    travel: dict[str, Any] = {"travel": scenario.travel.kind, "router": getattr(src, "city", "zero"),
                              "demand_points": len(scenario.demand), "dropped_off_network": dropped}
    walk = core.walking_router(scenario, router)
    if walk is not None:
        travel["volunteers_walk"] = "straight line" if isinstance(walk, WalkRouter) else "walking network"
    return scenario, router, travel


def matrix_router(scenario: core.Scenario, *, cities: CityStore | None = None) -> core.MatrixRouter:
    """Precompute the travel times the simulation will ask (stations/hospitals <-> demand cells)."""
    return prepare(scenario, cities=cities)[1]


def _one(args: tuple[core.Scenario, core.MatrixRouter, Any, bool, CityStore | None],
         ) -> tuple[dict[str, Any], core.RunResult | None]:
    scenario, router, seed, keep, cities = args
    attach_source(router, scenario, cities=cities)  # lost on the way to a worker process
    run = core.run_replication(scenario, router, seed)
    return core.summarise(run, targets_min=scenario.targets_min, arrest=scenario.arrest), run if keep else None


def run_scenario(scenario: core.Scenario, *, replications: int = 1, workers: int = 1,
                 cities: CityStore | None = None, ray_address: str | None = None,
                 progress: Callable[[int], None] | None = None, keep_first: bool = False,
                 prepared: tuple[core.Scenario, core.MatrixRouter, dict[str, Any]] | None = None) -> dict[str, Any]:
    """Run independent replications (in parallel processes, or on a Ray cluster) and aggregate them with CIs.

    With `keep_first`, the result also holds `first_run` (the per-call results of replication 1) and `prepared`
    (the scenario as run), for a report. `prepared`: what `prepare` made of `scenario`, when it was made already.
    """
    if replications < 1:
        raise Invalid("replications must be at least 1")
    scenario, router, travel = prepared or prepare(scenario, cities=cities)
    jobs = [(scenario, router, s, keep_first and k == 0, cities)
            for k, s in enumerate(core.replication_seeds(scenario, replications))]
    if ray_address:
        outs = _run_on_ray(jobs, ray_address)
    elif workers > 1 and replications > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=workers, initializer=_exit_with_parent) as pool:
            outs = []
            for out in pool.map(_one, jobs):
                outs.append(out)
                if progress:
                    progress(1)
    else:
        outs = []
        for job in jobs:
            outs.append(_one(job))
            if progress:
                progress(1)
    summaries = [s for s, _ in outs]
    result = {"scenario": scenario.name, "seed": scenario.seed, "replications": replications, "travel": travel,
              "simplifications": core.simplifications(scenario, router), "summary": core.aggregate(summaries),
              "runs": summaries}
    if keep_first:
        result.update(first_run=outs[0][1], prepared=scenario)
    return result


def compare_scenarios(base: core.Scenario, variant: core.Scenario, *, replications: int, workers: int = 1,
                      cities: CityStore | None = None, ray_address: str | None = None,
                      progress: Callable[[int], None] | None = None, keep_first: bool = False) -> dict[str, Any]:
    """Run two scenarios with the same replication streams and say, figure by figure, whether the variant differs
    from the base by more than the noise: the mean of the paired differences (variant - base) with its 95% interval,
    `significant` when the interval leaves out 0.

    The variant runs on the base's seed, so replication k of both draws the same calls (times, places, priorities,
    arrests, pathways: they are drawn before the run) and the difference is not blurred by a different call stream
    (common random numbers). A variant with a seed of its own is run on the base's and `seed_replaced` says so.

    With `keep_first`, the result also holds `first_runs`: (replication 1, the scenario as run) of each, for a
    report."""
    if replications < 2:
        raise Invalid("a comparison needs at least 2 replications: one gives no interval to tell a difference "
                      "from noise")
    same_seed = variant.model_copy(update={"seed": base.seed})
    ready = []  # both prepared before either runs: a variant refused after the base's run would lose that run
    for name, sc in (("base", base), ("variant", same_seed)):
        try:
            ready.append(prepare(sc, cities=cities))
        except DomainError as exc:
            raise exc.again(f"{name}: {exc.message}") from exc
    a, b = (run_scenario(sc, replications=replications, workers=workers, cities=cities,
                         ray_address=ray_address, progress=progress, keep_first=keep_first, prepared=made)
            for sc, made in zip((base, same_seed), ready, strict=True))
    result = {"base": base.name, "variant": variant.name, "seed": base.seed, "replications": replications,
              "seed_replaced": variant.seed if variant.seed != base.seed else None,
              "base_summary": a["summary"], "variant_summary": b["summary"],
              "difference": core.compare(a["runs"], b["runs"])}
    if keep_first:
        result["first_runs"] = (_first_run(a), _first_run(b))
    return result


def write_calls(result: dict[str, Any], path: Path) -> int:
    """Write every call of replication 1 of a `run_scenario(..., keep_first=True)` result as a CSV file
    (`calls_csv`). Returns the number of calls."""
    _first_run(result)  # refused before the file is made
    with _writing(path) as fh:
        return calls_csv(result, fh)


def calls_csv(result: dict[str, Any], fh: TextIO) -> int:
    """Every call of replication 1 of a `run_scenario(..., keep_first=True)` result as a CSV row: its place,
    priority, area, whether it was an arrest, waited for a unit, was transported or lost its unit to a diversion,
    the unit that took it (empty: none), and each time node under its timeline name as an ISO 8601 UTC instant to the
    millisecond (empty: never reached); for arrests simulated with volunteers, first CPR and shock of each variant
    too. Returns the number of calls."""
    run, scenario = _first_run(result)
    start = scenario.aware_start()
    variants = sorted(run.arrest_variants)

    def when(seconds: float) -> str:
        return (start + timedelta(seconds=float(seconds))).isoformat(timespec="milliseconds") \
            if math.isfinite(seconds) else ""

    diverted = run.diverted if run.diverted is not None else np.zeros(len(run.priority), bool)
    cells = run.cell
    assert cells is not None  # _first_run checked it
    out = csv.writer(fh)
    out.writerow(["call", "priority", "area", "lat", "lon", "is_arrest", "queued", "transported", "diverted",
                  "unit", *(k.value for k in core.NODES),
                  *(f"{v}_{node}" for v in variants for node in ("first_cpr", "first_defibrillation"))])
    for i in range(len(run.priority)):
        place = scenario.demand[int(cells[i])]
        arrest = bool(run.arrest[i])
        out.writerow([i + 1, int(run.priority[i]), run.area[i], place.lat, place.lon, arrest, bool(run.queued[i]),
                      bool(run.transported[i]), bool(diverted[i]), int(run.unit[i]) if run.unit[i] >= 0 else "",
                      *(when(x) for x in run.times[i]),
                      *(when(x) if arrest else "" for v in variants for x in run.arrest_variants[v][i])])
    return len(run.priority)


def write_report(result: dict[str, Any], path: Path) -> Path:
    """Write the HTML report of a `run_scenario(..., keep_first=True)` or `compare_scenarios(..., keep_first=True)`
    result."""
    page = report_html(result)
    with _writing(path) as fh:
        fh.write(page)
    return path


def report_html(result: dict[str, Any]) -> str:
    """The HTML report of a `run_scenario(..., keep_first=True)` or `compare_scenarios(..., keep_first=True)`
    result."""
    if "difference" in result:
        if "first_runs" not in result:
            raise Invalid("the report of a comparison needs each scenario's first replication "
                          "(compare_scenarios(..., keep_first=True))")
        base, variant = result["first_runs"]
        return core.render_comparison_report(result, base, variant)
    run, scenario = _first_run(result)
    assert run.cell is not None  # _first_run checked it
    return core.render_report(result, scenario, run, run.cell)


def _first_run(result: dict[str, Any]) -> tuple[core.RunResult, core.Scenario]:
    """Replication 1 of a run and the scenario as run, which `run_scenario(..., keep_first=True)` keeps."""
    run, scenario = result.get("first_run"), result.get("prepared")
    if run is None or scenario is None or run.cell is None:
        raise Invalid("the report and the calls need the run's first replication (run_scenario(..., "
                      "keep_first=True))")
    return run, scenario


@contextlib.contextmanager
def _writing(path: Path, mode: Literal["w", "a"] = "w") -> Iterator[TextIO]:
    """A text file opened for writing; a folder that does not exist or cannot be written is refused by name."""
    try:
        fh = path.open(mode, newline="", encoding="utf-8")
    except OSError as exc:
        raise Invalid(f"cannot write {path}: {exc.strerror or exc}") from exc
    with fh:
        yield fh


def write_text(path: Path, text: str) -> None:
    """Write `text` to `path`, refusing a folder that does not exist or cannot be written by name."""
    with _writing(path) as fh:
        fh.write(text)


def check_writable(path: Path) -> None:
    """Refuse, before a long run, an output file that could not be written at its end (a folder that does not exist
    or cannot be written, a folder in its place), so that no run's results are lost to a typo. A file already there
    is left as it is (opened to append, nothing written); one that was not is removed again."""
    existed = path.exists()
    with _writing(path, "a"):
        pass
    if not existed:
        path.unlink(missing_ok=True)


# What any gRPC server, as Ray's GCS and Ray Client servers are, answers at once to an HTTP/2 client preface: a frame
# header (3 bytes length, 1 byte type) of type SETTINGS.
_H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])  # + an empty SETTINGS frame
_H2_SETTINGS = 4


def _check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Refuse a HOST:PORT (or ray://HOST:PORT) where no Ray cluster answers: nobody listening, or a server that does
    not speak gRPC (Redis on Ray's default port 6379, a web server). `ray.init` would wait minutes for either."""
    import socket

    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit():
        return  # "auto", "local" and the like: Ray resolves them itself
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s) as conn:
            if os.environ.get("RAY_USE_TLS", "0").lower() in ("1", "true"):
                return  # the cluster speaks TLS first: reachable is all that can be checked without its keys
            conn.sendall(_H2_PREFACE)
            with conn.makefile("rb") as answer:
                header = answer.read(9)  # buffered: all 9 bytes, fewer only if the server closes first
    except TimeoutError:
        raise Invalid(f"no Ray cluster answers at {address}: a server listens there but says nothing to a gRPC client "
                      f"within {timeout_s:g} s") from None
    except OSError as exc:
        raise Invalid(f"no Ray cluster answers at {address} ({exc.strerror or exc})") from exc
    if len(header) < 9 or header[3] != _H2_SETTINGS:
        said = f"answered {header!r}" if header else "closed the connection"
        raise Invalid(f"no Ray cluster answers at {address}: the server there does not speak gRPC (it {said}); is it "
                      "the Ray head's GCS port (ray start --head --port) or ray://HOST:10001?")


def _run_on_ray(jobs: list[Any], address: str) -> list[tuple[dict[str, Any], core.RunResult | None]]:
    """Replications as Ray tasks on the cluster at `address`."""
    try:
        import ray  # type: ignore[import-not-found,unused-ignore]
    except ImportError as exc:
        raise Invalid("--ray needs the 'ray' package, which is not installed (pip install 'lifechain[ray]')") from exc
    _check_reachable(address)
    try:
        ray.init(address=address)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise Invalid(f"cannot join the Ray cluster at {address}: {exc}") from exc
    task = ray.remote(_one)
    return list(ray.get([task.remote(j) for j in jobs]))


# ------------------------------------------------------------------------------------------------ JEMSS import

DAY_S = 86_400.0


def _number(text: str) -> float:
    """A JEMSS arithmetic expression (`50/60/60/24`, `1 + 14*30`) evaluated without `eval`."""
    import ast
    import operator

    ops: dict[type, Callable[..., float]] = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
                                             ast.Div: operator.truediv, ast.USub: operator.neg, ast.Pow: operator.pow}

    def ev(node: ast.AST) -> float:
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return float(node.value)
        if isinstance(node, ast.BinOp) and type(node.op) in ops:
            return ops[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.UnaryOp) and type(node.op) in ops:
            return ops[type(node.op)](ev(node.operand))
        raise ValueError(text)

    try:
        return ev(ast.parse(text.strip(), mode="eval").body)
    except (SyntaxError, ValueError, ZeroDivisionError) as exc:
        raise Invalid(f"gen_config: {text!r} is not a number expression") from exc


def _distribution(text: str) -> tuple[str, list[float]]:
    """`Name(a, b)` or `Name([a; b])` as the name and its numbers."""
    import re

    m = re.fullmatch(r"\s*(\w+)\((.*)\)\s*", text)
    if not m:
        raise Invalid(f"gen_config: cannot read the distribution {text!r}")
    inner = m.group(2).strip().strip("[]")
    parts = [p for p in re.split(r"[,;]", inner) if p.strip()]
    return m.group(1), [_number(p) for p in parts]


def _duration(text: str) -> dict[str, Any]:
    """A JEMSS duration distribution (days) as a scenario `Dist` (seconds)."""
    name, args = _distribution(text)
    if name == "Exponential" and len(args) == 1:
        return {"kind": "exponential", "mean": args[0] * DAY_S}
    if name == "Normal" and len(args) == 2:
        mean, sd = args[0] * DAY_S, args[1] * DAY_S
        return {"kind": "fixed", "mean": mean} if sd == 0 else {"kind": "lognormal", "mean": mean, "sd": sd}
    if name in ("Constant", "Fixed") and len(args) == 1:
        return {"kind": "fixed", "mean": args[0] * DAY_S}
    if name == "Weibull" and len(args) == 2:  # Julia's Weibull(shape, scale)
        return {"kind": "weibull", "mean": args[1] * math.gamma(1 + 1 / args[0]) * DAY_S, "shape": args[0]}
    if name == "Gamma" and len(args) == 2:  # Julia's Gamma(shape, scale)
        return {"kind": "gamma", "mean": args[0] * args[1] * DAY_S, "sd": math.sqrt(args[0]) * args[1] * DAY_S}
    if name == "LogNormal" and len(args) == 2:  # Julia's LogNormal(mu, sigma) of the log of days
        mean = math.exp(args[0] + args[1] ** 2 / 2)
        return {"kind": "lognormal", "mean": mean * DAY_S, "sd": mean * math.sqrt(math.expm1(args[1] ** 2)) * DAY_S}
    raise Invalid(f"gen_config: unsupported duration distribution {text!r} "
                  "(Exponential, Normal, Constant, Weibull, Gamma, LogNormal)")


def read_gen_config(path: Path) -> dict[str, Any]:
    """Call generation of a JEMSS `gen_config.xml`: rate, priorities, durations, transport, the raster's name."""
    import xml.etree.ElementTree as ET

    if not path.is_file():
        raise Invalid(f"no gen_config.xml at {path}")
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise Invalid(f"{path} is not valid XML: {exc}") from exc
    dist = {el.tag: (el.text or "").strip() for el in root.iterfind("./sim/callDistributions/*")}
    missing = [k for k in ("interarrivalTime", "priority") if k not in dist]
    if missing:
        raise Invalid(f"{path}: callDistributions lacks {', '.join(missing)}")
    name, args = _distribution(dist["interarrivalTime"])
    if name != "Exponential":
        raise Invalid(f"{path}: interarrivalTime must be Exponential (Poisson arrivals), got {name}")
    _, probs = _distribution(dist["priority"])
    out: dict[str, Any] = {"rate_per_day": 1.0 / args[0], "priorities": {i + 1: p for i, p in enumerate(probs)},
                           "durations": {}}
    for key, field in (("dispatchDelay", "dispatch_delay"), ("onSceneDuration", "on_scene"),
                       ("handoverDuration", "handover")):
        if key in dist:
            out["durations"][field] = _duration(dist[key])
    if "transport" in dist:
        out["durations"]["transport_probability"] = _distribution(dist["transport"])[1][0]
    raster = root.findtext("./sim/callDensityRaster/filename")
    out["raster"] = raster.strip() if raster else None
    return out


def _find_raster(model: Path, name: str | None) -> Path | None:
    """The population raster a model names (`$jemssDir/...x.tif`), looked up under the city's data folder as
    .tif or zipped .tif."""
    if not name:
        return None
    stem = Path(name.replace("\\", "/")).stem
    for root in (model, model.parent, model.parent.parent):
        for pattern in (f"{stem}.tif", f"{stem}.zip"):
            found = sorted(root.rglob(pattern)) if root.is_dir() else []
            if found:
                return found[0]
    return None


def raster_demand(path: Path, *, block: int = 10) -> list[dict[str, Any]]:
    """Demand points from a WGS 84 population GeoTIFF (plain or zipped): cells summed over `block` x `block`
    blocks, each at its population-weighted centroid."""
    import io
    import zipfile

    import tifffile

    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as z:
            member = next((n for n in z.namelist() if n.endswith((".tif", ".tiff"))), None)
            if member is None:
                raise Invalid(f"{path} holds no .tif")
            data = io.BytesIO(z.read(member))
    else:
        data = io.BytesIO(path.read_bytes())
    with tifffile.TiffFile(data) as tif:
        page = tif.pages.first
        a = np.nan_to_num(page.asarray().astype(float), nan=0.0)
        tags = {t.name: t.value for t in page.tags.values()}
    if "ModelPixelScaleTag" not in tags or "ModelTiepointTag" not in tags:
        raise Invalid(f"{path} is not a georeferenced GeoTIFF")
    sx, sy = tags["ModelPixelScaleTag"][:2]
    x0, y0 = tags["ModelTiepointTag"][3:5]
    a[a < 0] = 0
    rows, cols = a.shape
    lat = y0 - (np.arange(rows) + 0.5) * sy
    lon = x0 + (np.arange(cols) + 0.5) * sx
    pr, pc = -rows % block, -cols % block
    w = np.pad(a, ((0, pr), (0, pc)))
    la = np.pad(np.broadcast_to(lat[:, None], a.shape), ((0, pr), (0, pc)))
    lo = np.pad(np.broadcast_to(lon[None, :], a.shape), ((0, pr), (0, pc)))

    def blocks(x: Any) -> Any:
        return x.reshape(w.shape[0] // block, block, w.shape[1] // block, block).sum(axis=(1, 3))

    total = blocks(w)
    keep = total > 0
    clat, clon = blocks(w * la)[keep] / total[keep], blocks(w * lo)[keep] / total[keep]
    return [{"lat": round(float(y), 6), "lon": round(float(x), 6), "weight": round(float(v), 3)}
            for y, x, v in zip(clat, clon, total[keep], strict=True)]


def _jemss_table(model: Path, rel: str, numbers: Sequence[str], whole: Sequence[str] = ()) -> Any:
    """The first table of a JEMSS model's file `rel`, its `numbers` columns checked (`geo.jemss.checked_table`)."""
    from lifechain.geo.jemss import checked_table, read_tables

    path = model / rel
    if not path.is_file():
        models = [str(p) for p in sorted((p for p in (model / "models").glob("*") if (p / rel).is_file()),
                                         key=lambda p: (len(p.name), p.name))]  # models/2 before models/10
        hint = f" (a JEMSS city folder? give one of its models: {', '.join(models)})" if models else ""
        raise Invalid(f"JEMSS model {model} has no {rel}{hint}")
    return checked_table(read_tables(read_text(path, what="JEMSS file")), str(path), numbers=numbers, whole=whole)


def import_jemss(model: Path, *, city: str | None = None, days: float = 365.0, block: int = 10, seed: int = 0,
                 name: str | None = None) -> dict[str, Any]:
    """A scenario (as a plain dict, ready for YAML) from a JEMSS model folder: stations, ambulances, hospitals,
    call distributions from gen_config.xml, demand from the population raster (else road nodes), travel on the
    imported geo city `city` (else straight line)."""
    if not model.is_dir():
        raise Invalid(f"no JEMSS model folder at {model}")
    stations = _jemss_table(model, "stations/stations_1.csv", ("index", "x", "y"), whole=("index",))
    hospitals = _jemss_table(model, "hospitals/hospitals_1.csv", ("index", "x", "y"), whole=("index",))
    ambulances = _jemss_table(model, "ambulances/ambulances_1.csv", ("index", "stationIndex"),
                              whole=("index", "stationIndex"))
    configs = sorted(model.glob("calls/*/train/gen_config.xml")) or sorted(model.rglob("gen_config.xml"))
    if not configs:
        raise Invalid(f"JEMSS model {model} has no calls/*/gen_config.xml")
    gen = read_gen_config(configs[0])
    raster = _find_raster(model, gen.pop("raster"))
    notes = [f"calls from {configs[0].relative_to(model)}"]
    if raster is not None:
        demand = raster_demand(raster, block=block)
        notes.append(f"demand: population raster {raster.name} summed over {block}x{block} cells")
    else:
        demand = road_nodes(model, seed)
        notes.append("demand: population raster not found, 3000 road nodes weighted equally")
    durations = gen.pop("durations")
    return {
        "name": name or f"jemss-{model.parent.parent.name}-{model.name}", "seed": seed, "days": days,
        "description": "; ".join(notes),
        "stations": [{"id": int(r.index), "lat": float(r.y), "lon": float(r.x)} for r in stations.itertuples()],
        "units": [{"id": int(r.index), "station": int(r.stationIndex)} for r in ambulances.itertuples()],
        "hospitals": [{"id": int(r.index), "name": str(getattr(r, "name", f"H{r.index}")), "lat": float(r.y),
                       "lon": float(r.x)} for r in hospitals.itertuples()],
        "demand": demand,
        "calls": gen,
        "durations": durations,
        "travel": {"kind": "city", "city": city} if city else {"kind": "straight", "speed_kmh": 50,
                                                               "regular_speed_kmh": 40},
    }


def road_nodes(model: Path, seed: int, cells: int = 3000) -> list[dict[str, Any]]:
    """A seeded random sample of a JEMSS model's road nodes (lat, lon): demand weighted equally when the model has
    no population raster, or candidate sites."""
    from lifechain.geo.jemss import checked_table, read_tables, zip_texts

    path = model / "travel" / "roads" / "roads.zip"
    if not path.is_file():
        raise Invalid(f"JEMSS model {model} has neither its population raster nor {path.relative_to(model)}: "
                      "no demand to draw")
    text = zip_texts(path, ("nodes.csv",))["nodes.csv"]
    nodes = checked_table(read_tables(text), f"{path}: nodes.csv", name="nodes", numbers=("x", "y"))
    pick = np.random.default_rng(seed).choice(len(nodes), size=min(cells, len(nodes)), replace=False)
    return [{"lat": float(r.y), "lon": float(r.x)} for r in nodes.iloc[pick].itertuples()]


# ------------------------------------------------------------------------------------------------ API runs


class RunStore:
    """Simulation runs started over the API, kept in the database and run `at_once` at a time (default one), each in
    a process of its own.

    A run is stored `queued` before the request is answered, so an accepted run is never lost: whichever server
    process claims it runs it (one claim wins), beating `heartbeat_at` while it works. At start, and before each new
    run, runs whose process stopped beating are queued again (and failed after `max_attempts`).

    The simulation itself runs in a child process (spawned, so it shares no lock or connection with the server's
    threads); a thread of the server only waits for it, beats and stores what it sends. A year of a city is minutes of
    pure-Python work: in a thread it would hold the interpreter's lock that live dispatch requests need, and the
    memory of its calls would stay with the server. The child ends with its run (or with the server): `close`
    stops it and gives its run back to the queue.
    """

    def __init__(self, *, sessionmaker: Any, cities: CityStore | None, clock: Any, heartbeat_s: float = 30.0,
                 stale_after_s: float = 120.0, max_attempts: int = 3, at_once: int = 1,
                 workers_per_run: int = 1) -> None:
        import threading
        from concurrent.futures import ThreadPoolExecutor

        # `cities`: the server's store (live dispatch's routers and routing settings), which the run's process
        # receives as its folder and settings
        self.sessionmaker, self.cities, self.clock = sessionmaker, cities, clock
        self.heartbeat_s, self.stale_after_s, self.max_attempts = heartbeat_s, stale_after_s, max_attempts
        self.workers_per_run = workers_per_run
        self.pool = ThreadPoolExecutor(max_workers=at_once, thread_name_prefix="planning-run")
        self.processes: dict[str, Any] = {}  # run id -> its running child process
        self._lock = threading.Lock()
        self._closed = False

    def start(self, scenario: Any, replications: int, *, actor: str, variant: Any = None) -> dict[str, Any]:
        """Store a queued run (with a `variant`, a comparison of the two scenarios) and hand it to the worker;
        returns its record (status `queued`)."""
        import uuid

        from lifechain.db import transaction
        from lifechain.planning import repo
        from lifechain.planning.tables import PlanningRun

        for name, sc in (("scenario", scenario), ("variant", variant)):
            if sc is not None:
                check_city(sc, name, self.cities)
                if self.cities is not None and sc.travel.kind == "city":
                    check_places(sc, self.cities.router(sc.travel.city), name)
        run = PlanningRun(id=uuid.uuid4().hex, status="queued", scenario_name=scenario.name,
                          scenario=scenario.model_dump(mode="json"),
                          variant=None if variant is None else variant.model_dump(mode="json"),
                          replications=replications, created_by=actor, created_at=self.clock.now(), attempts=0)
        with transaction(self.sessionmaker) as session:
            repo.add(session=session, run=run)
            record = _record(run, files=[])
        self.pool.submit(self._run, run.id)
        return record

    def recover(self) -> list[str]:
        """Queue again the runs of stopped processes and take every queued run; returns the ids taken."""
        from lifechain.db import transaction
        from lifechain.planning import repo

        with transaction(self.sessionmaker) as session:
            queued = repo.requeue_stale(session=session, now=self.clock.now(), stale_after_s=self.stale_after_s,
                                        max_attempts=self.max_attempts)
        for run_id in queued:
            self.pool.submit(self._run, run_id)
        return queued

    def _run(self, run_id: str) -> None:
        import multiprocessing

        from lifechain.db import transaction
        from lifechain.planning import repo

        with transaction(self.sessionmaker) as session:
            if not repo.claim(session=session, run_id=run_id, now=self.clock.now()):
                return
            row = repo.get(session=session, run_id=run_id)
            assert row is not None
            job = RunJob(run_id=run_id, scenario=dict(row.scenario), variant=row.variant,
                         replications=row.replications, cities=self.cities, workers=self.workers_per_run)
        ctx = multiprocessing.get_context("spawn")
        results, sender = ctx.Pipe(duplex=False)
        # A daemon cannot start the processes of parallel replications; `close` stops the child either way.
        child = ctx.Process(target=run_job, args=(job, sender), name=f"planning-run-{run_id[:8]}",
                            daemon=job.workers == 1)
        not_started: dict[str, Any] | None = None
        with self._lock:
            if not self._closed:
                try:
                    child.start()
                    self.processes[run_id] = child
                except OSError as exc:  # no memory or file descriptors left for a process
                    not_started = {"status": "failed", "error": f"the run's process could not start: {exc}"}
        sender.close()  # the child holds the sending end: its end (or death) is an end of file here
        outcome = self._wait(run_id, results) if child.pid is not None else not_started
        results.close()
        with self._lock:
            self.processes.pop(run_id, None)
            closed = self._closed
        if child.pid is not None:
            child.join()
        with transaction(self.sessionmaker) as session:
            if outcome is None and closed:
                repo.release(session=session, run_id=run_id)  # the server stopped it: the next start runs it
                return
            if outcome is None:
                outcome = {"status": "failed", "error": f"the run's process ended without a result "
                                                        f"({_exit_reason(child.exitcode)})"}
            if outcome.get("files"):
                outcome["files"] = [_file(run_id, **f) for f in outcome["files"]]
            repo.finish(session=session, run_id=run_id, now=self.clock.now(), **outcome)  # False: it was deleted

    def _wait(self, run_id: str, results: Any) -> dict[str, Any] | None:
        """What the child sends: its progress (stored with a heartbeat), then its outcome; None if it ended first."""
        from lifechain.db import transaction
        from lifechain.planning import repo

        while True:
            progress = None
            if results.poll(self.heartbeat_s):
                try:
                    kind, value = results.recv()
                except EOFError:
                    return None
                if kind == "outcome":
                    return dict(value)
                progress = float(value)
            try:
                with transaction(self.sessionmaker) as session:
                    running = repo.beat(session=session, run_id=run_id, now=self.clock.now(), progress=progress)
            except Exception:  # the database busy or away for a moment: the run goes on, the next beat may pass
                logging.getLogger(__name__).warning("planning run %s: heartbeat not stored", run_id, exc_info=True)
                continue
            if not running:  # deleted, by a request to another server process
                self._stop(run_id)

    def get(self, run_id: str) -> dict[str, Any]:
        """The record of a run; raises `NotFound` for an unknown id."""
        from lifechain.db import transaction
        from lifechain.planning import repo

        with transaction(self.sessionmaker) as session:
            run = _found(session, run_id)
            return _record(run, files=repo.file_names(session=session, run_ids=[run_id])[run_id])

    def runs(self, *, limit: int, offset: int = 0, status: str | None = None) -> list[dict[str, Any]]:
        """Runs newest first, without their results (which may be large): `get` one for that."""
        from lifechain.db import transaction
        from lifechain.planning import repo

        with transaction(self.sessionmaker) as session:
            runs = repo.list_runs(session=session, limit=limit, offset=offset, status=status)
            names = repo.file_names(session=session, run_ids=[r.id for r, _ in runs])
            return [_brief(r, variant=variant, files=names[r.id]) for r, variant in runs]

    def file(self, run_id: str, name: str) -> tuple[str, bytes]:
        """A file a finished run made, as (media type, content); `NotFound` for an unknown run or a file its kind
        does not make (a comparison makes a report, no calls), `Conflict` while the run has not finished or when it
        failed."""
        import gzip

        from lifechain.db import transaction
        from lifechain.errors import Conflict, NotFound
        from lifechain.planning import repo

        with transaction(self.sessionmaker) as session:
            run = _found(session, run_id)
            if run.variant is not None and name != REPORT:
                raise NotFound(f"planning run {run_id!r} is a comparison: it has results and a report, no {name}")
            if run.status != "done":
                why = f"failed ({run.error})" if run.status == "failed" else f"is {run.status}"
                raise Conflict(f"planning run {run_id!r} {why}: its {name} comes with its results")
            found = repo.get_file(session=session, run_id=run_id, name=name)
            if found is None:
                raise NotFound(f"planning run {run_id!r} has no {name}: it finished before runs kept one")
            return found.media_type, gzip.decompress(found.content)

    def delete(self, run_id: str, *, user: Any) -> dict[str, Any]:
        """Delete a run with its results and files, stopping it first if it is running: its creator or an admin.
        Returns its record as it was (without results). A run another server process is running stops at that
        process's next heartbeat."""
        from lifechain.auth.core import Role
        from lifechain.db import transaction
        from lifechain.errors import Forbidden
        from lifechain.planning import repo

        with transaction(self.sessionmaker) as session:
            run = _found(session, run_id)
            if run.created_by != user.actor and Role.ADMIN not in user.roles:
                raise Forbidden(f"planning run {run_id!r} was started by {run.created_by}: only they or an admin "
                                f"may delete it")
            record = _record(run, files=repo.file_names(session=session, run_ids=[run_id])[run_id])
            del record["result"]
            repo.remove(session=session, run_id=run_id)
        self._stop(run_id)
        return record

    def _stop(self, run_id: str) -> None:
        """Stop the process running this run here, if any (its thread then finds the run gone and records nothing)."""
        with self._lock:
            child = self.processes.get(run_id)
        if child is not None:
            child.terminate()

    def close(self) -> None:
        """Stop taking runs and stop the running one; returns once its run is back in the queue for the next start."""
        with self._lock:
            self._closed = True
            running = list(self.processes.values())
        for child in running:
            child.terminate()
        self.pool.shutdown(wait=True, cancel_futures=True)


REPORT, CALLS = "report.html", "calls.csv"
RUN_NICENESS = 10  # a run's process, below the server's requests


@dataclass(frozen=True)
class RunJob:
    """What a run's process is given: the run, its scenario (and a comparison's variant) as stored, the server's
    cities."""

    run_id: str
    scenario: dict[str, Any]
    variant: dict[str, Any] | None
    replications: int
    cities: CityStore | None  # sent as its folder and routing settings (`CityStore.__reduce__`)
    workers: int = 1  # processes for the replications


def run_job(job: RunJob, sender: Any) -> None:
    """The body of a run's process: sends ("progress", share of replications done) after each replication, then
    ("outcome", what `repo.finish` records): done with the result (and a simulation's files, gzip-compressed), or
    failed with the reason."""
    _as_background_process()
    done, total = 0, job.replications * (1 if job.variant is None else 2)

    def progress(n: int) -> None:
        nonlocal done
        done += n
        sender.send(("progress", done / total))

    try:
        outcome = _outcome(job, progress)
    except Exception as exc:
        outcome = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
    sender.send(("outcome", outcome))
    sender.close()


def _outcome(job: RunJob, progress: Callable[[int], None]) -> dict[str, Any]:
    """Run a simulation (its result, the report and every call of replication 1 as files) or a comparison (its
    result and its report)."""
    from lifechain.planning.schemas import RunIn

    # Validated as the API does (a run stored before a rule was added meets it too: no files read on the server).
    checked = RunIn.model_validate({"scenario": job.scenario, "variant": job.variant,
                                    "replications": job.replications})
    scenario = checked.scenario
    if checked.variant is not None:
        compared = compare_scenarios(scenario, checked.variant, replications=job.replications,
                                     workers=job.workers, cities=job.cities, progress=progress,
                                     keep_first=True)
        report = _packed(REPORT, "text/html; charset=utf-8", report_html(compared))
        del compared["first_runs"]
        return {"status": "done", "result": _finite(compared), "files": [report]}
    result = run_scenario(scenario, replications=job.replications, workers=job.workers, cities=job.cities,
                          keep_first=True, progress=progress)
    calls = io.StringIO()
    calls_csv(result, calls)
    files = [_packed(REPORT, "text/html; charset=utf-8", report_html(result)),
             _packed(CALLS, "text/csv; charset=utf-8", calls.getvalue())]
    del result["first_run"], result["prepared"]
    return {"status": "done", "result": _finite(result), "files": files}


def _packed(name: str, media_type: str, text: str) -> dict[str, Any]:
    """A file for the database: its size and its content gzip-compressed."""
    import gzip

    data = text.encode("utf-8")
    return {"name": name, "media_type": media_type, "size": len(data),
            "content": gzip.compress(data, compresslevel=6)}


def _as_background_process() -> None:
    """In a run's own process: yield the CPU to the server's requests, and end when the server is gone.

    Priority: nice 10, so that when the cores are short, live dispatch requests run first (`bench/dispatch_api.py`
    measures the recommendation while a year of Auckland runs). The processes of its parallel replications inherit
    it."""
    import multiprocessing

    if multiprocessing.parent_process() is None:  # called in the server's process itself (tests)
        return
    os.nice(RUN_NICENESS)
    _exit_with_parent()


def _exit_with_parent() -> None:
    """End this process when the one that started it is gone: a server (or a run, or a `plan run`) killed before it
    could stop its children would leave work nobody waits for, holding a core until its end. multiprocessing gives a
    child its parent's sentinel, which is ready once the parent has ended, even if that was before this call."""
    import multiprocessing
    import threading
    from multiprocessing.connection import wait

    parent = multiprocessing.parent_process()
    if parent is None:
        return
    sentinel = parent.sentinel

    def watch() -> None:
        wait([sentinel])
        os._exit(1)

    threading.Thread(target=watch, name="planning-parent-watch", daemon=True).start()


def _record(run: Any, *, files: list[str]) -> dict[str, Any]:
    """A run with its results."""
    variant = run.variant["name"] if run.variant is not None else None
    return {**_brief(run, variant=variant, files=files), "result": run.result}


def _brief(run: Any, *, variant: str | None, files: list[str]) -> dict[str, Any]:
    """A run without its results (`variant`: the variant scenario's name, None for a simulation)."""
    return {"id": run.id, "status": run.status, "kind": "simulation" if variant is None else "comparison",
            "scenario": run.scenario_name, "variant": variant, "replications": run.replications,
            "created_by": run.created_by, "created_at": run.created_at, "started_at": run.started_at,
            "finished_at": run.finished_at, "progress": run.progress, "error": run.error, "files": files}


def _found(session: Any, run_id: str) -> Any:
    from lifechain.errors import NotFound
    from lifechain.planning import repo

    run = repo.get(session=session, run_id=run_id)
    if run is None:
        raise NotFound(f"no planning run {run_id!r}")
    return run


def _file(run_id: str, *, name: str, media_type: str, size: int, content: bytes) -> Any:
    """A run's file (content gzip-compressed) as a row."""
    from lifechain.planning.tables import PlanningRunFile

    return PlanningRunFile(run_id=run_id, name=name, media_type=media_type, size=size, content=content)


def _exit_reason(code: int | None) -> str:
    """How a process ended, from its exit code."""
    import signal

    if code is not None and code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"


def _finite(value: Any) -> Any:
    """The result with NaN and infinities as None, so it is valid JSON."""
    import math

    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
