"""Location models solved exactly with HiGHS: MCLP, LSCP, p-median, p-center, MEXCLP and AED placement.

Pure: no I/O, no clock. Costs are whatever the caller measured (metres or seconds); `inf` means "cannot serve".
Every model first shrinks the instance without changing its optimum (uncoverable points dropped, points with the
same set of covering sites merged, dominated sites removed), then asks HiGHS for a proven optimum (relative gap 0).
MCLP (and AED placement) also removes the sites a Lagrangian bound rules out against a local-search incumbent
before HiGHS proves the rest (`_mclp_indices`; docs/decisions/planning-solver.md).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import highspy
import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from highspy import cb
from highspy._core import _Highs

from lifechain.errors import Invalid

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
MODELS = ("mclp", "lscp", "pmedian", "pcenter", "mexclp", "aed")


@dataclass(frozen=True, slots=True)
class Problem:
    """Demand points with weights, candidate sites, and the cost from every site to every point (rows: points)."""

    demand_ids: tuple[str, ...]
    site_ids: tuple[str, ...]
    weights: FloatArray
    costs: FloatArray

    def __post_init__(self) -> None:
        n, m = len(self.demand_ids), len(self.site_ids)
        if n == 0 or m == 0:
            raise Invalid("a location problem needs at least one demand point and one candidate site")
        if self.costs.shape != (n, m):
            raise Invalid(f"cost table is {self.costs.shape}, expected {n} demand points x {m} sites")
        if self.weights.shape != (n,) or bool(np.any(self.weights < 0)) or not np.all(np.isfinite(self.weights)):
            raise Invalid("weights must be one finite, non-negative number per demand point")
        if bool(np.any(self.costs < 0)) or bool(np.any(np.isnan(self.costs))):
            raise Invalid("costs must be non-negative numbers (infinity: the site cannot serve the point)")

    def unreached_points(self) -> IntArray:
        """Indices of the demand points no site can reach (every cost infinite: off the network, or no pair)."""
        return np.flatnonzero(~np.isfinite(self.costs).any(axis=1))

    def idle_sites(self) -> IntArray:
        """Indices of the sites that reach no demand point."""
        return np.flatnonzero(~np.isfinite(self.costs).any(axis=0))


@dataclass(frozen=True, slots=True)
class Solution:
    """An optimal siting: the open sites (units per site for MEXCLP), the objective and what it means for demand."""

    model: str
    sites: tuple[str, ...]
    objective: float
    optimal: bool
    covered_points: int
    total_points: int
    covered_share: float
    covered_weight_share: float
    mean_cost: float
    max_cost: float
    units: dict[str, int] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def uncovered_points(self) -> int:
        """Demand points outside the service radius of every open site."""
        return self.total_points - self.covered_points

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view of the solution; a cost no open site reaches (infinite) is null, as JSON has no
        infinity."""
        def number(x: float) -> float | None:
            return x if math.isfinite(x) else None

        return {"model": self.model, "sites": list(self.sites), "units": dict(self.units),
                "objective": self.objective, "optimal": self.optimal, "covered_points": self.covered_points,
                "uncovered_points": self.uncovered_points, "total_points": self.total_points,
                "covered_share": self.covered_share, "covered_weight_share": self.covered_weight_share,
                "mean_cost": number(self.mean_cost), "max_cost": number(self.max_cost), "params": dict(self.params)}


# ---------------------------------------------------------------------------------------------- building problems


def problem_from_long(rows: Iterable[tuple[str, str, float]], weights: Mapping[str, float]) -> Problem:
    """Build a problem from a long cost table (demand id, site id, cost); missing pairs cannot be served. A weighted
    demand point with no pair at all is one no site reaches: it stays in the problem (after the table's points), so
    that it counts as uncovered rather than vanishing from the shares. A pair given twice must give the same cost."""
    triples = [(str(d), str(s), float(c)) for d, s, c in rows]
    if not triples:
        raise Invalid("the cost table is empty")
    in_table = dict.fromkeys(d for d, _, _ in triples)
    missing = [d for d in in_table if d not in weights]
    if missing:
        raise Invalid(f"{len(missing)} demand points have no weight, e.g. {missing[0]!r}")
    demand_ids = (*in_table, *(d for d in weights if d not in in_table))
    site_ids = tuple(dict.fromkeys(s for _, s, _ in triples))
    d_index = {d: i for i, d in enumerate(demand_ids)}
    s_index = {s: j for j, s in enumerate(site_ids)}
    costs = np.full((len(demand_ids), len(site_ids)), np.inf)
    given = np.zeros(costs.shape, bool)
    for d, s, c in triples:
        i, j = d_index[d], s_index[s]
        if given[i, j] and costs[i, j] != c:
            raise Invalid(f"demand point {d!r} and site {s!r} appear twice in the cost table, with costs "
                          f"{costs[i, j]:g} and {c:g}")
        costs[i, j], given[i, j] = c, True
    w = np.array([float(weights[d]) for d in demand_ids])
    return Problem(demand_ids=demand_ids, site_ids=site_ids, weights=w, costs=costs)


def problem_from_router(router: Any, demand: Sequence[tuple[str, Any, float]], sites: Sequence[tuple[str, Any]], *,
                        mode: str = "drive", profile: str = "emergency") -> Problem:
    """Build a problem whose costs are travel seconds from each site to each demand point, asked of a geo `Router`.
    A point farther from the network than the router snaps is kept with infinite costs: it can neither serve nor
    be served (the solution counts it as uncovered; LSCP, p-median and p-center refuse it)."""
    site_pos = router.snap([pos for _, pos in sites], mode=mode, strict=False)
    demand_pos = router.snap([pos for _, pos, _ in demand], mode=mode, strict=False)
    matrix = np.asarray(router.matrix(site_pos, demand_pos, mode=mode, profile=profile), dtype=float)
    return Problem(demand_ids=tuple(d for d, _, _ in demand), site_ids=tuple(s for s, _ in sites),
                   weights=np.array([float(w) for _, _, w in demand]), costs=matrix.T.copy())


# ------------------------------------------------------------------------------------------------------- solver


@dataclass(frozen=True, slots=True)
class _Mip:
    """A mixed-integer programme in HiGHS's column-wise form."""

    cost: FloatArray
    matrix: sp.csc_matrix
    row_lower: FloatArray
    row_upper: FloatArray
    col_lower: FloatArray
    col_upper: FloatArray
    integer: BoolArray
    maximize: bool


def _highs(mip: _Mip, options: Mapping[str, Any] | None = None) -> _Highs:
    """A HiGHS instance holding `mip`, silent, asked for a proven optimum (gap 0).

    It is the compiled class that highspy's `Highs` extends: from highspy 1.16 `Highs()` prints HiGHS's banner on
    standard output while it is being built, before any option can silence it, which broke `plan optimize --json`.
    The wrapper adds only Python callbacks, keyboard-interrupt threads and modelling helpers, none of them used here.
    """
    h = _Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("random_seed", 0)
    for key, value in (options or {}).items():
        h.setOptionValue(key, value)
    lp = highspy.HighsLp()
    n_rows, n_cols = mip.matrix.shape
    lp.num_col_, lp.num_row_ = n_cols, n_rows
    lp.col_cost_, lp.col_lower_, lp.col_upper_ = mip.cost, mip.col_lower, mip.col_upper
    lp.row_lower_, lp.row_upper_ = mip.row_lower, mip.row_upper
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = mip.matrix.indptr.astype(np.int32)
    lp.a_matrix_.index_ = mip.matrix.indices.astype(np.int32)
    lp.a_matrix_.value_ = mip.matrix.data.astype(np.float64)
    if mip.integer.any():
        lp.integrality_ = [highspy.HighsVarType.kInteger if f else highspy.HighsVarType.kContinuous
                           for f in mip.integer]
    lp.sense_ = highspy.ObjSense.kMaximize if mip.maximize else highspy.ObjSense.kMinimize
    h.passModel(lp)
    return h


def _run(h: _Highs, start: FloatArray | None = None) -> tuple[FloatArray, bool, float | None]:
    """Run HiGHS (from `start` when given); returns the column values, whether optimality was proven, and HiGHS's
    dual bound on the objective (no optimum is better than it; None when HiGHS stopped before it had one)."""
    if start is not None:
        sol = highspy.HighsSolution()
        sol.col_value = list(map(float, start))
        sol.value_valid = True
        h.setSolution(sol)
    h.run()
    status = h.getModelStatus()
    values = np.asarray(h.getSolution().col_value, dtype=float)
    # Stopped by a time limit before any feasible point, HiGHS still hands back a vector of the right size.
    feasible = h.getInfo().primal_solution_status == highspy.SolutionStatus.kSolutionStatusFeasible
    if values.size != h.getNumCol() or not feasible:
        raise Invalid(f"the solver found no solution ({h.modelStatusToString(status)})")
    dual = float(h.getInfo().mip_dual_bound)
    return values, status == highspy.HighsModelStatus.kOptimal, dual if math.isfinite(dual) else None


def _solve(mip: _Mip, *, start: FloatArray | None = None,
           time_limit_s: float | None = None) -> tuple[FloatArray, bool, float | None]:
    """Solve to a proven optimum (gap 0), from `start` when given; returns what `_run` does."""
    return _run(_highs(mip, {"time_limit": float(time_limit_s)} if time_limit_s is not None else {}), start)


# ------------------------------------------------------------------------------------------------- reductions


def coverage(problem: Problem, radius: float) -> sp.csr_matrix:
    """Sparse 0/1 matrix: point i is covered by site j when their cost is finite and <= radius (an infinite
    radius: every pair a site can serve)."""
    if not radius >= 0:  # NaN too
        raise Invalid(f"the radius must be a number >= 0, got {radius}")
    return sp.csr_matrix(np.isfinite(problem.costs) & (problem.costs <= radius), dtype=np.float64)


def _merge_rows(cover: sp.csr_matrix, weights: FloatArray) -> tuple[sp.csr_matrix, FloatArray]:
    """Drop points no site covers and merge points covered by the same sites (weights add up)."""
    groups: dict[bytes, int] = {}
    rows: list[int] = []
    merged: list[float] = []
    indptr, indices = cover.indptr, cover.indices
    for i in range(cover.shape[0]):
        key = indices[indptr[i]:indptr[i + 1]].tobytes()
        if not key:
            continue
        g = groups.setdefault(key, len(groups))
        if g == len(merged):
            rows.append(i)
            merged.append(0.0)
        merged[g] += float(weights[i])
    return sp.csr_matrix(cover[rows]), np.array(merged)


def _dominated_sites(cover: sp.csr_matrix, keep: set[int], room: int) -> BoolArray:
    """Sites whose covered set is inside another site's (ties: the lower index stays); at most `room` removed."""
    cols = sp.csc_matrix(cover)
    size = np.diff(cols.indptr)
    inter = (cols.T @ cols).tocoo()
    j, k = inter.row, inter.col
    inside = (j != k) & (inter.data >= size[j]) & ((size[k] > size[j]) | (k < j))
    dominated = np.zeros(cover.shape[1], dtype=bool)
    dominated[j[inside]] = True
    dominated[size == 0] = True  # covers nothing: inside any other site (the product has no entry for it)
    if not (~dominated).any():
        dominated[0] = False
    dominated[list(keep)] = False
    if int(dominated.sum()) > room:
        order = np.flatnonzero(dominated)[room:]
        dominated[order] = False
    return dominated


# --------------------------------------------------------------------------------------------------- evaluation


def _solution(model: str, problem: Problem, open_idx: Sequence[int], objective: float, optimal: bool,
              within: float | None, **extra: Any) -> Solution:
    """Describe an open set of sites against the full (unreduced) problem."""
    idx = np.asarray(sorted(set(int(j) for j in open_idx)), dtype=np.int64)
    nearest = problem.costs[:, idx].min(axis=1) if idx.size else np.full(len(problem.demand_ids), np.inf)
    covered = np.isfinite(nearest) & (nearest <= within if within is not None else True)
    total_w = float(problem.weights.sum())
    finite = np.isfinite(nearest)
    mean = float((nearest[finite] * problem.weights[finite]).sum() / problem.weights[finite].sum()) \
        if finite.any() and problem.weights[finite].sum() > 0 else float("inf")
    units = extra.pop("units", {})
    return Solution(model=model, sites=tuple(problem.site_ids[j] for j in idx), objective=float(objective),
                    optimal=optimal, covered_points=int(covered.sum()), total_points=len(problem.demand_ids),
                    covered_share=float(covered.mean()),
                    covered_weight_share=float(problem.weights[covered].sum() / total_w) if total_w else 0.0,
                    mean_cost=mean, max_cost=float(nearest.max()), units=units, params=extra)


def _site_indices(problem: Problem, names: Iterable[str]) -> list[int]:
    """Indices of named sites; raises `Invalid` naming an unknown one."""
    index = {s: j for j, s in enumerate(problem.site_ids)}
    out = []
    for name in names:
        if name not in index:
            raise Invalid(f"unknown site {name!r}")
        out.append(index[name])
    return out


def _check_p(problem: Problem, p: int, fixed: int = 0) -> None:
    """Validate the number of sites to open."""
    if p < 1 or p > len(problem.site_ids):
        raise Invalid(f"p must be between 1 and the number of candidate sites ({len(problem.site_ids)}), got {p}")
    if fixed > p:
        raise Invalid(f"{fixed} sites are fixed open but only p={p} may open")


# --------------------------------------------------------------------------------------------------------- MCLP


def greedy_cover(cover: sp.csr_matrix, weights: FloatArray, p: int, fixed: Sequence[int] = ()) -> list[int]:
    """Greedy maximal covering: repeatedly open the site adding the most uncovered weight."""
    cols = sp.csc_matrix(cover)
    open_sites = list(dict.fromkeys(fixed))
    uncovered = np.ones(cover.shape[0], dtype=bool)
    for j in open_sites:
        uncovered[cols.indices[cols.indptr[j]:cols.indptr[j + 1]]] = False
    while len(open_sites) < min(p, cover.shape[1]):
        gain = cols.T @ (weights * uncovered)
        gain[open_sites] = -1.0
        j = int(np.argmax(gain))
        open_sites.append(j)
        uncovered[cols.indices[cols.indptr[j]:cols.indptr[j + 1]]] = False
    return open_sites


def covered_weight(cover: sp.csr_matrix, weights: FloatArray, open_sites: Iterable[int]) -> float:
    """Weight of the points that at least one of `open_sites` covers."""
    x = np.zeros(cover.shape[1])
    x[list(open_sites)] = 1.0
    return float(weights @ np.minimum(1.0, cover @ x))


def _covering(by_site: sp.csr_matrix, sites: Iterable[int]) -> IntArray:
    """The rows the given sites cover, with repeats (one per covering site); `by_site` is the coverage transposed
    as CSR, so each site's rows are one slice."""
    parts = [by_site.indices[by_site.indptr[j]:by_site.indptr[j + 1]] for j in sites]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def swap_search(cover: sp.csr_matrix, weights: FloatArray, open_sites: Sequence[int], *,
                max_rounds: int = 500, by_site: sp.csr_matrix | None = None) -> list[int]:
    """Best-improvement 1-swap local search: close one open site and open another while that covers more weight.

    The change of each swap (close i, open j) is gain_j - loss_i + (weight only i covers that j covers too), all
    swaps at once per round: the last term adds each singly covered point's weight at (its one open site, every
    site covering it). How many open sites cover each point, and the sum of their indices (the one site, where
    there is one), are updated from the two sites' columns after a swap. `by_site` is `cover` transposed as CSR,
    when the caller has it already.
    """
    cover = sp.csr_matrix(cover)
    by_site = sp.csr_matrix(cover.T) if by_site is None else by_site
    n, m = cover.shape
    is_open = np.zeros(m, dtype=bool)
    is_open[list(open_sites)] = True
    opened = np.flatnonzero(is_open)
    if opened.size == 0 or opened.size == m:
        return [int(j) for j in opened]
    rows = _covering(by_site, opened)
    times = np.bincount(rows, minlength=n)
    index_sum = np.bincount(rows, weights=np.repeat(opened, np.diff(by_site.indptr)[opened]), minlength=n)
    position = np.zeros(m, dtype=np.int64)
    tol = 1e-9 * max(1.0, float(weights.sum()))
    for _ in range(max_rounds):
        opened = np.flatnonzero(is_open)
        position[opened] = np.arange(opened.size)
        gain = by_site @ (weights * (times == 0))
        # Points only one open site covers: the sum of the open sites' indices over such a row is that site.
        single = np.flatnonzero(times == 1)
        owner = position[np.rint(index_sum[single]).astype(np.int64)]
        alone = weights[single]
        loss = np.bincount(owner, weights=alone, minlength=opened.size)
        singles = cover[single]
        nnz_row = np.repeat(np.arange(single.size), np.diff(singles.indptr))
        kept = np.bincount(owner[nnz_row] * m + singles.indices, weights=alone[nnz_row],
                           minlength=opened.size * m).reshape(opened.size, m)
        delta = gain[None, :] - loss[:, None] + kept
        delta[:, is_open] = -np.inf
        i, j = np.unravel_index(int(np.argmax(delta)), delta.shape)
        if delta[i, j] <= tol:
            break
        out, into = int(opened[i]), int(j)
        is_open[out], is_open[into] = False, True
        left, entered = _covering(by_site, [out]), _covering(by_site, [into])
        times[left] -= 1
        index_sum[left] -= out
        times[entered] += 1
        index_sum[entered] += into
    return [int(j) for j in np.flatnonzero(is_open)]


def ruin_recreate(cover: sp.csr_matrix, weights: FloatArray, open_sites: Sequence[int], *, rounds: int,
                  seed: int = 0, patience: int | None = None) -> list[int]:
    """Iterated local search: close an open site and the open sites overlapping it most (2-6 of them), reopen
    greedily (each time one of the three best gains, at random), 1-swap search, keep the result when not worse.
    Stops after `rounds`, or after `patience` rounds in a row that found nothing better than the best so far."""
    cover = sp.csr_matrix(cover)
    by_site = sp.csr_matrix(cover.T)
    overlap = sp.csr_matrix(by_site @ cover)
    n = cover.shape[0]
    rng = np.random.default_rng(seed)
    p = len(open_sites)

    def value_of(sites: Sequence[int]) -> float:
        return float(weights[np.bincount(_covering(by_site, sites), minlength=n) > 0].sum())

    current = swap_search(cover, weights, open_sites, by_site=by_site)
    value = value_of(current)
    best, best_value = current, value
    since = 0
    for _ in range(rounds):
        if patience is not None and since >= patience:
            break
        since += 1
        pivot = current[int(rng.integers(len(current)))]
        row = overlap.getrow(pivot).toarray().ravel()
        near = sorted(current, key=lambda j: -row[j])[:int(rng.integers(2, 7))]
        trial = [j for j in current if j not in near]
        uncovered = np.bincount(_covering(by_site, trial), minlength=n) == 0
        gain = by_site @ (weights * uncovered)
        while len(trial) < p:
            gain[trial] = -1.0
            j = int(rng.choice(np.argsort(-gain)[:3]))
            trial.append(j)
            rows = _covering(by_site, [j])
            newly = rows[uncovered[rows]]
            uncovered[newly] = False
            lost = cover[newly]  # these points no longer add to the gain of the sites covering them
            gain -= np.bincount(lost.indices, weights=np.repeat(weights[newly], np.diff(lost.indptr)),
                                minlength=gain.size)
        trial = swap_search(cover, weights, trial, by_site=by_site)
        trial_value = value_of(trial)
        if trial_value >= value:
            current, value = trial, trial_value
            if value > best_value:
                best, best_value, since = current, value, 0
    return best


def _mclp_model(cover: sp.csr_matrix, weights: FloatArray, p: int, *, integer: bool) -> _Mip:
    """The compact MCLP: max sum w_i y_i, y_i <= sum_j a_ij x_j, sum x_j <= p, 0 <= x, y <= 1; columns x then y,
    rows the points then the cardinality; x integer when `integer` (else the LP relaxation)."""
    n, m = cover.shape
    a = sp.vstack([sp.hstack([-cover, sp.identity(n)]), sp.hstack([np.ones((1, m)), sp.csr_matrix((1, n))])])
    return _Mip(cost=np.concatenate([np.zeros(m), weights]), matrix=sp.csc_matrix(a),
                row_lower=np.full(n + 1, -np.inf), row_upper=np.concatenate([np.zeros(n), [p]]),
                col_lower=np.zeros(m + n), col_upper=np.ones(m + n),
                integer=np.concatenate([np.full(m, integer), np.zeros(n, bool)]), maximize=True)


# HiGHS's two interior-point solvers, raced on the LP relaxation: which one is fast depends on the instance. On
# 10,000 x 1,000 instances IPX took 0.5 / 1.6 / 8.4 s on the synthetic city at 2 / 3 / 5 km and HiPO 2.2 / 14.4 /
# 1.9 s; on Auckland's roads at 5 / 8 / 10 minutes IPX took 1.0 / 3.4 / 8.2 s and HiPO 0.8 / 0.6 / 0.6 s.
_LP_SOLVERS = ("ipx", "hipo")


def _coverage_lp_duals(cover: sp.csr_matrix, weights: FloatArray, p: int) -> FloatArray:
    """Multipliers for the coverage rows from an interior point on the LP relaxation (any answer is valid).

    Each solver of `_LP_SOLVERS` runs in its own thread (HiGHS releases the GIL); the first to reach the optimum
    stops the others. Both answers are optimal duals, so the bound is the LP bound either way; they may differ in
    the last digits, so when several site sets share the optimum, which of them is returned can depend on which
    solver won.
    """
    n = cover.shape[0]
    model = _mclp_model(cover, weights, p, integer=False)
    won = threading.Event()
    lock = threading.Lock()
    answers: list[FloatArray] = []

    def solve(solver: str) -> None:
        h = _interior_point(model, solver, won)
        duals = np.asarray(h.getSolution().row_dual, dtype=np.float64)
        with lock:
            if h.getModelStatus() == highspy.HighsModelStatus.kOptimal and duals.size == n + 1 and not answers:
                answers.append(duals)
                won.set()

    threads = [threading.Thread(target=solve, args=(solver,), name=f"mclp-lp-{solver}") for solver in _LP_SOLVERS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if not answers:
        return weights.copy()
    lam: FloatArray = np.clip(np.abs(answers[0][:n]), 0.0, weights)
    return lam


def _interior_point(model: _Mip, solver: str, stop: threading.Event) -> _Highs:
    """HiGHS's interior-point `solver` on an LP without crossover, run to its end unless `stop` is set: HiGHS asks
    the interrupt callback between steps. IPX calls it as an IPM, HiPO as a simplex solver, so both kinds are on
    (with the IPM kind alone a losing HiPO ran to its end)."""
    h = _highs(model, {"solver": solver, "run_crossover": "off"})

    def interrupt(_kind: Any, _message: str, _out: Any, data_in: Any, _data: Any) -> None:
        if data_in is not None and stop.is_set():
            data_in.user_interrupt = True

    h.setCallback(interrupt, None)
    h.startCallback(cb.HighsCallbackType.kCallbackIpmInterrupt)
    h.startCallback(cb.HighsCallbackType.kCallbackSimplexInterrupt)
    h.run()
    return h


def _lagrangian(cover: sp.csr_matrix, weights: FloatArray, p: int, lam: FloatArray) -> tuple[float, FloatArray]:
    """Lagrangian upper bound on the covered weight, and for each site the bound when that site must open.

    Relaxing y_i <= sum_j a_ij x_j with multipliers lam_i >= 0 leaves sum_i max(0, w_i - lam_i) plus the p largest
    site scores g_j = sum_i a_ij lam_i; it bounds every solution whatever lam is, so the fixing it drives is exact
    even when the LP that proposed lam was inaccurate.
    """
    g = np.asarray(cover.T @ lam, dtype=float)
    base = float(np.maximum(0.0, weights - lam).sum())
    k = min(p, g.size)
    ranked = np.sort(g)[::-1]
    bound = base + float(ranked[:k].sum())
    pth = float(ranked[k - 1])
    forced = np.where(g >= pth, bound, bound - pth + g)
    return bound, forced


@dataclass(frozen=True, slots=True)
class _Reduced:
    """An MCLP on a subset of the sites: its coverage (merged rows), weights, and each column's original site."""

    cover: sp.csr_matrix
    weights: FloatArray
    sites: IntArray


def _reduce(cover: sp.csr_matrix, weights: FloatArray, sites: IntArray, p: int) -> _Reduced:
    """Merge identical rows (dropping rows no site covers) and remove dominated sites (never below p sites)."""
    rows, w = _merge_rows(cover, weights)
    if rows.shape[0] == 0:
        return _Reduced(rows, w, sites)
    dominated = _dominated_sites(rows, set(), room=max(0, rows.shape[1] - p))
    kept = np.flatnonzero(~dominated)
    return _Reduced(sp.csr_matrix(rows[:, kept]), w, sites[kept])


def _restrict(red: _Reduced, p: int, threshold: float, tol: float, lam: FloatArray, *,
              refresh: bool = True) -> _Reduced:
    """Drop every site whose opening caps the covered weight below `threshold` (Lagrangian test with multipliers
    `lam` first, then, when `refresh`, with fresh LP duals while that removes over a tenth of the sites), then
    reduce again.

    Every solution covering at least `threshold` only uses the sites dropped here never, so when one exists the
    result has the same optimum as `red` (the reductions keep the optimum value, not every solution)."""
    while red.cover.shape[0] and red.cover.shape[1] > p:
        bound, forced = _lagrangian(red.cover, red.weights, p, lam)
        out = forced < threshold - tol
        if bound < threshold - tol or not out.any():
            break
        kept = np.flatnonzero(~out)
        smaller = _reduce(sp.csr_matrix(red.cover[:, kept]), red.weights, red.sites[kept], p)
        done = not refresh or kept.size > 0.9 * red.cover.shape[1]
        red = smaller
        if done or red.cover.shape[0] == 0:
            break
        lam = _coverage_lp_duals(red.cover, red.weights, p)
    return red


def _mclp_mip(red: _Reduced, p: int, start: Sequence[int],
              time_limit_s: float | None) -> tuple[list[int], bool, float]:
    """The compact MCLP on a reduced instance (sum x <= p) from `start`: the open original sites, optimality, and
    HiGHS's bound on the covered weight (its dual bound; infinite when it gives none)."""
    n, m = red.cover.shape
    if n == 0 or m <= p:
        return [int(j) for j in red.sites], True, float(red.weights.sum())
    mip = _mclp_model(red.cover, red.weights, p, integer=True)
    local = _local(red, p, start)
    x0 = np.zeros(m + n)
    x0[local] = 1.0
    x0[m:] = np.minimum(1.0, red.cover @ x0[:m])
    options: dict[str, Any] = dict(_PROOF_OPTIONS)
    if time_limit_s is not None:
        options["time_limit"] = float(time_limit_s)
    values, optimal, dual = _run(_highs(mip, options), x0)
    return ([int(red.sites[j]) for j in np.flatnonzero(values[:m] > 0.5)], optimal,
            dual if dual is not None else math.inf)


def _pad(cover: sp.csr_matrix, weights: FloatArray, chosen: Sequence[int], p: int) -> list[int]:
    """`chosen` plus, up to p sites, those adding the most covered weight (the MIP may open fewer than p)."""
    return greedy_cover(cover, weights, p, chosen)


# HiGHS starts from the local-search incumbent, which is usually optimal already: its own presolve and primal
# heuristics (sub-MIPs) then only cost time; branching still finds any better solution. Pseudocosts are trusted
# from the first observation: strong branching was most of the proof's time.
_PROOF_OPTIONS = {"presolve": "off", "mip_heuristic_effort": 0.0, "mip_heuristic_run_rins": False,
                  "mip_heuristic_run_rens": False, "mip_heuristic_run_root_reduced_cost": False,
                  "mip_heuristic_run_feasibility_jump": False, "mip_pscost_minreliable": 0}
_ROUNDS = 300  # iterated local search rounds for the incumbent
_PATIENCE = 100  # ... ending early after this many rounds without a better one (Auckland 8 min: 2.9 -> 1.9 s)
_NEAR = 0.5  # the local search keeps to sites that can reach this share of the way from the bound to the incumbent


def _mclp_indices(cover: sp.csr_matrix, weights: FloatArray, p: int, fixed: Sequence[int],
                  time_limit_s: float | None) -> tuple[list[int], float, bool, float, float]:
    """Exact MCLP on a coverage matrix; returns open site indices, covered weight, optimality, the LP bound and the
    best upper bound known (the covered weight once proven; after a time limit, the tighter of the LP bound and
    HiGHS's dual bound on the restricted MIP).

    Fixed sites open first and the points they cover leave. On the rest: identical rows merged, dominated sites
    removed, a greedy + 1-swap incumbent, a Lagrangian bound from the LP duals, an iterated local search among the
    sites that can reach near that bound, then every site whose opening caps the covered weight below the
    incumbent is removed (`_restrict`) and HiGHS proves the optimum of what is left, which is the optimum of the
    whole problem: every solution at least as good as the incumbent only uses sites that are left.
    """
    fixed = list(dict.fromkeys(int(j) for j in fixed))
    cover = sp.csr_matrix(cover)
    free = np.setdiff1d(np.arange(cover.shape[1]), fixed).astype(np.int64)
    k = p - len(fixed)
    taken = np.asarray(cover[:, fixed].sum(axis=1)).ravel() > 0 if fixed else np.zeros(cover.shape[0], bool)
    red = _reduce(sp.csr_matrix(cover[~taken][:, free]), weights[~taken], free, k)
    if k == 0 or red.cover.shape[0] == 0 or red.cover.shape[1] <= k:
        chosen = _pad(cover, weights, fixed + [int(j) for j in red.sites][:k], p)
        value = covered_weight(cover, weights, chosen)
        return chosen, value, True, value, value
    tol = 1e-9 * max(1.0, float(weights.sum()))
    best = [int(red.sites[j]) for j in swap_search(red.cover, red.weights, greedy_cover(red.cover, red.weights, k))]
    lam = _coverage_lp_duals(red.cover, red.weights, k)
    bound, _ = _lagrangian(red.cover, red.weights, k, lam)
    if bound > _value(red, best) + tol:
        best = _search_near(red, k, best, lam, bound - _NEAR * (bound - _value(red, best)))
    best_w = _value(red, best)
    optimal = bound <= best_w + tol
    upper = bound
    if not optimal:
        chosen, optimal, mip_bound = _mclp_mip(_restrict(red, k, best_w, tol, lam), k, best, time_limit_s)
        if _value(red, chosen) > best_w:
            best = chosen
        # Every solution better than the incumbent is in the restricted MIP, so the optimum is at most the larger
        # of the two: after a time limit, HiGHS's dual bound there is usually tighter than the LP's.
        upper = min(bound, max(best_w, mip_bound))
    chosen = _pad(cover, weights, fixed + best, p)
    value = covered_weight(cover, weights, chosen)
    taken_w = float(weights[taken].sum())
    return chosen, value, optimal, taken_w + bound, value if optimal else taken_w + upper


def _search_near(red: _Reduced, p: int, best: list[int], lam: FloatArray, threshold: float) -> list[int]:
    """Iterated local search among the sites that can reach `threshold`, twice: from `best` and from the p sites
    with the largest Lagrangian scores; returns the best of the three (original site indices)."""
    near = _restrict(red, p, threshold, 0.0, lam, refresh=False)
    if near.cover.shape[0] == 0 or near.cover.shape[1] <= p:
        return best
    score = dict(zip(red.sites.tolist(), np.asarray(red.cover.T @ lam).tolist(), strict=True))
    top = sorted(near.sites.tolist(), key=lambda s: -score[s])[:p]
    for seed, start in enumerate((_local(near, p, best), _local(near, p, top))):
        found = [int(near.sites[j]) for j in ruin_recreate(near.cover, near.weights, start, rounds=_ROUNDS,
                                                                  seed=seed, patience=_PATIENCE)]
        if _value(red, found) > _value(red, best):
            best = found
    return best


def _value(red: _Reduced, sites: Iterable[int]) -> float:
    """Covered weight of original sites on a reduced instance (sites it no longer has count for nothing)."""
    position = {int(s): j for j, s in enumerate(red.sites)}
    return covered_weight(red.cover, red.weights, [position[s] for s in sites if s in position])


def _local(red: _Reduced, p: int, sites: Sequence[int]) -> list[int]:
    """Columns of a reduced instance for original sites: those it has, then greedy and 1-swap up to p (a site
    removed as dominated is replaced by at least as good a one)."""
    position = {int(s): j for j, s in enumerate(red.sites)}
    start = greedy_cover(red.cover, red.weights, p, [position[s] for s in sites if s in position])
    return swap_search(red.cover, red.weights, start)


def mclp(problem: Problem, *, p: int, radius: float, fixed: Sequence[str] = (),
         time_limit_s: float | None = None) -> Solution:
    """Maximal covering (Church & ReVelle 1974): open `p` sites covering the most demand weight within `radius`."""
    fixed_idx = _site_indices(problem, fixed)
    _check_p(problem, p, len(fixed_idx))
    chosen, obj, optimal, bound, upper = _mclp_indices(coverage(problem, radius), problem.weights, p, fixed_idx,
                                                       time_limit_s)
    return _solution("mclp", problem, chosen, obj, optimal, radius, p=p, radius=radius, lp_bound=bound,
                     upper_bound=upper)


def place_aeds(problem: Problem, *, p: int, walk_s: float, existing: Sequence[str] = (),
               time_limit_s: float | None = None) -> Solution:
    """AED placement: add `p` AEDs to `existing` ones maximising the share of arrests within `walk_s` walking."""
    fixed_idx = _site_indices(problem, existing)
    _check_p(problem, p + len(fixed_idx), len(fixed_idx))
    chosen, obj, optimal, bound, upper = _mclp_indices(coverage(problem, walk_s), problem.weights,
                                                       p + len(fixed_idx), fixed_idx, time_limit_s)
    return _solution("aed", problem, chosen, obj, optimal, walk_s, p=p, walk_s=walk_s, existing=list(existing),
                     lp_bound=bound, upper_bound=upper)


# --------------------------------------------------------------------------------------------------------- LSCP


def _lscp_indices(cover: sp.csr_matrix) -> tuple[list[int], bool]:
    """Exact set covering on a coverage matrix whose every row has at least one site."""
    rows, _ = _merge_rows(cover, np.ones(cover.shape[0]))
    m = rows.shape[1]
    dominated = _dominated_sites(rows, set(), room=m - 1)
    kept = np.flatnonzero(~dominated)
    sub = sp.csr_matrix(rows[:, kept])
    n, k = sub.shape
    mip = _Mip(cost=np.ones(k), matrix=sp.csc_matrix(sub), row_lower=np.ones(n), row_upper=np.full(n, np.inf),
               col_lower=np.zeros(k), col_upper=np.ones(k), integer=np.ones(k, bool), maximize=False)
    values, optimal, _bound = _solve(mip)
    return [int(kept[j]) for j in np.flatnonzero(values > 0.5)], optimal


def lscp(problem: Problem, *, radius: float) -> Solution:
    """Set covering (Toregas et al. 1971): the fewest sites putting every demand point within `radius`."""
    cover = coverage(problem, radius)
    bare = np.flatnonzero(np.diff(cover.indptr) == 0)
    if bare.size:
        raise Invalid(f"{bare.size} demand points are beyond {radius} of every site "
                      f"(e.g. {problem.demand_ids[bare[0]]!r}): no set of sites covers them all")
    chosen, optimal = _lscp_indices(cover)
    return _solution("lscp", problem, chosen, len(chosen), optimal, radius, radius=radius)


# ---------------------------------------------------------------------------------------------------- p-median


def _check_served(problem: Problem) -> None:
    """Refuse demand points that no site can reach."""
    bare = problem.unreached_points()
    if bare.size:
        first = problem.demand_ids[bare[0]]
        which = f"demand point {first!r}" if bare.size == 1 else f"{bare.size} demand points (e.g. {first!r})"
        raise Invalid(f"{which} cannot be reached from any site: every one must be served")


def _check_reach(problem: Problem, p: int) -> None:
    """Refuse `p` when no `p` sites reach every demand point (some points are reached from few sites), naming the
    fewest that do (an exact set covering over the finite pairs)."""
    fewest, _ = _lscp_indices(coverage(problem, math.inf))
    if len(fewest) > p:
        raise Invalid(f"no {'single site' if p == 1 else f'{p} sites'} can reach every demand point: it takes at least "
                      f"{len(fewest)}, as some points are reached from few sites")


def pmedian(problem: Problem, *, p: int, time_limit_s: float | None = None) -> Solution:
    """p-median (Hakimi 1964): open `p` sites minimising the weighted cost from each point to its nearest open one."""
    _check_p(problem, p)
    _check_served(problem)
    finite = np.isfinite(problem.costs)
    n, m = problem.costs.shape
    pi, pj = np.nonzero(finite)
    nz = pi.size
    # Columns: x_j (m), z_k for each finite pair k=(i,j) (nz). Rows: sum_j z_ij = 1 (n); z_k - x_j <= 0 (nz); sum x = p.
    assign = sp.csr_matrix((np.ones(nz), (pi, m + np.arange(nz))), shape=(n, m + nz))
    link = sp.csr_matrix((np.concatenate([np.ones(nz), -np.ones(nz)]),
                          (np.concatenate([np.arange(nz), np.arange(nz)]), np.concatenate([m + np.arange(nz), pj]))),
                         shape=(nz, m + nz))
    count = sp.csr_matrix((np.ones(m), (np.zeros(m, int), np.arange(m))), shape=(1, m + nz))
    a = sp.vstack([assign, link, count])
    cost = np.concatenate([np.zeros(m), problem.weights[pi] * problem.costs[pi, pj]])
    mip = _Mip(cost=cost, matrix=sp.csc_matrix(a), row_lower=np.concatenate([np.ones(n), np.full(nz, -np.inf), [p]]),
               row_upper=np.concatenate([np.ones(n), np.zeros(nz), [p]]), col_lower=np.zeros(m + nz),
               col_upper=np.ones(m + nz), integer=np.concatenate([np.ones(m, bool), np.zeros(nz, bool)]),
               maximize=False)
    # Start from the greedy answer, so that a time limit never leaves none; each point assigned to its nearest
    # open site (a pair of the finite ones, which np.nonzero lists in row-major order, hence sorted by i * m + j).
    greedy = _pad_sites(problem, [], p)
    nearest = np.asarray(greedy)[np.argmin(problem.costs[:, greedy], axis=1)]
    start = np.zeros(m + nz)
    start[greedy] = 1.0
    served = np.isfinite(problem.costs[np.arange(n), nearest])
    start[m + np.searchsorted(pi * m + pj, (np.arange(n) * m + nearest)[served])] = 1.0
    try:
        values, optimal, bound = _solve(mip, start=start, time_limit_s=time_limit_s)
    except Invalid:
        _check_reach(problem, p)  # says why when p is too few
        raise
    chosen = [int(j) for j in np.flatnonzero(values[:m] > 0.5)]
    objective = float((problem.costs[:, chosen].min(axis=1) * problem.weights).sum())
    return _solution("pmedian", problem, chosen, objective, optimal, None, p=p,
                     lower_bound=objective if optimal else bound)


# ---------------------------------------------------------------------------------------------------- p-center


def pcenter(problem: Problem, *, p: int) -> Solution:
    """p-center: open `p` sites minimising the largest cost from a demand point to its nearest open site.

    Solved exactly by bisection on the sorted distinct costs, each step an exact set-covering question.
    """
    _check_p(problem, p)
    _check_served(problem)
    candidates = np.unique(problem.costs[np.isfinite(problem.costs)])
    lo = int(np.searchsorted(candidates, problem.costs.min(axis=1).max()))
    hi = len(candidates) - 1
    best: list[int] | None = None
    optimal = True
    while lo <= hi:
        mid = (lo + hi) // 2
        cover = coverage(problem, float(candidates[mid]))
        if (np.diff(cover.indptr) == 0).any():
            lo = mid + 1
            continue
        chosen, ok = _lscp_indices(cover)
        optimal = optimal and ok
        if len(chosen) <= p:
            best, hi = chosen, mid - 1
        else:
            lo = mid + 1
    if best is None:  # even at the largest cost, more than p sites are needed
        _check_reach(problem, p)
        raise Invalid(f"no {p} sites can reach every demand point")  # _check_reach has said why; for the types
    best = _pad_sites(problem, best, p)
    radius = float(problem.costs[:, best].min(axis=1).max())
    return _solution("pcenter", problem, best, radius, optimal, radius, p=p)


def _pad_sites(problem: Problem, chosen: list[int], p: int) -> list[int]:
    """Open further sites up to `p`, each time the one that lowers the weighted total cost most."""
    chosen = list(chosen)
    costs = np.where(np.isfinite(problem.costs), problem.costs, 1e18)
    while len(chosen) < p:
        nearest = costs[:, chosen].min(axis=1) if chosen else np.full(len(problem.demand_ids), np.inf)
        totals = (np.minimum(costs, nearest[:, None]) * problem.weights[:, None]).sum(axis=0)
        totals[chosen] = np.inf
        chosen.append(int(np.argmin(totals)))
    return chosen


# ------------------------------------------------------------------------------------------------------- MEXCLP


def mexclp(problem: Problem, *, units: int, radius: float, busy_fraction: float,
           capacities: Mapping[str, int] | None = None, time_limit_s: float | None = None) -> Solution:
    """Maximum expected covering (Daskin 1983): place `units` ambulances (several per site allowed, up to each site's
    capacity) maximising expected covered demand when each unit is busy with probability `busy_fraction`."""
    if not 0.0 <= busy_fraction < 1.0:
        raise Invalid(f"busy_fraction must be in [0, 1), got {busy_fraction}")
    caps = np.full(len(problem.site_ids), float(units))
    for name, cap in (capacities or {}).items():
        if cap < 0:
            raise Invalid(f"capacity of site {name!r} must be non-negative")
        caps[_site_indices(problem, [name])[0]] = float(cap)
    if units < 1 or caps.sum() < units:
        raise Invalid(f"cannot place {units} units: station capacities total {int(caps.sum())}")
    rows, w = _merge_rows(coverage(problem, radius), problem.weights)
    n, m = rows.shape
    q = busy_fraction
    gain = (1.0 - q) * q ** np.arange(units)
    # Columns: x_j (units at site j), y_ik (the k-th cover of point i). Rows: sum_k y_ik <= sum_j a_ij x_j.
    yk = sp.kron(sp.identity(n), np.ones((1, units)))
    a = sp.vstack([sp.hstack([-rows, yk]), sp.hstack([np.ones((1, m)), sp.csr_matrix((1, n * units))])])
    mip = _Mip(cost=np.concatenate([np.zeros(m), np.kron(w, gain)]), matrix=sp.csc_matrix(a),
               row_lower=np.concatenate([np.full(n, -np.inf), [units]]),
               row_upper=np.concatenate([np.zeros(n), [units]]), col_lower=np.zeros(m + n * units),
               col_upper=np.concatenate([caps, np.ones(n * units)]),
               integer=np.concatenate([np.ones(m, bool), np.zeros(n * units, bool)]), maximize=True)
    values, optimal, bound = _solve(mip, start=_mexclp_start(rows, w, caps, units, q), time_limit_s=time_limit_s)
    counts = np.round(values[:m]).astype(int)
    chosen = [int(j) for j in np.flatnonzero(counts > 0)]
    objective = expected_coverage(rows, w, counts, q)
    return _solution("mexclp", problem, chosen, objective, optimal, radius, radius=radius, busy_fraction=q,
                     units={problem.site_ids[j]: int(counts[j]) for j in chosen},
                     upper_bound=objective if optimal else bound)


def _mexclp_start(rows: sp.csr_matrix, weights: FloatArray, caps: FloatArray, units: int,
                  busy_fraction: float) -> FloatArray:
    """The greedy MEXCLP answer as a start for the MIP (columns x_j, then y_ik point-major): each unit in turn to
    the site with room whose next unit adds the most expected coverage, so that a time limit never leaves none."""
    n, m = rows.shape
    counts = np.zeros(m)
    by_site = sp.csr_matrix(rows.T)
    for _ in range(units):
        gain = by_site @ (weights * (1.0 - busy_fraction) * busy_fraction ** (rows @ counts))
        gain[counts >= caps] = -np.inf
        counts[int(np.argmax(gain))] += 1.0
    start = np.zeros(m + n * units)
    start[:m] = counts
    start[m:] = (np.arange(units)[None, :] < (rows @ counts)[:, None]).ravel()
    return start


def expected_coverage(cover: sp.csr_matrix, weights: FloatArray, counts: IntArray, busy_fraction: float) -> float:
    """Daskin's expected covered weight: sum of w_i (1 - q^{units covering i})."""
    n_cover = np.asarray(cover @ counts, dtype=float)
    return float((weights * (1.0 - busy_fraction ** n_cover)).sum())
