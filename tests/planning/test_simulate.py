"""Simulation: live dispatch functions are what it calls, Erlang-C waiting, determinism, survival models, CLI."""

from __future__ import annotations

import json
import math
import re
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from lifechain.dispatch import core as dispatch_core
from lifechain.errors import Invalid
from lifechain.fleet import core as fleet_core
from lifechain.geo.core import LatLon
from lifechain.planning import core, flows
from lifechain.planning.simulate import ArrestIn
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
    # An overloaded scenario's arrest reached after two days: no survivor, and no overflow warning on the way.
    times[0, [col[K.UNIT_ON_SCENE], col[K.FIRST_CPR], col[K.FIRST_DEFIBRILLATION]]] = 2 * 86400.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        late = core.survival(core.Scenario.model_fields["arrest"].default_factory(), run)  # type: ignore[misc]
    assert max(late["de_maio_2003"], late["valenzuela_1997"]) < 1e-300


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


def test_bad_scenarios_are_rejected_with_the_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A unit at an unknown station, a missing file and values out of range raise `Invalid` naming the problem."""
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({**SCENARIO, "units": [{"id": 1, "station": 9}]}))
    with pytest.raises(Invalid, match="name a station"):
        flows.load_scenario(path)
    with pytest.raises(Invalid, match=r"^cannot read scenario file .*none\.yaml: No such file or directory$"):
        flows.load_scenario(tmp_path / "none.yaml")
    # One line per problem, as every other refusal: no pydantic input dump or documentation links.
    path.write_text(yaml.safe_dump({k: v for k, v in {**SCENARIO, "seed": "abc"}.items() if k != "units"}))
    with pytest.raises(Invalid) as refused:
        flows.load_scenario(path)
    assert refused.value.message == (f"{path}: seed: Input should be a valid integer, unable to parse string as an "
                                     "integer; units: Field required")
    with pytest.raises(Invalid, match=r"no Ray cluster answers at 127\.0\.0\.1:1"):  # at once, not after minutes
        flows.run_scenario(scenario(), replications=1, ray_address="127.0.0.1:1")
    with monkeypatch.context() as m:
        m.setitem(sys.modules, "ray", None)  # not installed
        with pytest.raises(Invalid, match=r"needs the 'ray' package.*lifechain\[ray\]"):
            flows.run_scenario(scenario(), replications=1, ray_address="127.0.0.1:1")
    # Values the clock arithmetic cannot take (an hour on scene of 1e300 s overflowed `timedelta` mid-run, a
    # negative seed failed in numpy) are refused when the scenario loads, naming the field.
    for change, field in (({"durations": {"on_scene": {"kind": "fixed", "mean": 1e300}}}, "on_scene.mean"),
                          ({"seed": -1}, "seed"), ({"days": 1e9}, "days"),
                          ({"travel": {"kind": "straight", "speed_kmh": 1e-300}}, "speed_kmh")):
        path.write_text(yaml.safe_dump({**SCENARIO, **change}))
        with pytest.raises(Invalid, match=field):
            flows.load_scenario(path)


VOLUNTEERS = {"density_per_km2": 5}


@pytest.mark.parametrize(("change", "message"), [
    # Infinite and NaN numbers (YAML .inf/.nan, JSON Infinity/NaN): a weight of .inf made every call's place NaN.
    ({"demand": [{"lat": 60.16, "lon": 24.93, "weight": math.inf}]}, r"demand\.0\.weight: .*finite number"),
    ({"arrest": {"larsen": [0.67, math.nan, 0.011, 0.021]}}, r"arrest\.larsen\.1: .*finite number"),
    ({"calls": {"rate_per_day": 5, "hourly_profile": [1.0] * 23 + [math.inf]}}, r"hourly_profile\.23"),
    # Values no run can use: they failed deep inside numpy, or ran as something else than was meant.
    ({"calls": {"rate_per_day": 5, "priorities": {5: 1.0}}},
     r"calls\.priorities\.5\.\[key\]: .*less than or equal to 4"),
    ({"calls": {"rate_per_day": 5, "priorities": {1: -1.0, 2: 2.0}}}, r"calls\.priorities\.1: "),
    ({"calls": {"rate_per_day": 5, "priorities": {1: 0.0}}}, "at least one of them positive"),
    ({"calls": {"rate_per_day": 5, "pathways": {"stroke": 2}}},
     r"calls\.pathways\.stroke: .*less than or equal to 1"),
    ({"demand": [{"lat": 60.16, "lon": 24.93, "weight": 0}]}, "at least one demand point with a positive weight"),
    ({"targets_min": [8, 0]}, r"targets_min\.1: "),
    ({"units": [{"id": 1, "station": 1, "shifts": [[8, 30]]}]}, r"units\.0\.shifts\.0\.1: "),
    ({"units": [{"id": 1, "station": 1, "shifts": [[8, 8]]}]}, "different start and end hours"),
    ({"volunteers": {**VOLUNTEERS, "area_density_per_km2": {"south": -3}}}, r"area_density_per_km2\.south: "),
    # The policies: each key checked against the live policy's field types, as a city's alert policy file is.
    ({"dispatch_policy": {"max_eta_s": "soon"}}, r"dispatch policy: max_eta_s: Input should be a valid number"),
    ({"dispatch_policy": {"max_eat_s": 600}}, r"dispatch policy: max_eat_s: Unexpected keyword argument"),
    ({"dispatch_policy": {"redispatch": 5}}, r"dispatch policy: redispatch: Input should be a valid frozenset"),
    ({"dispatch_policy": {"gps_stale_after_s": math.inf}}, r"dispatch policy: gps_stale_after_s: .*finite number"),
    ({"volunteers": {**VOLUNTEERS, "policy": {"max_alerts": "many"}}}, r"alert policy: max_alerts: Input should"),
    ({"volunteers": {**VOLUNTEERS, "policy": {"target_s": 0}}}, r"alert policy: target_s must be positive"),
    # The simulation keys stations, units and hospitals by id: a second unit 1 silently replaced the first.
    ({"units": [{"id": 1, "station": 1}, {"id": 1, "station": 2}]}, r"unit ids must be unique: \[1\] appear"),
    ({"stations": [{"id": 1, "lat": 60.17, "lon": 24.94}] * 2}, r"station ids must be unique: \[1\]"),
    ({"hospitals": [{**SCENARIO["hospitals"][0], "name": n} for n in "ab"]}, r"hospital ids must be unique"),
    # A pathway dispatch does not know was ignored: a misspelt stroke went to the nearest ED.
    ({"calls": {"rate_per_day": 5, "pathways": {"storke": 0.1}}},
     r"calls\.pathways: unknown pathway 'storke'; the live triage protocol's are .*stroke"),
], ids=["inf-weight", "nan-survival", "inf-hour", "priority-5", "negative-priority", "no-priority", "pathway-2",
        "zero-demand", "target-0", "shift-30h", "empty-shift", "negative-density", "policy-type", "policy-typo",
        "policy-set", "policy-inf", "alert-type", "alert-rule", "unit-twice", "station-twice", "hospital-twice",
        "unknown-pathway"])
def test_scenario_values_no_run_can_use_are_refused_naming_them(tmp_path: Path, change: dict[str, Any],
                                                                 message: str) -> None:
    """A scenario file with a value no run can use is refused when it loads, naming the key (before, these failed
    mid-run with a numpy or type error, ran on NaN, or were taken silently)."""
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({**SCENARIO, **change}))
    with pytest.raises(Invalid, match=message):
        flows.load_scenario(path)


def test_a_pathway_the_dispatch_policy_adds_is_known() -> None:
    """A scenario may give dispatch a pathway of its own (with the capabilities it needs); its calls may then
    carry it. Without that entry the same calls are refused."""
    calls = {"rate_per_day": 5, "pathways": {"burns": 0.1}}
    sc = scenario(calls=calls, dispatch_policy={"pathway_capabilities": {"burns": ["icu"]}})
    assert sc.calls.pathways == {"burns": 0.1} and "burns" in sc.policy().pathway_capabilities
    with pytest.raises(ValueError, match="unknown pathway 'burns'"):
        scenario(calls=calls)


def test_policies_are_read_into_the_live_types() -> None:
    """Lists in a scenario become the sets the live policies hold, and strings their enums."""
    sc = scenario(dispatch_policy={"redispatch": [[3, 1]], "als_required_priorities": [1, 2],
                                   "expected_remaining_s": {"on_scene": 600}},
                  volunteers={**VOLUNTEERS, "policy": {"exclusions": ["care_home"], "max_alerts": 12}})
    policy = sc.policy()
    assert policy.redispatch == frozenset({(3, 1)}) and policy.als_required_priorities == frozenset({1, 2})
    assert policy.expected_remaining_s == {fleet_core.UnitStatus.ON_SCENE: 600.0}
    assert sc.volunteers is not None
    alerts = sc.volunteers.alert_policy()
    assert alerts.exclusions == frozenset({"care_home"}) and alerts.max_alerts == 12
    assert alerts.set_off_delay_s == sc.volunteers.set_off_delay_s


def test_on_shift_reads_shifts_past_midnight_and_overlapping_ones() -> None:
    """[start, end) hours of the day; an end before the start runs past midnight; no shifts: always on."""
    from lifechain.planning.simulate import on_shift

    night = [(20.0, 8.0)]
    assert [on_shift(night, h) for h in (0, 7.99, 8, 12, 19.99, 20, 23.5)] == [
        True, True, False, False, False, True, True]
    day = [(8.0, 16.0), (14.0, 22.0)]
    assert [on_shift(day, h) for h in (7.5, 8, 15, 16, 21.9, 22)] == [False, True, True, True, True, False]
    assert on_shift([], 3.0)


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


def test_cli_plan_run_writes_every_call_with_its_time_nodes(tmp_path: Path) -> None:
    """`plan run --calls FILE` writes one row per call of replication 1, each time node an instant (in order along
    the call), the response times in it averaging to the summary's, and the arrests' first CPR and shock per
    variant, volunteers never later than EMS alone; a folder that does not exist is refused by name."""
    import csv
    import itertools
    from datetime import datetime

    from lifechain.cli import _register_domains, app

    path, calls = tmp_path / "s.yaml", tmp_path / "calls.csv"
    path.write_text(yaml.safe_dump({**SCENARIO, "volunteers": VOLUNTEERS,
                                    "calls": {**SCENARIO["calls"], "arrest_share": 0.3}}))
    _register_domains()
    result = CliRunner().invoke(app, ["plan", "run", str(path), "--calls", str(calls), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)["summary"]
    with calls.open(newline="") as fh:
        reader = csv.DictReader(fh)
        header, rows = list(reader.fieldnames or []), list(reader)
    assert len(header) == len(set(header)) and "volunteers_aed_first_cpr" in header
    assert len(rows) == summary["calls"]["mean"] > 50

    def at(row: dict[str, str], node: str) -> float:
        return datetime.fromisoformat(row[node]).timestamp() if row[node] else math.nan

    response = []
    for row in rows:
        chain = [at(row, n) for n in ("psap_call", "unit_notified", "unit_en_route", "unit_on_scene")]
        assert all(a <= b for a, b in itertools.pairwise(chain) if not math.isnan(b))
        response.append((chain[3] - chain[0]) / 60)
        if row["is_arrest"] == "True" and row["unit_on_scene"]:
            assert at(row, "arrest") < chain[0]
            assert at(row, "volunteers_aed_first_cpr") <= at(row, "ems_first_cpr")
        elif row["is_arrest"] == "False":
            assert row["arrest"] == row["ems_first_cpr"] == row["volunteers_aed_first_cpr"] == ""
    assert np.nanmean(response) == pytest.approx(summary["all.mean_response_min"]["mean"], abs=1e-4)
    refused = CliRunner().invoke(app, ["plan", "run", str(path), "--calls", str(tmp_path / "no" / "c.csv")])
    assert refused.exit_code == 2 and f"cannot write {tmp_path / 'no' / 'c.csv'}" in refused.output


def test_an_output_file_that_cannot_be_written_is_refused_before_the_run(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """`--report` or `--calls` in a folder that does not exist (or naming a folder) used to be refused only after
    the whole simulation, losing it; now before any replication runs. A file already there is left as it was, and
    a new one is not left behind by the check. `--workers` with `--ray` is refused too (the cluster spreads the
    replications, so the processes asked for would not be used)."""
    from lifechain.cli import _register_domains, app

    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(SCENARIO))
    ran: list[str] = []
    monkeypatch.setattr(flows, "run_scenario", lambda sc, **_: ran.append(sc.name))
    _register_domains()
    for option in ("--report", "--calls"):
        for out, why in ((tmp_path / "no" / "out", "No such file or directory"), (tmp_path, "Is a directory")):
            refused = CliRunner().invoke(app, ["plan", "run", str(path), option, str(out)])
            assert refused.exit_code == 2 and f"cannot write {out}: {why}" in refused.output, refused.output
    refused = CliRunner().invoke(app, ["plan", "compare", str(path), str(path), "--report", str(tmp_path)])
    assert refused.exit_code == 2 and f"cannot write {tmp_path}: Is a directory" in refused.output
    for command in (["run", str(path)], ["compare", str(path), str(path)]):
        refused = CliRunner().invoke(app, ["plan", *command, "--workers", "2", "--ray", "127.0.0.1:1"])
        words = " ".join(refused.output.replace("│", " ").split())  # the message as one line, out of rich's box
        assert refused.exit_code == 2 and "with --ray the cluster runs the replications" in words, refused.output
    assert ran == []
    kept = tmp_path / "kept.html"
    kept.write_text("an older report")
    flows.check_writable(kept)
    flows.check_writable(tmp_path / "new.html")
    assert kept.read_text() == "an older report" and not (tmp_path / "new.html").exists()


BUSY: dict[str, Any] = {**SCENARIO, "days": 5, "calls": {**SCENARIO["calls"], "rate_per_day": 90}}
PLUS_ONE: dict[str, Any] = {**BUSY, "name": "plus one", "seed": 99,
                             "units": [*SCENARIO["units"], {"id": 4, "station": 2}]}


def test_a_comparison_runs_both_scenarios_on_the_same_calls() -> None:
    """The variant runs on the base's seed (its own, 99, is reported as replaced), so every pair of replications
    has exactly the same calls; +1 ambulance is then a significant drop in queueing."""
    result = flows.compare_scenarios(core.Scenario.model_validate(BUSY), core.Scenario.model_validate(PLUS_ONE),
                                     replications=4)
    assert (result["seed"], result["seed_replaced"], result["replications"]) == (3, 99, 4)
    same = result["difference"]["calls"]
    assert (same["mean"], same["half_width"], same["significant"]) == (0.0, 0.0, False)
    queued = result["difference"]["queued_share"]
    assert queued["significant"] and queued["high"] < 0
    assert queued["mean"] == pytest.approx(result["variant_summary"]["queued_share"]["mean"]
                                           - result["base_summary"]["queued_share"]["mean"])
    with pytest.raises(Invalid, match="at least 2 replications"):
        flows.compare_scenarios(core.Scenario.model_validate(BUSY), core.Scenario.model_validate(BUSY),
                                replications=1)


def test_a_comparison_refuses_a_variant_it_cannot_run_before_running_the_base(tmp_path: Path) -> None:
    """A variant whose replay file is missing was refused only after every replication of the base had run (on a
    city's year, minutes lost); both scenarios are now prepared first, and the refusal says which one it is."""
    ran: list[int] = []
    variant = core.Scenario.model_validate({**PLUS_ONE, "calls": {"replay_file": str(tmp_path / "gone.csv")}})
    with pytest.raises(Invalid, match=rf"^variant: no such file: {tmp_path}/gone\.csv$"):
        flows.compare_scenarios(core.Scenario.model_validate(BUSY), variant, replications=2, progress=ran.append)
    assert ran == []
    flows.compare_scenarios(core.Scenario.model_validate(BUSY), core.Scenario.model_validate(PLUS_ONE),
                            replications=2, progress=ran.append)
    assert ran == [1, 1, 1, 1]  # the progress the refused call would have shown: both scenarios' replications


def test_cli_plan_compare_says_which_changes_are_larger_than_the_noise(tmp_path: Path) -> None:
    """`lifechain plan compare BASE VARIANT` prints base, variant, change and interval per figure and marks the
    changes whose interval leaves out 0; its JSON holds the same comparison."""
    from lifechain.cli import _register_domains, app

    base, variant = tmp_path / "base.yaml", tmp_path / "plus.yaml"
    base.write_text(yaml.safe_dump(BUSY))
    variant.write_text(yaml.safe_dump(PLUS_ONE))
    _register_domains()
    result = CliRunner().invoke(app, ["plan", "compare", str(base), str(variant), "--replications", "3"])
    assert result.exit_code == 0, result.output
    assert "base's seed 3, not its own 99" in result.output
    lines = result.output.splitlines()
    first = next(i for i, line in enumerate(lines) if "seed 3, not" in line) + 1
    table = [re.split(r" {2,}", line.strip()) for line in lines[first:]]
    assert table[0] == ["figure", "base", "variant", "change (95% interval)"]
    rows = {row[0]: row[1:] for row in table[1:]}
    out = json.loads(CliRunner().invoke(app, ["plan", "compare", str(base), str(variant), "--replications", "3",
                                              "--json"]).output)
    assert out["difference"]["queued_share"]["significant"] and out["variant"] == "plus one"
    assert len(rows) == len(out["difference"])  # every figure once, in words
    queued, base_q = out["difference"]["queued_share"], out["base_summary"]["queued_share"]["mean"]
    assert rows["waited for a free unit"][0] == f"{100 * base_q:.1f}%"
    assert rows["waited for a free unit"][2].startswith(f"{100 * queued['mean']:+.1f} pp (")
    assert rows["waited for a free unit"][3] == "larger than the noise"
    assert rows["calls"][2:] == ["+0.0 (+0.0 to +0.0)", "within the noise"]  # the same calls in both
    verdicts = [row[-1] for row in table[1:]]
    assert verdicts == sorted(verdicts) and verdicts[0] != verdicts[-1]  # those larger than the noise first
    refused = CliRunner().invoke(app, ["plan", "compare", str(base), str(variant), "--replications", "1"])
    assert refused.exit_code == 2 and "at least 2 replications" in refused.output


def test_cli_plan_compare_report_leads_with_the_changes_beyond_the_noise(tmp_path: Path) -> None:
    """`plan compare --report` writes an HTML page: every figure in words with base, variant and its change (shares
    in percentage points), the changes larger than the noise first, each part in the key-figure tables' order; both
    scenarios' response-time curves in one plot; each one's key figures; the survival models' sources."""
    from lifechain.cli import _register_domains, app

    base, variant, out = tmp_path / "base.yaml", tmp_path / "plus.yaml", tmp_path / "compare.html"
    base.write_text(yaml.safe_dump(BUSY))
    variant.write_text(yaml.safe_dump(PLUS_ONE))
    _register_domains()
    res = CliRunner().invoke(app, ["plan", "compare", str(base), str(variant), "--replications", "3", "--report",
                                   str(out), "--json"])
    assert res.exit_code == 0, res.output
    compared = json.loads(res.output)
    assert "first_runs" not in compared
    page = out.read_text()
    assert "Comparison: plus one against toy" in page and "base's, so that both see the same calls" in page
    assert page.count("data:image/png;base64,") == 1 and page.count("Key figures: ") == 2
    assert "Ann Emerg Med 1993;22(11):1652" in page
    rows = re.findall(r'<tr( class=significant)?><td title="([^"]+)">([^<]+)</td><td>([^<]*)</td><td>([^<]*)</td>'
                      r"<td>([^<]*)</td><td>(larger than the noise|within the noise)</td></tr>", page)
    assert len(rows) == len(compared["difference"])
    verdicts = [row[6] for row in rows]
    assert verdicts == sorted(verdicts)  # "larger ..." before "within ..."
    for mark, key, _, _, _, _, verdict in rows:
        assert (mark != "") == (verdict == "larger than the noise") == compared["difference"][key]["significant"]
    by_key = {row[1]: row for row in rows}
    queued = compared["difference"]["queued_share"]
    assert by_key["queued_share"][2] == "waited for a free unit"
    assert by_key["queued_share"][5].startswith(f"{100 * queued['mean']:+.1f} pp (")
    assert by_key["p1.within_8_min"][2] == "priority 1, within 8 min"
    assert by_key["calls"][5] == "+0.0 (+0.0 to +0.0)"  # the same calls in both
    for verdict in ("larger than the noise", "within the noise"):
        part = [row[1] for row in rows if row[6] == verdict]
        sections = [0 if k.startswith("all.") else 1 if k.startswith("p") and "." in k else 2 if k.startswith("area:")
                    else 4 if k.startswith("arrest.") else 3 for k in part]
        assert sections == sorted(sections), part
    # Asked for a report, a comparison that kept no first replications says what it needs.
    with pytest.raises(Invalid, match="each scenario's first replication"):
        flows.report_html(compared)


def test_figures_in_words_and_changes_in_their_units() -> None:
    from lifechain.planning.report import change, figure_of

    assert figure_of("area:north.p90_response_min") == ("area north, 90th percentile (min)", "minutes")
    assert figure_of("arrest.volunteers_aed.larsen_1993") == (
        "expected survivors, Larsen 1993, + volunteers and public AEDs", "survivors")
    assert figure_of("arrest.arrests") == ("cardiac arrests reached by EMS", "number")
    assert figure_of("mean_call_to_notified_s") == ("mean call to unit notified (s)", "seconds")
    assert figure_of("something.new") == ("something.new", "number")
    assert change({"mean": -0.0345, "low": -0.05, "high": -0.019}, "share") == "-3.5 pp (-5.0 to -1.9)"
    assert change({"mean": 1.25, "low": -0.5, "high": 3.0}, "minutes") == "+1.2 min (-0.5 to +3.0)"
    assert change({"mean": 4.0, "low": -math.inf, "high": math.inf}, "seconds") == "+4 s"
    assert change({"mean": -0.0004, "low": -0.2, "high": -0.04}, "minutes") == "+0.0 min (-0.2 to +0.0)"
    assert change({"mean": math.nan}, "share") == change(None, "share") == "-"
    assert figure_of("arrest.volunteer_arrivals") == ("volunteers who reached the patient", "number")


def test_cli_plan_compare_prints_a_figure_no_replication_had(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A figure NaN in every replication (say, no call was ever notified) has no interval: a dash, not a KeyError."""
    from lifechain.cli import _register_domains, app

    nan = {"mean": math.nan, "half_width": math.nan, "n": 0.0}
    monkeypatch.setattr(flows, "compare_scenarios", lambda *a, **k: {
        "base": "a", "variant": "b", "seed": 3, "replications": 2, "seed_replaced": None,
        "base_summary": {"mean_call_to_notified_s": nan}, "variant_summary": {"mean_call_to_notified_s": nan},
        "difference": {"mean_call_to_notified_s": {**nan, "significant": False}}})
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(SCENARIO))
    _register_domains()
    result = CliRunner().invoke(app, ["plan", "compare", str(path), str(path), "--replications", "2"])
    assert result.exit_code == 0, result.output
    assert re.split(r" {2,}", result.output.splitlines()[-1].strip()) == [
        "mean call to unit notified (s)", "-", "-", "-", "within the noise"]


# ------------------------------------------------------------------------------------------------ where units are

# A line of places east of one station, 10 m/s straight-line driving (no detour), fixed durations, replayed calls.
EAST: dict[str, Any] = {
    "name": "east", "seed": 1, "days": 1,
    "stations": [{"id": 1, "lat": 60.0, "lon": 24.0}, {"id": 2, "lat": 60.0, "lon": 24.4}],
    "units": [{"id": 1, "station": 1}],
    "hospitals": [{"id": 1, "lat": 60.0, "lon": 24.3}],
    "demand": [{"lat": 60.0, "lon": 24.2}, {"lat": 60.0, "lon": 24.21}, {"lat": 60.0, "lon": 24.01},
               {"lat": 60.0, "lon": 24.31}],
    "travel": {"kind": "straight", "speed_kmh": 36, "regular_speed_kmh": 36, "detour": 1.0},
    "durations": {"on_scene": {"kind": "fixed", "mean": 600}, "handover": {"kind": "fixed", "mean": 300},
                  "transport_probability": 0},
}
P, Q, NEAR_HOME, NEAR_HOSPITAL = 0, 1, 2, 3  # demand points


def east(calls: list[dict[str, Any]], **changes: Any) -> tuple[core.RunResult, core.MatrixRouter]:
    sc = core.Scenario.model_validate({**EAST, "calls": {"replayed": calls}, **changes})
    sc, router, _ = flows.prepare(sc)
    return core.run_replication(sc, router, core.replication_seeds(sc, 1)[0]), router


def secs(router: core.MatrixRouter, a: int, b: int, profile: str = "emergency") -> float:
    """Seconds between two places of the router (anchors first: station 1 is place 0, then the demand points)."""
    return router.time(a, b, profile)


def test_a_unit_leaving_a_scene_is_timed_from_that_scene() -> None:
    """The unit clears a far scene; a call next to it ten seconds later is reached from there, not from the station
    (from the station it would take twenty minutes)."""
    first, _router = east([{"t": 0, "point": P}])
    clear = float(first.times[0, core.NODES.index(K.UNIT_BACK_IN_SERVICE)])
    run, router = east([{"t": 0, "point": P}, {"t": clear + 10, "point": Q}])
    p, q = router.n_anchors + P, router.n_anchors + Q
    response = run.times[1, core.NODES.index(K.UNIT_ON_SCENE)] - run.times[1, 0]
    assert response == pytest.approx(10 + secs(router, p, q))
    assert secs(router, 0, q) > 10 * response


def test_a_unit_late_on_its_way_home_is_timed_through_its_station() -> None:
    """Near the end of its way home the unit goes on through the station: the call waits the rest of the way home
    plus station to call, a little more than a unit standing at the station would need."""
    first, router = east([{"t": 0, "point": P}])
    clear = float(first.times[0, core.NODES.index(K.UNIT_BACK_IN_SERVICE)])
    p, station, near = router.n_anchors + P, 0, router.n_anchors + NEAR_HOME
    home = secs(router, p, station, "regular")
    run, router = east([{"t": 0, "point": P}, {"t": clear + home - 30, "point": NEAR_HOME}])
    response = run.times[1, core.NODES.index(K.UNIT_ON_SCENE)] - run.times[1, 0]
    assert response == pytest.approx(30 + secs(router, station, near))


def test_a_unit_leaving_hospital_is_timed_from_the_hospital_after_its_gps_would_be_stale() -> None:
    """Five minutes after handing over at a far hospital, a call beside the hospital is reached from there (the
    unit is still on its way home), not from the station as a stale GPS fix would have it."""
    run0, router = east([{"t": 0, "point": P}], durations={**EAST["durations"], "transport_probability": 1})
    free = float(run0.times[0, core.NODES.index(K.UNIT_BACK_IN_SERVICE)])
    run, router = east([{"t": 0, "point": P}, {"t": free + 300, "point": NEAR_HOSPITAL}],
                       durations={**EAST["durations"], "transport_probability": 1})
    hospital = router.place(LatLon(EAST["hospitals"][0]["lat"], EAST["hospitals"][0]["lon"]))
    near = router.n_anchors + NEAR_HOSPITAL
    response = run.times[1, core.NODES.index(K.UNIT_ON_SCENE)] - run.times[1, 0]
    assert response == pytest.approx(300 + secs(router, hospital, near))
    assert response < secs(router, 0, near) / 3


def test_a_priority_1_call_diverts_a_unit_on_its_way_to_a_priority_3_call() -> None:
    """The only unit, en route to a far priority 3 call, is diverted to a priority 1 call near its station (the
    redispatch table allows 3 -> 1); the priority 3 call goes back to the queue with its call and first notified
    times, is served later by the same unit, and the run counts one redispatch."""
    calls = [{"t": 0, "point": P, "priority": 3}, {"t": 100, "point": NEAR_HOME, "priority": 1}]
    run, router = east(calls)
    col = {k: core.NODES.index(k) for k in (K.UNIT_NOTIFIED, K.UNIT_EN_ROUTE, K.UNIT_ON_SCENE)}
    near = router.n_anchors + NEAR_HOME
    assert run.redispatches == 1 and run.diverted is not None and run.diverted.tolist() == [True, False]
    assert run.times[1, col[K.UNIT_ON_SCENE]] == pytest.approx(100 + 100 + secs(router, 0, near))
    assert run.times[0, col[K.UNIT_NOTIFIED]] == 0 and run.times[0, col[K.UNIT_EN_ROUTE]] == 0
    assert run.queued[0] and run.unit[0] == 1
    assert run.times[0, col[K.UNIT_ON_SCENE]] > run.times[1, col[K.UNIT_ON_SCENE]] + 600
    summary = core.summarise(run, targets_min=[8], arrest=ArrestIn())
    assert summary["redispatches"] == 1 and summary["redispatched_share"] == 0.5
    # Without the table's (3, 1) the priority 1 call waits for the unit to finish the priority 3 call.
    kept, _ = east(calls, dispatch_policy={"redispatch": []})
    assert kept.redispatches == 0 and not kept.diverted.any()
    assert kept.times[1, col[K.UNIT_ON_SCENE]] > kept.times[0, col[K.UNIT_ON_SCENE]] + 600


def test_a_free_unit_that_is_faster_is_sent_instead_of_a_diversion() -> None:
    """With a free unit nearer the new call than the busy one, nothing is diverted; with it farther, the busy unit
    is (the fastest unit the live recommendation offers goes)."""
    calls = [{"t": 0, "point": P, "priority": 3}, {"t": 100, "point": NEAR_HOME, "priority": 1}]
    near_free = {"units": [{"id": 1, "station": 1}, {"id": 2, "station": 1}]}
    run, _ = east(calls, **near_free)
    assert run.redispatches == 0 and run.unit.tolist() == [1, 2]
    far_free = {"units": [{"id": 1, "station": 1}, {"id": 2, "station": 2}]}
    run, _ = east(calls, **far_free)
    assert run.redispatches == 1 and run.unit[1] == 1


def test_diversions_ask_the_live_divert_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    """A live divert rule (`_divert_block`, behind `divert_refusal` and the ranking) that refuses every diversion
    leaves the simulation without redispatches."""
    calls = [{"t": 0, "point": P, "priority": 3}, {"t": 100, "point": NEAR_HOME, "priority": 1}]
    monkeypatch.setattr(dispatch_core, "_divert_block", lambda *a, **k: "table")
    run, _ = east(calls)
    assert run.redispatches == 0


def test_a_waiting_call_for_als_does_not_hold_up_a_call_a_free_bls_unit_can_take() -> None:
    """The ALS unit is far away on a priority 1 call and the BLS unit on a short one nearby; a second priority 1
    call (ALS only) and then a priority 3 call wait. When the BLS unit is free it takes the priority 3 call at once,
    although the priority 1 call is ahead of it in the queue; the priority 1 call waits on for the ALS unit."""
    units = {"units": [{"id": 1, "station": 1}, {"id": 2, "station": 1, "type": "BLS"}]}
    calls = [{"t": 0, "point": P, "priority": 1}, {"t": 5, "point": NEAR_HOME, "priority": 2},
             {"t": 10, "point": Q, "priority": 1}, {"t": 20, "point": NEAR_HOME, "priority": 3}]
    run, _router = east(calls, dispatch_policy={"redispatch": []}, **units)
    back = run.times[:, core.NODES.index(K.UNIT_BACK_IN_SERVICE)]
    notified = run.times[:, core.NODES.index(K.UNIT_NOTIFIED)]
    assert run.unit.tolist() == [1, 2, 1, 2]
    assert notified[3] == pytest.approx(back[1])  # the BLS unit, as soon as it cleared the priority 2 call
    assert notified[2] >= back[0] > notified[3]  # the priority 1 call had to wait for the ALS unit


def test_a_night_shift_is_on_duty_at_midnight_and_overlapping_shifts_leave_no_gap() -> None:
    """A unit on [20, 8] is on duty when a run starts at midnight: before, only shifts with start < end were
    checked, so it stayed off until 20:00 and a call at 01:00 waited 19 hours. With shifts [8, 16] and [14, 22],
    the first shift's end no longer sends the unit off duty in the middle of the second one."""
    hour = 3600.0

    def waits(shifts: list[list[float]], at_hours: list[float]) -> list[float]:
        calls = [{"t": h * hour, "point": NEAR_HOME} for h in at_hours]
        run, _ = east(calls, units=[{"id": 1, "station": 1, "shifts": shifts}], days=2)
        notified = run.times[:, core.NODES.index(K.UNIT_NOTIFIED)]
        return [round(float(n - t * hour) / hour, 2) for n, t in zip(notified, at_hours, strict=True)]

    assert waits([[20, 8]], [1.0, 12.0]) == [0.0, 8.0]  # served at once; the noon call waits for 20:00
    assert waits([[8, 16], [14, 22]], [7.0, 17.0, 23.0]) == [1.0, 0.0, 9.0]  # 17:00 in the second shift
