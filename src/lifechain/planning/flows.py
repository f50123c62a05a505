"""Planning flows: read inputs from files (or a city's router), call the pure models, hand back results."""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lifechain.errors import Invalid
from lifechain.planning import core

DEMAND_ID_COLUMNS = ("demand_id", "NAME", "id", "name")
WEIGHT_COLUMNS = ("weight", "POP2000", "population", "demand")
LONG_DEMAND_COLUMNS = ("demand_id", "DestinationName", "demand_name")
LONG_SITE_COLUMNS = ("site_id", "name", "site", "OriginName")
LONG_COST_COLUMNS = ("cost", "distance", "seconds", "time")


def _pick(header: Sequence[str], wanted: str | None, defaults: Sequence[str], what: str, path: Path) -> str | None:
    """The column to use: the one asked for, or the first known name present."""
    if wanted:
        if wanted not in header:
            raise Invalid(f"{path}: no column {wanted!r} for {what} (columns: {', '.join(header)})")
        return wanted
    return next((c for c in defaults if c in header), None)


def _rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """Header and rows of a CSV file; raises `Invalid` when it is missing or empty."""
    if not path.is_file():
        raise Invalid(f"no such file: {path}")
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
        header = [h for h in (reader.fieldnames or []) if h is not None]
    if not rows:
        raise Invalid(f"{path} has no data rows")
    return header, rows


def read_weights(path: Path, *, id_col: str | None = None, weight_col: str | None = None) -> dict[str, float]:
    """Demand weights from a CSV (id and weight columns; weight 1 for every point when no weight column)."""
    header, rows = _rows(path)
    idc = _pick(header, id_col, DEMAND_ID_COLUMNS, "the demand id", path)
    if idc is None:
        raise Invalid(f"{path}: name the demand id column (--demand-id-col); columns: {', '.join(header)}")
    wc = _pick(header, weight_col, WEIGHT_COLUMNS, "the weight", path)
    try:
        return {r[idc]: float(r[wc]) if wc else 1.0 for r in rows}
    except ValueError as exc:
        raise Invalid(f"{path}: weight column {wc!r} has a non-number: {exc}") from exc


def read_problem(costs: Path, *, demand: Path | None = None, demand_col: str | None = None,
                 site_col: str | None = None, cost_col: str | None = None, demand_id_col: str | None = None,
                 weight_col: str | None = None) -> core.Problem:
    """A location problem from a long cost table (demand, site, cost) and optionally a demand file with weights."""
    header, rows = _rows(costs)
    dc = _pick(header, demand_col, LONG_DEMAND_COLUMNS, "the demand id", costs)
    sc = _pick(header, site_col, LONG_SITE_COLUMNS, "the site id", costs)
    cc = _pick(header, cost_col, LONG_COST_COLUMNS, "the cost", costs)
    if dc is None or sc is None or cc is None:
        raise Invalid(f"{costs}: name the demand, site and cost columns (columns: {', '.join(header)})")
    try:
        triples = [(r[dc], r[sc], float(r[cc])) for r in rows]
    except ValueError as exc:
        raise Invalid(f"{costs}: cost column {cc!r} has a non-number: {exc}") from exc
    if demand is not None:
        weights = read_weights(demand, id_col=demand_id_col, weight_col=weight_col)
    else:
        weights = {d: 1.0 for d, _, _ in triples}
    return core.problem_from_long(triples, weights)


def optimize(model: str, problem: core.Problem, **params: Any) -> core.Solution:
    """Run one location model by name with its parameters."""
    if model not in core.MODELS:
        raise Invalid(f"unknown model {model!r}: expected one of {', '.join(core.MODELS)}")
    solvers: dict[str, Callable[..., core.Solution]] = {
        "mclp": core.mclp, "lscp": core.lscp, "pmedian": core.pmedian, "pcenter": core.pcenter, "mexclp": core.mexclp}
    return solvers[model](problem, **params)


# ------------------------------------------------------------------------------------------------ simulation


def load_scenario(path: Path) -> core.Scenario:
    """Read and validate a scenario YAML file; raises `Invalid` saying what is wrong."""
    import yaml
    from pydantic import ValidationError

    if not path.is_file():
        raise Invalid(f"no such scenario file: {path}")
    try:
        return core.Scenario.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except ValidationError as exc:
        raise Invalid(f"{path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise Invalid(f"{path} is not valid YAML: {exc}") from exc


def source_router(scenario: core.Scenario, *, cities_dir: Path | None = None) -> Any:
    """The router the scenario's travel times come from (a city's geo router, or straight line)."""
    t = scenario.travel
    if t.kind == "city":
        from lifechain.geo.repo import CityStore

        if not t.city or cities_dir is None:
            raise Invalid("travel.kind 'city' needs travel.city and an imported city (lifechain city import)")
        return CityStore(cities_dir).router(t.city)
    return core.StraightRouter(city=scenario.name, detour=t.detour,
                               speed_mps={"emergency": t.speed_kmh / 3.6, "regular": t.regular_speed_kmh / 3.6})


def matrix_router(scenario: core.Scenario, *, cities_dir: Path | None = None) -> core.MatrixRouter:
    """Precompute the travel times the simulation will ask (stations/hospitals <-> demand cells)."""
    from lifechain.geo.core import LatLon

    src = None if scenario.travel.kind == "zero" else source_router(scenario, cities_dir=cities_dir)
    return core.build_matrix_router(src, anchors=[LatLon(s.lat, s.lon) for s in scenario.stations],
                                    cells=[LatLon(p.lat, p.lon) for p in scenario.demand],
                                    hospitals=[LatLon(h.lat, h.lon) for h in scenario.hospitals],
                                    zero=scenario.travel.kind == "zero")


def _one(args: tuple[core.Scenario, core.MatrixRouter, Any]) -> dict[str, Any]:
    scenario, router, seed = args
    run = core.run_replication(scenario, router, seed)
    return core.summarise(run, targets_min=scenario.targets_min, arrest=scenario.arrest)


def run_scenario(scenario: core.Scenario, *, replications: int = 1, workers: int = 1,
                 cities_dir: Path | None = None, ray_address: str | None = None,
                 progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Run independent replications (in parallel processes, or on a Ray cluster) and aggregate them with CIs."""
    if replications < 1:
        raise Invalid("replications must be at least 1")
    router = matrix_router(scenario, cities_dir=cities_dir)
    jobs = [(scenario, router, s) for s in core.replication_seeds(scenario, replications)]
    if ray_address:
        summaries = _run_on_ray(jobs, ray_address)
    elif workers > 1 and replications > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=workers) as pool:
            summaries = []
            for s in pool.map(_one, jobs):
                summaries.append(s)
                if progress:
                    progress(1)
    else:
        summaries = []
        for job in jobs:
            summaries.append(_one(job))
            if progress:
                progress(1)
    return {"scenario": scenario.name, "seed": scenario.seed, "replications": replications,
            "summary": core.aggregate(summaries), "runs": summaries}


def _run_on_ray(jobs: list[Any], address: str) -> list[dict[str, Any]]:
    """Replications as Ray tasks on the cluster at `address`."""
    try:
        import ray  # type: ignore[import-not-found,unused-ignore]
    except ImportError as exc:
        raise Invalid("--ray needs the 'ray' package, which is not installed (pip install 'ray[default]')") from exc
    ray.init(address=address)
    task = ray.remote(_one)
    return list(ray.get([task.remote(j) for j in jobs]))
