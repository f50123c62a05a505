"""Simulation: live dispatch functions are what it calls, Erlang-C waiting, determinism, survival models, CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from lifechain.dispatch import core as dispatch_core
from lifechain.errors import Invalid
from lifechain.fleet import core as fleet_core
from lifechain.planning import core, flows
from lifechain.timeline.core import EventKind as K

SCENARIO: dict[str, Any] = {
    "name": "toy", "seed": 3, "days": 2,
    "stations": [{"id": 1, "lat": 60.17, "lon": 24.94}, {"id": 2, "lat": 60.19, "lon": 24.96}],
    "units": [{"id": 1, "station": 1}, {"id": 2, "station": 2}, {"id": 3, "station": 1, "type": "BLS"}],
    "hospitals": [{"id": 1, "lat": 60.18, "lon": 24.92, "capabilities": ["ed", "pci_24_7"]}],
    "demand": [{"lat": 60.16, "lon": 24.93, "weight": 3, "area": "south"},
               {"lat": 60.20, "lon": 24.97, "area": "north"}],
    "calls": {"rate_per_day": 50, "priorities": {1: 0.3, 2: 0.7}, "arrest_share": 0.05},
}


def scenario(**changes: Any) -> core.Scenario:
    return core.Scenario.model_validate({**SCENARIO, **changes})


def erlang_c(c: int, a: float) -> float:
    """Probability an arriving call waits in an M/M/c queue with offered load a = lambda / mu."""
    top = a ** c / math.factorial(c) * c / (c - a)
    return top / (sum(a ** k / math.factorial(k) for k in range(c)) + top)


def test_simulation_calls_the_live_dispatch_and_fleet_functions(monkeypatch: pytest.MonkeyPatch) -> None:
    """Spies on recommend_units, recommend_hospital, queue_order and next_status in their own modules see every call."""
    calls: dict[str, int] = {"units": 0, "hospital": 0, "queue": 0, "status": 0}

    def spy(name: str, real: Any) -> Any:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return real(*args, **kwargs)
        return wrapped

    monkeypatch.setattr(dispatch_core, "recommend_units", spy("units", dispatch_core.recommend_units))
    monkeypatch.setattr(dispatch_core, "recommend_hospital", spy("hospital", dispatch_core.recommend_hospital))
    monkeypatch.setattr(dispatch_core, "queue_order", spy("queue", dispatch_core.queue_order))
    monkeypatch.setattr(fleet_core, "next_status", spy("status", fleet_core.next_status))
    sc = scenario(calls={**SCENARIO["calls"], "rate_per_day": 150})
    run = core.run_replication(sc, flows.matrix_router(sc), core.replication_seeds(sc, 1)[0])
    served = int(np.isfinite(run.times[:, 3]).sum())
    assert calls["units"] >= served > 0
    assert calls["hospital"] == int(run.transported.sum()) > 0
    assert calls["queue"] > 0 and calls["status"] >= 5 * served


def test_a_different_live_policy_changes_the_simulation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Replacing the live recommend_units (always the highest unit id) changes which units the simulation sends."""
    sc = scenario()
    router = flows.matrix_router(sc)
    seed = core.replication_seeds(sc, 1)[0]
    before = core.run_replication(sc, router, seed)
    real = dispatch_core.recommend_units

    def worst_first(*args: Any, **kwargs: Any) -> Any:
        rec = real(*args, **kwargs)
        eligible = sorted(rec.eligible, key=lambda c: -c.unit_id)
        return dispatch_core.UnitRecommendation(rec.incident_id, rec.profile, tuple(eligible), ())

    monkeypatch.setattr(dispatch_core, "recommend_units", worst_first)
    after = core.run_replication(sc, router, core.replication_seeds(sc, 1)[0])
    assert (after.unit == 3).sum() > (before.unit == 3).sum()


def test_erlang_c_waiting_probability_within_confidence_interval() -> None:
    """Calls at one point, zero travel, exponential service: the share that waits matches Erlang C(3, 2)."""
    sc = scenario(days=60, demand=[{"lat": 60.17, "lon": 24.94}], hospitals=[],
                  units=[{"id": i, "station": 1} for i in (1, 2, 3)], travel={"kind": "zero"},
                  calls={"rate_per_day": 48, "priorities": {1: 1.0}},
                  durations={"on_scene": {"kind": "exponential", "mean": 3600}, "transport_probability": 0})
    result = flows.run_scenario(sc, replications=8)
    ci = result["summary"]["queued_share"]
    expected = erlang_c(3, 2.0)
    assert ci["low"] <= expected <= ci["high"], (ci, expected)
    assert ci["half_width"] < 0.05


def test_runs_repeat_for_a_seed_and_replications_differ() -> None:
    """Same seed, same per-call times; two replications use independent streams."""
    sc = scenario()
    router = flows.matrix_router(sc)
    s1, s2 = core.replication_seeds(sc, 2)
    a = core.run_replication(sc, router, s1)
    b = core.run_replication(sc, router, core.replication_seeds(sc, 2)[0])
    c = core.run_replication(sc, router, s2)
    assert np.array_equal(a.times, b.times, equal_nan=True)
    assert a.times.shape != c.times.shape or not np.array_equal(a.times, c.times, equal_nan=True)


def test_time_nodes_are_in_order() -> None:
    """Every served call passes call <= notified <= en route <= on scene <= left scene <= back in service."""
    sc = scenario()
    run = core.run_replication(sc, flows.matrix_router(sc), core.replication_seeds(sc, 1)[0])
    order = [K.PSAP_CALL, K.UNIT_NOTIFIED, K.UNIT_EN_ROUTE, K.UNIT_ON_SCENE, K.LEFT_SCENE, K.UNIT_BACK_IN_SERVICE]
    t = run.times[:, [core.NODES.index(k) for k in order]]
    done = np.isfinite(t).all(axis=1)
    assert done.sum() > 50
    assert (np.diff(t[done], axis=1) >= -1e-9).all()
    hosp = np.isfinite(run.times[:, core.NODES.index(K.AT_DESTINATION)])
    assert hosp.sum() == run.transported.sum() > 0


def test_survival_models_match_their_formulas() -> None:
    """Larsen, De Maio and Valenzuela give their published values for one arrest with known times."""
    times = np.full((1, len(core.NODES)), np.nan)
    col = {k: i for i, k in enumerate(core.NODES)}
    times[0, col[K.ARREST]] = 0.0
    times[0, col[K.PSAP_CALL]] = 120.0
    times[0, col[K.FIRST_CPR]] = 240.0
    times[0, col[K.UNIT_ON_SCENE]] = 720.0
    times[0, col[K.FIRST_DEFIBRILLATION]] = 840.0
    run = core.RunResult(times=times, priority=np.array([1]), area=["a"], arrest=np.array([True]),
                         queued=np.array([False]), transported=np.array([False]), unit=np.array([1]),
                         utilisation={1: 0.1}, horizon_s=1000.0)
    s = core.survival(core.Scenario.model_fields["arrest"].default_factory(), run)  # type: ignore[misc]
    assert s["larsen_1993"] == pytest.approx(0.67 - 0.023 * 4 - 0.011 * 14 - 0.021 * 12)
    assert s["de_maio_2003"] == pytest.approx(1 / (1 + math.exp(0.679 + 0.262 * 10)))
    assert s["valenzuela_1997"] == pytest.approx(1 / (1 + math.exp(-0.260 + 0.106 * 4 + 0.139 * 14)))


def test_comparison_detects_an_extra_ambulance_and_not_noise() -> None:
    """+1 ambulance on a busy system is a significant drop in queueing; the same scenario twice is not significant."""
    base = scenario(days=5, calls={**SCENARIO["calls"], "rate_per_day": 90})
    more = scenario(days=5, calls={**SCENARIO["calls"], "rate_per_day": 90},
                    units=[*SCENARIO["units"], {"id": 4, "station": 2}])
    a = flows.run_scenario(base, replications=5)["runs"]
    b = flows.run_scenario(more, replications=5)["runs"]
    diff = core.compare(a, b)
    assert diff["queued_share"]["significant"] and diff["queued_share"]["mean"] < 0
    assert not core.compare(a, a)["queued_share"]["significant"]


def test_bad_scenarios_are_rejected_with_the_reason(tmp_path: Path) -> None:
    """A unit at an unknown station and a missing file raise `Invalid` naming the problem."""
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({**SCENARIO, "units": [{"id": 1, "station": 9}]}))
    with pytest.raises(Invalid, match="name a station"):
        flows.load_scenario(path)
    with pytest.raises(Invalid, match="no such scenario"):
        flows.load_scenario(tmp_path / "none.yaml")
    with pytest.raises(Invalid, match="ray"):
        flows.run_scenario(scenario(), replications=1, ray_address="127.0.0.1:1")


def test_cli_plan_run_prints_json(tmp_path: Path) -> None:
    """`lifechain plan run SCENARIO --replications 2 --json` prints per-figure confidence intervals."""
    from lifechain.cli import _register_domains, app

    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(SCENARIO))
    _register_domains()
    result = CliRunner().invoke(app, ["plan", "run", str(path), "--replications", "2", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["replications"] == 2 and out["summary"]["calls"]["n"] == 2
    assert 0 < out["summary"]["all.within_12_min"]["mean"] <= 1
