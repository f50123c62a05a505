"""Volunteers and AEDs in the simulation: the live alert functions decide, and they shorten time to CPR and shock."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from tests.planning.test_simulate import SCENARIO, scenario

from lifechain.errors import Invalid
from lifechain.planning import core, flows
from lifechain.volunteers import core as vc

SLOW = {"kind": "straight", "speed_kmh": 12.0}  # a slow ambulance, so volunteers have time to matter
VOLUNTEERS: dict[str, Any] = {"density_per_km2": 40, "acceptance_probability": 0.5,
                              "aeds": [{"lat": 60.161, "lon": 24.931}, {"lat": 60.201, "lon": 24.969}]}


def arrests(**changes: Any) -> core.Scenario:
    return scenario(days=10, travel=SLOW, calls={**SCENARIO["calls"], "rate_per_day": 30, "arrest_share": 0.3},
                    **changes)


def run(sc: core.Scenario) -> core.RunResult:
    return core.run_replication(sc, flows.matrix_router(sc), core.replication_seeds(sc, 1)[0])


def test_simulation_calls_the_live_alert_functions(monkeypatch: pytest.MonkeyPatch) -> None:
    """Spies on plan_alerts, on_accept and stand_down in lifechain.volunteers.core see every arrest's alerting."""
    seen: dict[str, int] = {"plan": 0, "accept": 0, "stand_down": 0}

    def spy(name: str, real: Any) -> Any:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            seen[name] += 1
            return real(*args, **kwargs)
        return wrapped

    monkeypatch.setattr(vc, "plan_alerts", spy("plan", vc.plan_alerts))
    monkeypatch.setattr(vc, "on_accept", spy("accept", vc.on_accept))
    monkeypatch.setattr(vc, "stand_down", spy("stand_down", vc.stand_down))
    result = run(arrests(volunteers=VOLUNTEERS))
    n = int(result.arrest.sum())
    assert n > 10
    assert seen["plan"] >= 2 * n  # without and with AEDs, plus replacements of refusals
    assert seen["accept"] > 0 and seen["stand_down"] > 0
    assert result.extra["volunteer_acceptances"] > 0


def test_a_live_policy_that_alerts_nobody_removes_the_volunteer_effect(monkeypatch: pytest.MonkeyPatch) -> None:
    """Replacing the live plan_alerts by one that alerts nobody makes the volunteer variants equal EMS alone."""
    monkeypatch.setattr(vc, "plan_alerts", lambda *a, **k: vc.AlertPlan(nature="cardiac_arrest",
                                                                        started_at=k["now"]))
    result = run(arrests(volunteers=VOLUNTEERS))
    v = result.arrest_variants
    assert np.array_equal(v["ems"], v["volunteers_aed"], equal_nan=True)


def test_volunteers_and_aeds_shorten_time_to_cpr_and_shock_and_raise_survival() -> None:
    """Dense volunteers with AEDs: earlier CPR and shock than EMS alone, and more expected survivors."""
    result = run(arrests(volunteers={**VOLUNTEERS, "aeds": [{"lat": 60.16 + d / 1000, "lon": 24.93 + d / 1000}
                                                             for d in range(-3, 4)]}))
    v = result.arrest_variants
    done = result.arrest & np.isfinite(v["ems"][:, 0])
    assert (v["volunteers_aed"][done] <= v["ems"][done] + 1e-9).all()
    assert (v["volunteers"][done, 0] < v["ems"][done, 0]).sum() > done.sum() / 4
    assert (v["volunteers_aed"][done, 1] < v["ems"][done, 1]).sum() > 0
    s = core.survival(core.Scenario.model_fields["arrest"].default_factory(), result)  # type: ignore[misc]
    assert s["volunteers_aed.larsen_1993"] > s["ems.larsen_1993"]
    assert s["volunteers_aed.valenzuela_1997"] > s["volunteers.valenzuela_1997"] >= s["ems.valenzuela_1997"]


def test_without_volunteers_nothing_else_changes() -> None:
    """Turning volunteers on leaves every dispatch time node as it was (common random numbers)."""
    off = run(arrests())
    on = run(arrests(volunteers=VOLUNTEERS))
    assert np.array_equal(off.times[:, :8], on.times[:, :8], equal_nan=True)
    assert off.arrest_variants == {}


def test_aeds_are_read_from_a_file_next_to_the_scenario(tmp_path: Path) -> None:
    """`aeds_file` relative to the scenario YAML is read; a file without coordinates is refused by name."""
    (tmp_path / "aeds.csv").write_text("name,latitude,longitude\na,60.16,24.93\nb,60.2,24.97\n")
    (tmp_path / "s.yaml").write_text(yaml.safe_dump({**SCENARIO, "volunteers": {"aeds_file": "aeds.csv"}}))
    sc = flows.resolve_aeds(flows.load_scenario(tmp_path / "s.yaml"))
    assert sc.volunteers is not None
    assert [(a.lat, a.lon) for a in sc.volunteers.aeds] == [(60.16, 24.93), (60.2, 24.97)]
    (tmp_path / "bad.csv").write_text("name\na\n")
    with pytest.raises(Invalid, match="lat and lon"):
        flows.read_points(tmp_path / "bad.csv")
