"""Pure planning: location models (in `optimize`) and the discrete-event simulation of a city's calls.

Nothing here touches a database, the web or the wall clock; time is the simulation's own clock. The simulation
asks the very same `dispatch`, `fleet` and `volunteers` core functions that live dispatch asks.
"""

from __future__ import annotations

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

__all__ = [
    "MODELS",
    "Problem",
    "Solution",
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
]
