"""Pure summaries of simulation runs: response times, targets, queueing, utilisation, arrest survival, CIs."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.special import expit, stdtrit

from lifechain.planning.simulate import COL, ArrestIn, RunResult
from lifechain.timeline.core import EventKind as K


def response_times_s(run: RunResult) -> np.ndarray:
    """Call to first unit on scene, seconds (NaN when never reached)."""
    return np.asarray(run.times[:, COL[K.UNIT_ON_SCENE]] - run.times[:, COL[K.PSAP_CALL]], dtype=float)


def _models(arrest: ArrestIn, cpr: np.ndarray, shock: np.ndarray, ems: np.ndarray,
            response: np.ndarray) -> dict[str, float]:
    """Expected survivors under the three models, times in minutes (from collapse; response from the call)."""
    a, b1, b2, b3 = arrest.larsen
    larsen = np.clip(a - b1 * cpr - b2 * shock - b3 * ems, 0, 1)
    d0, d1 = arrest.de_maio
    de_maio = expit(-(d0 + d1 * response))  # 1 / (1 + e^(d0 + d1 t)), without overflow for an hours-long wait
    v0, v1, v2 = arrest.valenzuela
    valenzuela = expit(v0 - v1 * cpr - v2 * shock)
    return {"larsen_1993": float(larsen.sum()), "de_maio_2003": float(de_maio.sum()),
            "valenzuela_1997": float(valenzuela.sum()), "median_collapse_to_cpr_min": float(np.median(cpr)),
            "median_collapse_to_shock_min": float(np.median(shock))}


def survival(arrest: ArrestIn, run: RunResult) -> dict[str, float]:
    """Expected survivors of the run's arrests under Larsen 1993, De Maio 2003 and Valenzuela 1997, for the care
    given and, when volunteers are simulated, for each variant (`ems`, `volunteers`, `volunteers_aed`)."""
    mask = run.arrest & np.isfinite(run.times[:, COL[K.UNIT_ON_SCENE]])
    if not mask.any():
        return {"arrests": 0.0, "larsen_1993": 0.0, "de_maio_2003": 0.0, "valenzuela_1997": 0.0}
    t = run.times[mask]
    collapse = t[:, COL[K.ARREST]]
    ems = (t[:, COL[K.UNIT_ON_SCENE]] - collapse) / 60
    response = (t[:, COL[K.UNIT_ON_SCENE]] - t[:, COL[K.PSAP_CALL]]) / 60
    out = {"arrests": float(mask.sum()), "median_collapse_to_ems_min": float(np.median(ems))}
    out.update(_models(arrest, (t[:, COL[K.FIRST_CPR]] - collapse) / 60,
                       (t[:, COL[K.FIRST_DEFIBRILLATION]] - collapse) / 60, ems, response))
    for name, times in run.arrest_variants.items():
        v = times[mask]
        models = _models(arrest, (v[:, 0] - collapse) / 60, (v[:, 1] - collapse) / 60, ems, response)
        out.update({f"{name}.{k}": x for k, x in models.items()})
    for key, value in run.extra.items():
        out[key] = value
    return out


def summarise(run: RunResult, *, targets_min: Sequence[float], arrest: ArrestIn) -> dict[str, Any]:
    """Headline figures of one replication (flat keys, so replications can be averaged key by key)."""
    rt = response_times_s(run)
    out: dict[str, Any] = {"calls": float(len(rt)), "served": float(np.isfinite(rt).sum()),
                           "queued_share": float(run.queued.mean()) if len(rt) else 0.0,
                           "mean_utilisation": float(np.mean(list(run.utilisation.values())))}
    out["redispatches"] = float(run.redispatches)
    out["redispatched_share"] = float(run.diverted.mean()) if run.diverted is not None and len(rt) else 0.0
    wait = run.times[:, COL[K.UNIT_NOTIFIED]] - run.times[:, COL[K.PSAP_CALL]]
    out["mean_call_to_notified_s"] = float(np.nanmean(wait)) if np.isfinite(wait).any() else math.nan
    groups: list[tuple[str, np.ndarray]] = [("all", np.ones(len(rt), bool))]
    groups += [(f"p{p}", run.priority == p) for p in sorted(set(run.priority.tolist()))]
    areas = np.asarray(run.area)
    groups += [(f"area:{a}", areas == a) for a in sorted(set(run.area))] if len(set(run.area)) > 1 else []
    for name, mask in groups:
        r = rt[mask & np.isfinite(rt)] / 60
        if r.size == 0:
            continue
        out[f"{name}.mean_response_min"] = float(r.mean())
        out[f"{name}.p50_response_min"] = float(np.percentile(r, 50))
        out[f"{name}.p90_response_min"] = float(np.percentile(r, 90))
        for target in targets_min:
            out[f"{name}.within_{target:g}_min"] = float((r <= target).mean())
    for key, value in survival(arrest, run).items():
        out[f"arrest.{key}"] = value
    return out


def confidence(values: Sequence[float], level: float = 0.95) -> dict[str, float]:
    """Mean and Student-t confidence half-width over replications."""
    x = np.asarray([v for v in values if not math.isnan(v)], dtype=float)
    if x.size == 0:
        return {"mean": math.nan, "half_width": math.nan, "n": 0.0}
    half = float(stdtrit(x.size - 1, 0.5 + level / 2) * x.std(ddof=1) / math.sqrt(x.size)) if x.size > 1 \
        else math.inf
    return {"mean": float(x.mean()), "half_width": half, "low": float(x.mean()) - half,
            "high": float(x.mean()) + half, "n": float(x.size)}


def aggregate(summaries: Sequence[dict[str, Any]], level: float = 0.95) -> dict[str, dict[str, float]]:
    """Every figure's mean and confidence interval across replications."""
    keys = sorted(set().union(*summaries)) if summaries else []
    return {k: confidence([float(s.get(k, math.nan)) for s in summaries], level) for k in keys}


def compare(a: Sequence[dict[str, Any]], b: Sequence[dict[str, Any]], level: float = 0.95) -> dict[str, Any]:
    """Difference B - A per figure over paired replications (common random numbers) and whether it beats noise."""
    out: dict[str, Any] = {}
    for key in sorted(set().union(*a) & set().union(*b)):
        diffs = [float(y.get(key, math.nan)) - float(x.get(key, math.nan)) for x, y in zip(a, b, strict=False)]
        ci = confidence(diffs, level)
        ci["significant"] = bool(ci["n"] > 1 and (ci["low"] > 0 or ci["high"] < 0))
        out[key] = ci
    return out
