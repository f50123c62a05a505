"""Location models: exact answers equal to brute-force enumeration, and the published spopt San Francisco figures."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from tests.conftest import shared_data
from typer.testing import CliRunner

from lifechain.errors import Invalid
from lifechain.planning import core, flows


def small(seed: int, n: int = 14, m: int = 7) -> core.Problem:
    """A random small instance (some pairs unreachable)."""
    rng = np.random.default_rng(seed)
    costs = rng.uniform(0, 10, size=(n, m))
    costs[rng.random((n, m)) < 0.1] = np.inf
    costs[:, 0] = np.minimum(costs[:, 0], 9.5)  # every point reachable from some site
    return core.Problem(demand_ids=tuple(f"d{i}" for i in range(n)), site_ids=tuple(f"s{j}" for j in range(m)),
                        weights=rng.integers(1, 20, size=n).astype(float), costs=costs)


def covered_weight(pr: core.Problem, sites: tuple[int, ...], radius: float) -> float:
    return float(pr.weights[(pr.costs[:, list(sites)] <= radius).any(axis=1)].sum())


@pytest.mark.parametrize("seed", range(6))
def test_mclp_equals_enumeration(seed: int) -> None:
    """MCLP covers exactly as much weight as the best of all p-subsets."""
    pr = small(seed)
    for p in (1, 2, 3):
        best = max(covered_weight(pr, s, 4.0) for s in itertools.combinations(range(7), p))
        sol = core.mclp(pr, p=p, radius=4.0)
        assert sol.optimal and len(sol.sites) == p
        assert sol.objective == pytest.approx(best)
        assert sol.covered_weight_share == pytest.approx(best / pr.weights.sum())


@pytest.mark.parametrize("seed", range(6))
def test_pmedian_and_pcenter_equal_enumeration(seed: int) -> None:
    """p-median minimises the weighted total and p-center the maximum nearest cost over all p-subsets."""
    pr = small(seed)
    for p in (1, 2, 3):
        subsets = list(itertools.combinations(range(7), p))
        totals = [(pr.costs[:, list(s)].min(axis=1) * pr.weights).sum() for s in subsets]
        maxima = [pr.costs[:, list(s)].min(axis=1).max() for s in subsets]
        assert core.pmedian(pr, p=p).objective == pytest.approx(min(totals))
        assert core.pcenter(pr, p=p).objective == pytest.approx(min(maxima))


@pytest.mark.parametrize("seed", range(6))
def test_lscp_equals_enumeration(seed: int) -> None:
    """LSCP opens the fewest sites that put every point within the radius."""
    pr = small(seed)
    radius = 6.0
    cover = pr.costs <= radius
    if not cover.any(axis=1).all():
        with pytest.raises(Invalid, match="beyond"):
            core.lscp(pr, radius=radius)
        return
    fewest = next(k for k in range(1, 8) for s in itertools.combinations(range(7), k) if cover[:, s].any(axis=1).all())
    sol = core.lscp(pr, radius=radius)
    assert len(sol.sites) == fewest and sol.covered_points == sol.total_points


@pytest.mark.parametrize("seed", range(4))
def test_mexclp_equals_enumeration_with_capacities(seed: int) -> None:
    """MEXCLP's allocation maximises Daskin's expected coverage among all allocations within station capacities."""
    pr = small(seed, n=10, m=5)
    q, units, radius = 0.4, 4, 5.0
    caps = {"s0": 1, "s1": 2}
    cap = [caps.get(s, units) for s in pr.site_ids]
    a = (pr.costs <= radius).astype(float)
    best = max(float((pr.weights * (1 - q ** (a @ np.array(x)))).sum())
               for x in itertools.product(*(range(c + 1) for c in cap)) if sum(x) == units)
    sol = core.mexclp(pr, units=units, radius=radius, busy_fraction=q, capacities=caps)
    assert sol.objective == pytest.approx(best)
    assert sum(sol.units.values()) == units
    assert all(sol.units.get(s, 0) <= c for s, c in caps.items())


def test_fixed_sites_stay_open_and_aeds_add_to_existing() -> None:
    """Fixed sites are always in the MCLP answer; AED placement adds p to the existing ones."""
    pr = small(1)
    sol = core.mclp(pr, p=3, radius=4.0, fixed=["s6"])
    assert "s6" in sol.sites and len(sol.sites) == 3
    best = max(covered_weight(pr, (6, *s), 4.0) for s in itertools.combinations(range(6), 2))
    assert sol.objective == pytest.approx(best)
    aed = core.place_aeds(pr, p=2, walk_s=4.0, existing=["s6"])
    assert "s6" in aed.sites and len(aed.sites) == 3 and aed.objective == pytest.approx(best)


def test_bad_input_says_what_is_wrong() -> None:
    """Impossible p, unknown sites and malformed tables raise `Invalid` with the reason."""
    pr = small(0)
    with pytest.raises(Invalid, match="p must be between"):
        core.mclp(pr, p=99, radius=1.0)
    with pytest.raises(Invalid, match="unknown site"):
        core.mclp(pr, p=2, radius=1.0, fixed=["nope"])
    with pytest.raises(Invalid, match="capacities total"):
        core.mexclp(pr, units=5, radius=1.0, busy_fraction=0.2, capacities={s: 0 for s in pr.site_ids})
    with pytest.raises(Invalid, match="no weight"):
        core.problem_from_long([("a", "s", 1.0)], {})
    with pytest.raises(Invalid, match="costs must be non-negative numbers"):  # NaN is neither below 0 nor above
        core.problem_from_long([("a", "s", float("nan"))], {"a": 1.0})


@pytest.mark.parametrize(("content", "reader", "message"), [
    (b"demand_id,site_id,cost\na,s,\xff\n", "problem", "is not UTF-8 text"),
    (b"demand_id,site_id,cost\na,s,\"" + b"1" * 200_000 + b"\"\n", "problem", "not a readable CSV file"),
    (b"demand_id,site_id,cost\na,s\n", "problem", "cost column 'cost' has a non-number"),  # a short row
    (b"demand_id,site_id,cost\na,s,nan\n", "problem", "costs must be non-negative numbers"),
    (b"lat,lon\n60.1\n", "points", "a coordinate is missing"),
    (b"lat,lon\n60.1,24.9\nnan,24.9\n", "points", "line 3: \\(nan, 24.9\\) is not a latitude"),
    (b"lat,lon\n60.1,240\n", "points", "line 2: .* is not a latitude"),
], ids=["latin-1", "huge-field", "short-row", "nan-cost", "short-point", "nan-lat", "lon-240"])
def test_bad_csv_files_say_what_is_wrong(tmp_path: Path, content: bytes, reader: str, message: str) -> None:
    """Files the optimiser and the simulation read are refused with `Invalid` (the CLI's one-line error), not a
    traceback: a file in another encoding, a field too large for the csv module and a short row raised
    UnicodeDecodeError, csv.Error and TypeError, and NaN costs and coordinates were taken as numbers."""
    path = tmp_path / "in.csv"
    path.write_bytes(content)
    with pytest.raises(Invalid, match=message):
        flows.read_problem(path) if reader == "problem" else flows.read_points(path)


def test_problem_from_router_uses_site_to_demand_travel_times() -> None:
    """Costs come from the router's matrix with sites as origins, transposed to points x sites."""

    class FakeRouter:
        city = "toy"

        def matrix(self, origins: list[float], destinations: list[float], **_: object) -> np.ndarray:
            return np.abs(np.subtract.outer(np.array(origins), np.array(destinations))) * 10

    pr = core.problem_from_router(FakeRouter(), [("a", 0.0, 1.0), ("b", 5.0, 2.0)], [("x", 1.0), ("y", 4.0)])
    assert pr.costs.tolist() == [[10.0, 40.0], [40.0, 10.0]]
    assert core.mclp(pr, p=1, radius=15).sites in {("x",), ("y",)}


SF = ("spopt-sf",)
SF_COSTS = "SF_network_distance_candidateStore_16_censusTract_205_new.csv"
SF_DEMAND = "SF_demand_205_centroid_uniform_weight.csv"


@pytest.mark.shared_data
def test_spopt_san_francisco_figures() -> None:
    """The spopt SF files read directly: MCLP p=4 at 5 km leaves 21 of 205 tracts; p-median mean 2982.127 m."""
    folder = shared_data(*SF)
    pr = flows.read_problem(folder / SF_COSTS, demand=folder / SF_DEMAND)
    assert len(pr.demand_ids) == 205 and len(pr.site_ids) == 16
    sol = core.mclp(pr, p=4, radius=5000)
    assert sol.uncovered_points == 21
    assert round(100 * sol.covered_share, 3) == 89.756
    assert round(core.pmedian(pr, p=4).mean_cost, 3) == 2982.127


@pytest.mark.shared_data
def test_cli_optimize_prints_json() -> None:
    """`lifechain plan optimize mclp ... --json` prints the solution."""
    from lifechain.cli import _register_domains, app

    folder = shared_data(*SF)
    _register_domains()
    result = CliRunner().invoke(app, ["plan", "optimize", "mclp", "--costs", str(folder / SF_COSTS), "--demand",
                                      str(folder / SF_DEMAND), "--p", "4", "--radius", "5000", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["uncovered_points"] == 21


def test_cli_rejects_missing_parameters(tmp_path: object) -> None:
    """A model without its required option fails with a message naming it."""
    from lifechain.cli import _register_domains, app

    _register_domains()
    result = CliRunner().invoke(app, ["plan", "optimize", "mclp", "--costs", "x.csv", "--p", "2"])
    assert result.exit_code != 0
    assert "radius" in result.output
