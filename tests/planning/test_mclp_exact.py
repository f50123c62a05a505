"""MCLP's reduced solve (Lagrangian restriction, local search, HiGHS on what is left) against independent answers:
the textbook compact MIP built here straight with highspy, and brute-force enumeration."""

from __future__ import annotations

import itertools
import threading
from typing import Any

import highspy
import numpy as np
import pytest
import scipy.sparse as sp

from lifechain.planning import core
from lifechain.planning import optimize as opt


def clustered(seed: int, n: int, m: int) -> core.Problem:
    """Points around a few centres on a 10 x 10 square, sites half near them and half anywhere, some pairs cut."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(2, 8, size=(4, 2))
    pts = centres[rng.integers(0, 4, size=n)] + rng.normal(scale=1.2, size=(n, 2))
    sites = np.vstack([centres[rng.integers(0, 4, size=m // 2)] + rng.normal(scale=1.5, size=(m // 2, 2)),
                       rng.uniform(0, 10, size=(m - m // 2, 2))])
    costs = np.sqrt(((pts[:, None, :] - sites[None, :, :]) ** 2).sum(axis=2))
    costs[rng.random((n, m)) < 0.05] = np.inf
    return core.Problem(demand_ids=tuple(f"d{i}" for i in range(n)), site_ids=tuple(f"s{j}" for j in range(m)),
                        weights=rng.lognormal(1.0, 1.0, size=n), costs=costs)


def plain_mclp(cover: np.ndarray, w: np.ndarray, p: int, fixed: tuple[int, ...] = ()) -> float:
    """max sum w_i y_i, y_i <= sum_{j covers i} x_j, sum x_j = p, x binary, y in [0, 1]: no reduction at all."""
    n, m = cover.shape
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("mip_rel_gap", 0.0)
    lower = np.zeros(m)
    lower[list(fixed)] = 1.0
    h.addVars(m, lower, np.ones(m))
    h.addVars(n, np.zeros(n), np.ones(n))
    h.changeColsIntegrality(m, np.arange(m, dtype=np.int32), np.full(m, highspy.HighsVarType.kInteger))
    h.changeColsCost(n, np.arange(m, m + n, dtype=np.int32), w.astype(float))
    for i in range(n):
        js = np.flatnonzero(cover[i])
        idx = np.concatenate([[m + i], js]).astype(np.int32)
        h.addRow(-np.inf, 0.0, idx.size, idx, np.concatenate([[1.0], -np.ones(js.size)]))
    h.addRow(p, p, m, np.arange(m, dtype=np.int32), np.ones(m))
    h.changeObjectiveSense(highspy.ObjSense.kMaximize)
    h.run()
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    return float(h.getInfo().objective_function_value)


def enumerate_best(cover: np.ndarray, w: np.ndarray, p: int, sites: list[int] | None = None,
                   fixed: tuple[int, ...] = ()) -> float:
    """Best covered weight over every p-subset of `sites` (all sites by default) holding `fixed`."""
    pool = [j for j in (range(cover.shape[1]) if sites is None else sites) if j not in fixed]
    k = min(p - len(fixed), len(pool))
    return max(float(w[cover[:, list(fixed) + list(s)].any(axis=1)].sum()) for s in itertools.combinations(pool, k))


@pytest.fixture
def mip_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[float, tuple[int, int]]]:
    """Records every MIP the MCLP solver hands to HiGHS: the threshold of the restriction that made it, its size."""
    calls: list[tuple[float, tuple[int, int]]] = []
    thresholds: list[float] = []
    restrict, mip = opt._restrict, opt._mclp_mip

    def restrict_spy(red: Any, p: int, threshold: float, *args: Any, **kwargs: Any) -> Any:
        thresholds.append(threshold)
        return restrict(red, p, threshold, *args, **kwargs)

    def mip_spy(red: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append((thresholds[-1], red.cover.shape))
        return mip(red, *args, **kwargs)

    monkeypatch.setattr(opt, "_restrict", restrict_spy)
    monkeypatch.setattr(opt, "_mclp_mip", mip_spy)
    return calls


@pytest.mark.parametrize("heuristics", ["full", "greedy only"])
def test_mclp_equals_plain_compact_mip(heuristics: str, mip_calls: list[tuple[float, tuple[int, int]]],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """On clustered instances whose LP bound is 0.1-1.3% above the optimum (300 points, 80-100 sites) the covered
    weight equals the plain MIP's optimum, the p open sites really cover it, and optimality is proven. "greedy
    only" turns the local searches off, so the restriction starts from a weak incumbent and HiGHS must find the
    optimum inside what is left. The MIP only ever sees sites kept for a threshold that a known solution reaches
    (at most the optimum): above it the restriction may drop the optimum's sites."""
    if heuristics == "greedy only":
        monkeypatch.setattr(opt, "_ROUNDS", 0)
        monkeypatch.setattr(opt, "swap_search", lambda cover, weights, sites, **_: list(sites))
    for seed in range(6):
        for n, m, p, radius in ((300, 80, 6, 2.0), (300, 80, 4, 2.5), (300, 100, 10, 1.5)):
            pr = clustered(seed, n, m)
            cover = pr.costs <= radius
            expected = plain_mclp(cover, pr.weights, p)
            done = len(mip_calls)
            sol = core.mclp(pr, p=p, radius=radius)
            assert all(threshold <= expected * (1 + 1e-9) for threshold, _ in mip_calls[done:])
            assert sol.optimal and len(sol.sites) == p == len(set(sol.sites))
            assert sol.objective == pytest.approx(expected, rel=1e-9)
            idx = [pr.site_ids.index(s) for s in sol.sites]
            assert float(pr.weights[cover[:, idx].any(axis=1)].sum()) == pytest.approx(expected, rel=1e-9)
    assert len(mip_calls) >= 6, "too few instances reached the exact MIP: the test would not check it"


def test_mclp_with_fixed_sites_equals_enumeration() -> None:
    """Fixed sites stay open and the rest is the best completion, against brute force over every subset."""
    for seed in range(10):
        pr = clustered(seed, 40, 10)
        rng = np.random.default_rng(seed)
        cover = pr.costs <= 2.0
        for p in (2, 4):
            fixed = tuple(int(j) for j in rng.choice(10, size=int(rng.integers(0, 3)), replace=False))
            sol = core.mclp(pr, p=p, radius=2.0, fixed=[pr.site_ids[j] for j in fixed])
            assert {pr.site_ids[j] for j in fixed} <= set(sol.sites) and len(sol.sites) == p
            assert sol.optimal
            assert sol.objective == pytest.approx(enumerate_best(cover, pr.weights, p, fixed=fixed))


def test_lagrangian_bounds_every_solution_whatever_the_multipliers() -> None:
    """For LP duals and for random multipliers: the bound is >= every p-subset's covered weight, and the bound with
    site j forced open is >= every p-subset holding j (the exactness of the restriction rests on this)."""
    for seed in range(6):
        pr = clustered(seed, 30, 9)
        cover = sp.csr_matrix((pr.costs <= 2.0).astype(float))
        rng = np.random.default_rng(seed)
        p = 3
        values = {s: opt.covered_weight(cover, pr.weights, s) for s in itertools.combinations(range(9), p)}
        for lam in (opt._coverage_lp_duals(cover, pr.weights, p), rng.uniform(0, 2, size=30) * pr.weights,
                    rng.uniform(0, 1, size=30)):
            bound, forced = opt._lagrangian(cover, pr.weights, p, lam)
            assert bound >= max(values.values()) - 1e-9
            for j in range(9):
                assert forced[j] >= max(v for s, v in values.items() if j in s) - 1e-9
                assert forced[j] <= bound + 1e-9


@pytest.mark.parametrize("solvers", [opt._LP_SOLVERS, *((s,) for s in opt._LP_SOLVERS)])
def test_lp_duals_give_the_lp_bound(solvers: tuple[str, ...], monkeypatch: pytest.MonkeyPatch) -> None:
    """With the LP's duals the Lagrangian bound is the LP relaxation's value (so it is as tight as it can be),
    from each interior-point solver alone and from their race."""
    monkeypatch.setattr(opt, "_LP_SOLVERS", solvers)
    pr = clustered(3, 120, 30)
    cover = sp.csr_matrix((pr.costs <= 1.5).astype(float))
    n, m = cover.shape
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.addVars(m + n, np.zeros(m + n), np.ones(m + n))
    h.changeColsCost(n, np.arange(m, m + n, dtype=np.int32), pr.weights)
    dense = cover.toarray()
    for i in range(n):
        js = np.flatnonzero(dense[i])
        idx = np.concatenate([[m + i], js]).astype(np.int32)
        h.addRow(-np.inf, 0.0, idx.size, idx, np.concatenate([[1.0], -np.ones(js.size)]))
    h.addRow(-np.inf, 5, m, np.arange(m, dtype=np.int32), np.ones(m))
    h.changeObjectiveSense(highspy.ObjSense.kMaximize)
    h.run()
    bound, _ = opt._lagrangian(cover, pr.weights, 5, opt._coverage_lp_duals(cover, pr.weights, 5))
    assert bound == pytest.approx(h.getInfo().objective_function_value, rel=1e-6)


@pytest.mark.parametrize("solver", opt._LP_SOLVERS)
def test_a_solver_that_lost_the_race_stops(solver: str) -> None:
    """Once another solver has won (the event is set), each solver stops at its next interrupt check instead of
    running to its end; unstopped it reaches the optimum."""
    pr = clustered(1, 2000, 200)
    model = opt._mclp_model(sp.csr_matrix((pr.costs <= 2.5).astype(float)), pr.weights, 10, integer=False)
    lost = threading.Event()
    lost.set()
    assert opt._interior_point(model, solver, lost).getModelStatus() == highspy.HighsModelStatus.kInterrupt
    assert opt._interior_point(model, solver, threading.Event()).getModelStatus() == highspy.HighsModelStatus.kOptimal


def test_restriction_keeps_the_optimum() -> None:
    """Removing the sites whose forced-open bound is below a threshold at or under the optimum leaves an instance
    with the same optimum (brute force on both); above the optimum it may not, which is why the solver only uses
    thresholds it has a solution for."""
    removed = 0
    for seed in range(10):
        pr = clustered(seed, 60, 12)
        p = 3
        red = opt._reduce(sp.csr_matrix((pr.costs <= 1.5).astype(float)), pr.weights, np.arange(12), p)
        dense = red.cover.toarray()
        best = enumerate_best(dense, red.weights, p)
        lam = opt._coverage_lp_duals(red.cover, red.weights, p)
        bound, _ = opt._lagrangian(red.cover, red.weights, p, lam)
        for threshold in (best, best - 0.01 * (bound - best), best - (bound - best)):
            small = opt._restrict(red, p, threshold, 1e-9, lam)
            removed += red.cover.shape[1] - small.cover.shape[1]
            kept = [int(np.flatnonzero(red.sites == s)[0]) for s in small.sites]
            assert enumerate_best(dense, red.weights, p, kept) == pytest.approx(best)
    assert removed > 0, "the restriction never removed a site: the test would not check it"


def test_swap_search_ends_at_a_local_optimum() -> None:
    """No single swap of an open site for a closed one improves the result, which is no worse than the start."""
    for seed in range(6):
        pr = clustered(seed, 80, 15)
        cover = sp.csr_matrix((pr.costs <= 1.5).astype(float))
        start = list(range(4))
        found = opt.swap_search(cover, pr.weights, start)
        value = opt.covered_weight(cover, pr.weights, found)
        assert len(set(found)) == 4 and value >= opt.covered_weight(cover, pr.weights, start) - 1e-9
        for i in found:
            for j in set(range(15)) - set(found):
                swapped = [s for s in found if s != i] + [j]
                assert opt.covered_weight(cover, pr.weights, swapped) <= value + 1e-9


def test_swap_search_takes_the_best_swap_of_every_round() -> None:
    """Its scores of all swaps at once are exact: it makes the same moves as trying every swap in turn and taking
    the best, until none improves (weights are continuous, so there are no ties)."""
    for seed in range(6):
        pr = clustered(seed, 80, 15)
        cover = sp.csr_matrix((pr.costs <= 2.5).astype(float))
        current = list(range(5))
        while True:
            value = opt.covered_weight(cover, pr.weights, current)
            swaps = [[s for s in current if s != i] + [j] for i in current for j in set(range(15)) - set(current)]
            best = max(swaps, key=lambda sites: opt.covered_weight(cover, pr.weights, sites))
            if opt.covered_weight(cover, pr.weights, best) <= value + 1e-9:
                break
            current = best
        assert sorted(opt.swap_search(cover, pr.weights, list(range(5)))) == sorted(current)


def test_ruin_recreate_never_loses_to_its_start() -> None:
    """The iterated local search returns p distinct sites, at least as good as 1-swap from the same start."""
    pr = clustered(5, 200, 40)
    cover = sp.csr_matrix((pr.costs <= 1.2).astype(float))
    start = opt.greedy_cover(cover, pr.weights, 6)
    found = opt.ruin_recreate(cover, pr.weights, start, rounds=50)
    assert len(set(found)) == 6
    assert opt.covered_weight(cover, pr.weights, found) >= \
        opt.covered_weight(cover, pr.weights, opt.swap_search(cover, pr.weights, start)) - 1e-9


def test_dominated_sites_are_inside_a_site_that_stays() -> None:
    """Every site removed covers a subset of what some kept site covers (of equal sets the lowest index stays), no
    kept site's set is inside another kept one's, and a site in `keep` or beyond `room` is never removed."""
    for seed in range(6):
        pr = clustered(seed, 60, 30)
        dense = pr.costs <= 1.0
        dense[:, 7] = dense[:, 3]  # an exact tie
        cover = sp.csr_matrix(dense.astype(float))
        out = opt._dominated_sites(cover, set(), room=30)
        sets = [frozenset(np.flatnonzero(dense[:, j])) for j in range(30)]
        kept = [k for k in range(30) if not out[k]]
        assert out[7]  # equal to 3: it goes whether 3 stays (lower index) or goes (inside a larger one)
        for j in np.flatnonzero(out):
            assert any(sets[j] <= sets[k] for k in kept if k != j)
        for j, k in itertools.permutations(kept, 2):
            assert not sets[j] <= sets[k]
        assert not opt._dominated_sites(cover, {7}, room=30)[7]
        assert opt._dominated_sites(cover, set(), room=2).sum() == min(2, int(out.sum()))


def test_ruin_recreate_stops_when_patience_runs_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """With `patience` k, the search ends k rounds after its last improvement rather than after all rounds."""
    pr = clustered(5, 200, 40)
    cover = sp.csr_matrix((pr.costs <= 1.2).astype(float))
    start = opt.greedy_cover(cover, pr.weights, 6)
    calls = 0
    swap = opt.swap_search

    def counted(*args: Any, **kwargs: Any) -> list[int]:
        nonlocal calls
        calls += 1
        return swap(*args, **kwargs)

    monkeypatch.setattr(opt, "swap_search", counted)
    opt.ruin_recreate(cover, pr.weights, start, rounds=400, patience=5)
    assert 1 + 5 <= calls < 1 + 400
    calls = 0
    opt.ruin_recreate(cover, pr.weights, start, rounds=400)
    assert calls == 1 + 400


def test_time_limit_is_reported_as_not_proven(mip_calls: list[tuple[float, tuple[int, int]]],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """When HiGHS stops on the time limit the answer is the best found, flagged as not proven optimal."""
    pr = clustered(0, 300, 80)  # its LP bound is 0.77% above the optimum: only the MIP can prove it
    expected = plain_mclp(pr.costs <= 2.5, pr.weights, 4)
    sol = core.mclp(pr, p=4, radius=2.5, time_limit_s=0.0)
    assert mip_calls
    assert not sol.optimal and len(sol.sites) == 4
    assert sol.params["lp_bound"] > expected
    assert sol.objective <= expected + 1e-9
    assert expected - 1e-9 <= sol.params["upper_bound"] <= sol.params["lp_bound"]


def test_an_unfinished_proof_reports_the_mips_tighter_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stopped after HiGHS's root node, the answer's upper bound is HiGHS's dual bound on the restricted MIP (every
    better solution is in it): below the LP bound, and still at least the true optimum. Proven, it is the optimum."""
    pr = clustered(0, 300, 80)
    expected = plain_mclp(pr.costs <= 2.5, pr.weights, 4)
    monkeypatch.setitem(opt._PROOF_OPTIONS, "mip_max_nodes", 1)
    sol = core.mclp(pr, p=4, radius=2.5)
    assert not sol.optimal
    assert expected - 1e-9 <= sol.params["upper_bound"] < sol.params["lp_bound"] - 1.0  # 1159.8 against 1165.2
    assert sol.objective <= expected + 1e-9
    monkeypatch.delitem(opt._PROOF_OPTIONS, "mip_max_nodes")
    proven = core.mclp(pr, p=4, radius=2.5)
    assert proven.optimal and proven.params["upper_bound"] == proven.objective == pytest.approx(expected)
