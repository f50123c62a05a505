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
