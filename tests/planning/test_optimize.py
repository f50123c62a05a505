"""Location models: exact answers equal to brute-force enumeration, and the published spopt San Francisco figures."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.conftest import shared_data
from typer.testing import CliRunner

from lifechain.errors import Invalid
from lifechain.geo.repo import CityStore
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
    (b"demand_id,site_id,cost\na,s\n", "problem", "line 2 has no cost"),  # a short row
    (b"demand_id,site_id,cost\na,s,1\n,s,2\n", "problem", "line 3 has no demand id"),
    (b"demand_id,site_id,cost\na,s,1\nb,s,two\n", "problem", "line 3: cost 'two' is not a number"),
    (b"demand_id,site_id,cost\na,s,1\nb,s,2\na,s,7\n", "problem",
     "demand point 'a' and site 's' appear twice in the cost table, with costs 1 and 7"),
    (b"id,weight\na,1\nb,2\na,3\n", "weights", "line 4: id 'a' appears twice"),
    (b"id,weight\na,1\nb,many\n", "weights", "line 3: weight 'many' \\(column 'weight'\\) is not a number"),
    (b"demand_id,site_id,cost\na,s,nan\n", "problem", "costs must be non-negative numbers"),
    (b"lat,lon\n60.1\n", "points", "a coordinate is missing"),
    (b"lat,lon\n60.1,24.9\nnan,24.9\n", "points", "line 3: \\(nan, 24.9\\) is not a latitude"),
    (b"lat,lon\n60.1,240\n", "points", "line 2: .* is not a latitude"),
    (b"from,to,minutes\na,s,3\n", "problem",
     r"no column for the demand id: give --demand-col, or call it demand_id or .* \(columns: from, to, minutes\)"),
    (b"demand,site,minutes\na,s,3\n", "problem", r"no column for the cost: give --cost-col, or call it cost or"),
], ids=["latin-1", "huge-field", "short-row", "no-demand-id", "text-cost", "pair-twice", "weight-id-twice",
        "text-weight", "nan-cost", "short-point", "nan-lat", "lon-240", "unknown-columns", "no-cost-column"])
def test_bad_csv_files_say_what_is_wrong(tmp_path: Path, content: bytes, reader: str, message: str) -> None:
    """Files the optimiser and the simulation read are refused with `Invalid` (the CLI's one-line error), not a
    traceback: a file in another encoding, a field too large for the csv module and a short row raised
    UnicodeDecodeError, csv.Error and TypeError, and NaN costs and coordinates were taken as numbers. A pair or a
    demand id given twice was quietly taken from its last line, and an empty id was a point of its own."""
    path = tmp_path / "in.csv"
    path.write_bytes(content)
    readers = {"problem": flows.read_problem, "points": flows.read_points, "weights": flows.read_weights}
    with pytest.raises(Invalid, match=message):
        readers[reader](path)


def test_a_weighted_point_missing_from_the_cost_table_counts_as_unreached(tmp_path: Path) -> None:
    """A demand file may name points the cost table has no pair for (a table cut at a distance, say). They were
    dropped, so MCLP's shares left them out and p-median claimed to serve every point; now they stay, unreached."""
    (tmp_path / "costs.csv").write_text("demand,site,cost\na,x,1\nb,x,2\nb,y,1\n")
    (tmp_path / "demand.csv").write_text("id,weight\nc,10\na,1\nb,1\n")
    pr = flows.read_problem(tmp_path / "costs.csv", demand=tmp_path / "demand.csv")
    assert pr.demand_ids == ("a", "b", "c") and pr.weights.tolist() == [1.0, 1.0, 10.0]
    assert np.isinf(pr.costs[2]).all() and flows.unreachable(pr) == {"demand_points": 1, "sites": 0}
    sol = core.mclp(pr, p=1, radius=5.0)
    assert (sol.covered_points, sol.total_points, sol.covered_weight_share) == (2, 3, pytest.approx(2 / 12))
    with pytest.raises(Invalid, match=r"demand point 'c' cannot be reached from any site"):
        core.pmedian(pr, p=1)
    from lifechain.cli import _register_domains, app

    _register_domains()
    result = CliRunner().invoke(app, ["plan", "optimize", "mclp", "--costs", str(tmp_path / "costs.csv"), "--demand",
                                      str(tmp_path / "demand.csv"), "--p", "1", "--radius", "5"])
    assert result.exit_code == 0, result.output
    assert "covered 2/3 points" in result.output
    assert "no finite cost in the table: 1 demand point no site reaches" in result.output


def test_problem_from_router_uses_site_to_demand_travel_times() -> None:
    """Costs come from the router's matrix with sites as origins, transposed to points x sites."""

    class FakeRouter:
        city = "toy"

        def snap(self, points: list[float], **_: object) -> list[float]:
            return points

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


def _cli(*args: str) -> Any:
    from lifechain.cli import _register_domains, app

    _register_domains()
    return CliRunner().invoke(app, list(args))


@pytest.mark.parametrize(("args", "extra", "message"), [
    (["pmedian", "--p", "1"], ["--fixed", "y"], r"--fixed does not apply to pmedian \(only to mclp, aed\)"),
    (["pmedian", "--p", "1"], ["--radius", "3"], "--radius does not apply to pmedian"),
    (["lscp", "--radius", "3"], ["--p", "1"], "--p does not apply to lscp"),
    (["mclp", "--p", "1", "--radius", "3"], ["--units", "2"], "--units does not apply to mclp"),
    (["mclp", "--p", "1", "--radius", "3"], ["--busy-fraction", "0.1"], "--busy-fraction does not apply to mclp"),
    (["mexclp", "--units", "2", "--radius", "3"], ["--fixed", "x"], "--fixed does not apply to mexclp"),
    (["mexclp", "--units", "2", "--radius", "3", "--capacity", "x=1"], ["--capacity", "x=5"],
     r"--capacity names site 'x' twice \(x=1, x=5\)"),
    (["mclp", "--p", "1", "--radius", "3"], ["--mode", "walk", "--profile", "regular"],
     "--mode, --profile apply only with --city, not with --costs"),
], ids=["fixed-pmedian", "radius-pmedian", "p-lscp", "units-mclp", "busy-mclp", "fixed-mexclp", "capacity-twice",
        "mode-costs"])
def test_cli_refuses_an_option_the_model_or_input_does_not_use(tmp_path: Path, args: list[str], extra: list[str],
                                                              message: str) -> None:
    """An option the model or the cost table does not use was quietly ignored: pmedian with `--fixed y` opened x and
    said nothing, and a second `--capacity` for a site replaced the first. Each is refused, naming the option; the
    same call without it solves."""
    costs = ["--costs", str(tmp_path / "costs.csv")]
    (tmp_path / "costs.csv").write_text("demand,site,cost\na,x,1\nb,x,2\nb,y,1\n")
    refused = _cli("plan", "optimize", *args, *extra, *costs)
    assert refused.exit_code == 2
    assert re.search(message, " ".join(refused.output.replace("│", " ").split())), refused.output
    solved = _cli("plan", "optimize", *args, *costs)
    assert solved.exit_code == 0, solved.output


def _problem_files(pr: core.Problem, folder: Path) -> tuple[str, ...]:
    """`pr` as a long cost table and a demand file in `folder`: the options that give them to `plan optimize`."""
    finite = zip(*np.nonzero(np.isfinite(pr.costs)), strict=True)
    (folder / "costs.csv").write_text("demand_id,site_id,cost\n" + "".join(
        f"{pr.demand_ids[i]},{pr.site_ids[j]},{float(pr.costs[i, j])!r}\n" for i, j in finite))
    (folder / "demand.csv").write_text("demand_id,weight\n" + "".join(
        f"{d},{float(w)!r}\n" for d, w in zip(pr.demand_ids, pr.weights, strict=True)))
    return "--costs", str(folder / "costs.csv"), "--demand", str(folder / "demand.csv")


def test_cli_optimize_stops_at_a_time_limit_saying_how_far_it_can_be(tmp_path: Path) -> None:
    """`--time-limit` gives the best answer found, flagged as not proven, with how far below the optimum it can be
    (the LP bound); without it the same instance is solved to its proven optimum, within that bound. A model that
    solves set covering to the end refuses the option."""
    from tests.planning.test_mclp_exact import clustered

    pr = clustered(0, 300, 80)  # its LP bound is 0.77% above the optimum: only the MIP proves it
    args = ("plan", "optimize", "mclp", *_problem_files(pr, tmp_path), "--p", "4", "--radius", "2.5")
    stopped = _cli(*args, "--time-limit", "0")
    assert stopped.exit_code == 0, stopped.output
    assert stopped.output.startswith("mclp: NOT proven optimal within the 0 s time limit, objective ")
    found = re.search(r"at most (\d+\.\d+)% below the optimum \(upper bound (\S+)\)", stopped.output)
    assert found, stopped.output
    as_json = json.loads(_cli(*args, "--time-limit", "0", "--json").output)
    objective, bound = as_json["objective"], as_json["params"]["upper_bound"]
    assert not as_json["optimal"] and as_json["params"]["lp_bound"] >= bound > objective
    assert float(found.group(1)) == pytest.approx(100 * (bound - objective) / objective, abs=1e-3)
    assert float(found.group(2)) == pytest.approx(bound, rel=1e-5)
    proven = json.loads(_cli(*args, "--json").output)
    assert proven["optimal"] and objective - 1e-9 <= proven["objective"] <= bound
    assert "below the optimum" not in _cli(*args).output
    refused = _cli("plan", "optimize", "lscp", "--costs", str(tmp_path / "costs.csv"), "--radius", "2.5",
                   "--time-limit", "5")
    assert refused.exit_code == 2 and "--time-limit applies to mclp, aed, pmedian, mexclp" in refused.output
    with pytest.raises(Invalid, match="a time limit applies to"):
        flows.optimize("pcenter", pr, p=2, time_limit_s=1.0)


def test_pmedian_and_mexclp_stopped_early_answer_and_bound_the_optimum(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Stopped before any node, p-median and MEXCLP still answer (their greedy start: p sites, every unit placed),
    no better than the optimum. Stopped after the root node (HiGHS's node limit, so the test does not depend on
    the machine's speed), the answer carries HiGHS's bound on the optimum on the right side of it: a lower bound
    for p-median, which minimises, an upper bound for MEXCLP; proven, the bound is the answer. Before, p-median
    failed on a time limit ("zero-size array") and MEXCLP answered no unit at all."""
    from tests.planning.test_mclp_exact import clustered

    from lifechain.planning import optimize

    median_pr, expected_pr = clustered(23, 150, 40), clustered(17, 150, 40)  # neither is proven at its root node
    median, expected = core.pmedian(median_pr, p=6), core.mexclp(expected_pr, units=3, radius=2.0, busy_fraction=0.1)
    assert median.optimal and median.params["lower_bound"] == median.objective
    assert expected.optimal and expected.params["upper_bound"] == expected.objective

    early = core.pmedian(median_pr, p=6, time_limit_s=0.0)
    assert not early.optimal and len(early.sites) == 6 and early.objective >= median.objective
    early = core.mexclp(expected_pr, units=3, radius=2.0, busy_fraction=0.1, time_limit_s=0.0)
    assert not early.optimal and sum(early.units.values()) == 3 and 0 < early.objective <= expected.objective

    highs = optimize._highs
    monkeypatch.setattr(optimize, "_highs", lambda mip, options=None: highs(
        mip, {**(options or {}), "mip_max_nodes": 1, "presolve": "off"}))
    root = core.pmedian(median_pr, p=6)
    assert not root.optimal and 0 < root.params["lower_bound"] < median.objective <= root.objective
    root = core.mexclp(expected_pr, units=3, radius=2.0, busy_fraction=0.1)
    assert not root.optimal and root.objective <= expected.objective < root.params["upper_bound"]

    args = ("plan", "optimize", "pmedian", *_problem_files(median_pr, tmp_path), "--p", "6")
    printed, as_json = _cli(*args).output, json.loads(_cli(*args, "--json").output)
    objective, lower = as_json["objective"], as_json["params"]["lower_bound"]
    assert printed.startswith("pmedian: NOT proven optimal, objective ")
    found = re.search(r"at most (\d+\.\d+)% above the optimum \(lower bound (\S+)\)", printed)
    assert found, printed
    assert float(found.group(2)) == pytest.approx(lower, rel=1e-5)
    assert objective > lower and float(found.group(1)) == pytest.approx(100 * (objective - lower) / lower, abs=1e-3)


@pytest.fixture
def city_data(tmp_path: Path, helsinki_cities_dir: Path) -> Path:
    """A data folder whose cities are the compiled Helsinki, with a demand and a sites CSV beside it: five points on
    land (weights 1-5) and one in the sea 3 km south of the extract, three candidate sites with ids."""
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "cities").symlink_to(helsinki_cities_dir, target_is_directory=True)
    (tmp_path / "demand.csv").write_text(
        "lat,lon,weight\n60.1699,24.9384,1\n60.1665,24.9435,2\n60.1720,24.9320,3\n60.1640,24.9330,4\n"
        "60.1755,24.9460,5\n60.1300,24.9500,9\n", encoding="utf-8")
    (tmp_path / "sites.csv").write_text(
        "site_id,lat,lon\nrautatientori,60.1710,24.9440\nkamppi,60.1690,24.9320\npunavuori,60.1620,24.9390\n",
        encoding="utf-8")
    return tmp_path


def test_optimize_on_a_city_uses_its_router(city_data: Path, helsinki_router: Any) -> None:
    """`plan optimize mclp --city`: costs are the city's emergency drive seconds from each site to each point (a
    route asked of the router agrees), the point in the sea is reported unreachable, and the answer is the best
    pair of sites by enumeration."""
    from lifechain.geo.core import LatLon

    problem = flows.problem_on_city(CityStore(city_data / "var" / "cities"), "helsinki", city_data / "demand.csv",
                                    city_data / "sites.csv")
    assert problem.site_ids == ("rautatientori", "kamppi", "punavuori")
    assert problem.demand_ids == ("1", "2", "3", "4", "5", "6")
    route = helsinki_router.route(LatLon(60.1690, 24.9320), LatLon(60.1755, 24.9460), profile="emergency")
    assert problem.costs[4, 1] == pytest.approx(route.seconds, abs=0.01)
    assert np.isinf(problem.costs[5]).all() and np.isfinite(problem.costs[:5]).all()
    radius = float(np.median(problem.costs[:5]))
    best = max(itertools.combinations(range(3), 2), key=lambda s: covered_weight(problem, s, radius))
    result = _cli("--data-dir", str(city_data / "var"), "plan", "optimize", "mclp", "--city", "helsinki",
                  "--demand", str(city_data / "demand.csv"), "--sites", str(city_data / "sites.csv"), "--p", "2",
                  "--radius", str(radius), "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output, parse_constant=lambda name: pytest.fail(f"not JSON: {name}"))
    assert out["unreachable"] == {"demand_points": 1, "sites": 0}
    assert out["max_cost"] is None  # the point in the sea: no open site reaches it
    assert out["objective"] == pytest.approx(covered_weight(problem, best, radius))
    assert out["total_points"] == 6 and out["uncovered_points"] >= 1


def test_optimize_on_a_city_snaps_with_the_settings_of_the_environment(city_data: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """`plan optimize --city` snapped with the default 1000 m whatever LIFECHAIN_SNAP_MAX_DISTANCE_M said; with 5000,
    the point in the sea (3.8 km from a road) is reached, as the server of that environment would route to it."""
    monkeypatch.setenv("LIFECHAIN_SNAP_MAX_DISTANCE_M", "5000")
    result = _cli("--data-dir", str(city_data / "var"), "plan", "optimize", "mclp", "--city", "helsinki",
                  "--demand", str(city_data / "demand.csv"), "--sites", str(city_data / "sites.csv"), "--p", "3",
                  "--radius", "100000", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["unreachable"] == {"demand_points": 0, "sites": 0}
    assert out["uncovered_points"] == 0 and out["objective"] == pytest.approx(24)


def test_aed_placement_on_a_city_walks(city_data: Path, helsinki_router: Any) -> None:
    """`plan optimize aed --city`: walking seconds, the AED already in place stays and p more are added."""
    from lifechain.geo.core import LatLon

    walk = flows.problem_on_city(CityStore(city_data / "var" / "cities"), "helsinki", city_data / "demand.csv",
                                 city_data / "sites.csv", mode="walk")
    route = helsinki_router.route(LatLon(60.1620, 24.9390), LatLon(60.1640, 24.9330), mode="walk")
    assert walk.costs[3, 2] == pytest.approx(route.seconds, abs=0.01)
    radius = float(np.median(walk.costs[:5]))
    result = _cli("--data-dir", str(city_data / "var"), "plan", "optimize", "aed", "--city", "helsinki",
                  "--demand", str(city_data / "demand.csv"), "--sites", str(city_data / "sites.csv"), "--p", "1",
                  "--radius", str(radius), "--fixed", "punavuori", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["model"] == "aed" and "punavuori" in out["sites"] and len(out["sites"]) == 2
    other = max((j for j in range(2)), key=lambda j: covered_weight(walk, (2, j), radius))
    assert out["objective"] == pytest.approx(covered_weight(walk, (2, other), radius))


@pytest.mark.parametrize(("args", "message"), [
    (["--costs", "c.csv", "--city", "helsinki"], "either --costs"),
    (["--p", "2"], "either --costs"),
    (["--city", "helsinki", "--demand", "d.csv"], "--city needs --demand and --sites"),
])
def test_optimize_needs_one_source_of_costs(args: list[str], message: str) -> None:
    result = _cli("plan", "optimize", "mclp", "--radius", "60", "--p", "1", *args)
    assert result.exit_code != 0 and message in result.output, result.output


def test_places_with_a_repeated_id_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "sites.csv"
    path.write_text("id,lat,lon\na,60.1,24.9\nb,60.2,24.9\na,60.3,24.9\n", encoding="utf-8")
    with pytest.raises(Invalid, match="line 4: id 'a' appears twice"):
        flows.read_places(path)


def test_json_output_is_json_alone(tmp_path: Path) -> None:
    """`plan optimize --json` in a real process prints nothing but the JSON document on standard output. HiGHS
    writes its banner straight to the process's stdout (highspy 1.16 did so while building a `Highs`), which
    CliRunner does not see."""
    import subprocess
    import sys

    costs = tmp_path / "costs.csv"
    costs.write_text("demand_id,site_id,cost\na,x,1\na,y,5\nb,x,5\nb,y,1\nc,y,2\n", encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "lifechain", "plan", "optimize", "mclp", "--costs", str(costs),
                          "--p", "1", "--radius", "2", "--json"], capture_output=True, text=True, timeout=120,
                         check=False)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["sites"] == ["y"], out.stdout


@pytest.mark.parametrize("model", ["pmedian", "pcenter"])
def test_a_point_no_site_reaches_is_named(model: str) -> None:
    """p-median and p-center must serve every point: one with no finite cost is refused, by name."""
    pr = small(3)
    costs = pr.costs.copy()
    costs[5] = np.inf
    bad = core.Problem(demand_ids=pr.demand_ids, site_ids=pr.site_ids, weights=pr.weights, costs=costs)
    with pytest.raises(Invalid, match=r"^demand point 'd5' cannot be reached from any site"):
        flows.optimize(model, bad, p=2)
    costs[4] = np.inf
    bad = core.Problem(demand_ids=pr.demand_ids, site_ids=pr.site_ids, weights=pr.weights, costs=costs)
    with pytest.raises(Invalid, match=r"^2 demand points \(e\.g\. 'd4'\) cannot be reached from any site"):
        flows.optimize(model, bad, p=2)


def far_apart() -> core.Problem:
    """Four points and three sites, each site reaching only some points (a: s0 s1, b: s1, c: s0, d: s2)."""
    inf = np.inf
    costs = np.array([[1.0, 3.0, inf], [inf, 1.0, inf], [2.0, inf, inf], [inf, inf, 4.0]])
    return core.Problem(demand_ids=("a", "b", "c", "d"), site_ids=("s0", "s1", "s2"),
                        weights=np.array([1.0, 2.0, 4.0, 8.0]), costs=costs)


@pytest.mark.parametrize("model", ["pmedian", "pcenter"])
def test_too_few_sites_to_reach_every_point_are_refused_naming_how_many_it_takes(model: str) -> None:
    """Every point reached by some site, but by sites so far apart that no p of them reach all: the error says how
    many it takes. Before, p-median said "the solver found no solution (Infeasible)" and p-center "no set of sites
    covers every demand point", which was false."""
    pr = far_apart()
    with pytest.raises(Invalid, match="no 2 sites can reach every demand point: it takes at least 3"):
        flows.optimize(model, pr, p=2)
    with pytest.raises(Invalid, match="no single site can reach every demand point: it takes at least 3"):
        flows.optimize(model, pr, p=1)
    assert sorted(flows.optimize(model, pr, p=3).sites) == ["s0", "s1", "s2"]


def test_an_infinite_radius_covers_the_pairs_a_site_can_serve_and_a_bad_one_is_refused() -> None:
    """A cost of infinity means the site cannot serve the point, whatever the radius: with an infinite radius MCLP
    covers the points its sites reach, no more. Before, infinity <= infinity covered every point and the solution
    said so. A negative or NaN radius is refused."""
    pr = far_apart()
    one, two = core.mclp(pr, p=1, radius=np.inf), core.mclp(pr, p=2, radius=np.inf)
    assert (one.sites, one.objective, one.covered_points) == (("s2",), 8.0, 1)  # d alone outweighs a and c
    assert (two.sites, two.objective, two.covered_points) == (("s0", "s2"), 13.0, 3)  # b is left out
    for radius in (-1.0, float("nan")):
        with pytest.raises(Invalid, match="the radius must be a number >= 0"):
            core.mclp(pr, p=2, radius=radius)
        with pytest.raises(Invalid, match="the radius must be a number >= 0"):
            core.lscp(pr, radius=radius)


def test_the_command_line_says_when_a_cost_figure_has_no_value(tmp_path: Path) -> None:
    """A mean over reached points that all weigh nothing, and a largest cost when some point is unreached, are said
    in words (before: "weighted mean cost inf; max cost inf")."""
    pr = far_apart()
    args = ("plan", "optimize", "mclp", "--p", "1", "--radius", "inf")
    out = _cli(*args, *_problem_files(pr, tmp_path)).output  # s2 alone: d reached at cost 4
    assert "  weighted mean cost 4.000; max cost infinite (some points unreached)\n" in out, out
    weightless = core.Problem(demand_ids=pr.demand_ids, site_ids=pr.site_ids, weights=np.zeros(4), costs=pr.costs)
    out = _cli(*args, *_problem_files(weightless, tmp_path)).output
    assert "  weighted mean cost none (no reached point has a weight); max cost infinite" in out, out


def test_unreached_points_and_idle_sites_are_counted() -> None:
    """A point with no finite cost is unreached and a site with none is idle; a single finite pair is enough for
    either to count as reached."""
    pr = small(4)
    costs = pr.costs.copy()
    costs[[2, 9]] = np.inf
    costs[:, 4] = np.inf
    costs[11, 4] = 3.0  # site 4 reaches point 11 only
    costs[:, 6] = np.inf
    bad = core.Problem(demand_ids=pr.demand_ids, site_ids=pr.site_ids, weights=pr.weights, costs=costs)
    assert bad.unreached_points().tolist() == [2, 9]
    assert bad.idle_sites().tolist() == [6]
    assert flows.unreachable(bad) == {"demand_points": 2, "sites": 1}


def test_a_long_table_of_demand_site_cost_reads_as_named(tmp_path: Path) -> None:
    """The plainest header for a long cost table, `demand,site,cost`, needs no column options (it was refused:
    `demand` was not a known name for the demand id)."""
    path = tmp_path / "costs.csv"
    path.write_text("demand,site,cost\na,x,1\nb,x,3\nb,y,1\n")
    pr = flows.read_problem(path)
    assert pr.demand_ids == ("a", "b") and pr.site_ids == ("x", "y")
    assert pr.costs[0].tolist() == [1.0, np.inf] and pr.costs[1].tolist() == [3.0, 1.0]
