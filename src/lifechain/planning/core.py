"""Pure planning: location models (in `optimize`) and the discrete-event simulation of a city's calls.

Nothing here touches a database, the web or the wall clock; time is the simulation's own clock. The simulation
asks the very same `dispatch`, `fleet` and `volunteers` core functions that live dispatch asks.
"""

from __future__ import annotations

from numpy.random import SeedSequence, default_rng

from lifechain.planning.optimize import (
    MODELS,
    Problem,
    Solution,
    coverage,
    expected_coverage,
    greedy_cover,
    lscp,
    mclp,
    mexclp,
    pcenter,
    place_aeds,
    pmedian,
    problem_from_long,
    problem_from_router,
)
from lifechain.planning.report import render as render_report
from lifechain.planning.report import render_comparison as render_comparison_report
from lifechain.planning.results import aggregate, compare, confidence, summarise, survival
from lifechain.planning.simulate import NODES, PointIn, RunResult, Scenario, Simulation, simplifications, walking_router
from lifechain.planning.travel import FleetRouter, MatrixRouter, StraightRouter, build_matrix_router

__all__ = [
    "MODELS",
    "NODES",
    "FleetRouter",
    "MatrixRouter",
    "PointIn",
    "Problem",
    "RunResult",
    "Scenario",
    "Simulation",
    "Solution",
    "StraightRouter",
    "aggregate",
    "build_matrix_router",
    "compare",
    "confidence",
    "coverage",
    "expected_coverage",
    "greedy_cover",
    "lscp",
    "mclp",
    "mexclp",
    "pcenter",
    "place_aeds",
    "pmedian",
    "problem_from_long",
    "problem_from_router",
    "render_comparison_report",
    "render_report",
    "replication_seeds",
    "run_replication",
    "simplifications",
    "summarise",
    "survival",
    "walking_router",
]


def run_replication(scenario: Scenario, router: MatrixRouter, seed: SeedSequence) -> RunResult:
    """One replication on its own random stream (a child of the scenario's `SeedSequence`)."""
    return Simulation(scenario, router, default_rng(seed)).run()


def replication_seeds(scenario: Scenario, n: int) -> list[SeedSequence]:
    """Independent streams for `n` replications, reproducible from the scenario's seed."""
    return SeedSequence(scenario.seed).spawn(n)
