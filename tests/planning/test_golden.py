"""The seeded golden scenario reproduces its checked-in summary; the HTML report has its plots and sources."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from lifechain.planning import flows

GOLDEN = Path(__file__).parent / "golden"


def _clean(value: float) -> float | None:
    return None if math.isnan(value) else value


def test_golden_scenario_reproduces_its_checked_in_summary() -> None:
    """Same seed, same code: every figure of the 3-replication summary equals golden/summary.json."""
    result = flows.run_scenario(flows.load_scenario(GOLDEN / "scenario.yaml"), replications=3)
    got = {k: {m: _clean(x) for m, x in ci.items()} for k, ci in result["summary"].items()}
    path = GOLDEN / "summary.json"
    if os.environ.get("LIFECHAIN_UPDATE_GOLDEN"):
        path.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
    expected = json.loads(path.read_text())
    assert sorted(got) == sorted(expected)
    for key, ci in expected.items():
        for m, x in ci.items():
            assert got[key][m] == (None if x is None else pytest.approx(x, rel=1e-9, abs=1e-12)), (key, m)
    assert expected["arrest.volunteers_aed.larsen_1993"]["mean"] > expected["arrest.ems.larsen_1993"]["mean"]


def test_cli_report_has_curves_map_and_cited_sources(tmp_path: Path) -> None:
    """`plan run --report` writes an HTML page with two inline plots, the three survival model citations and the
    model's remaining simplifications."""
    from lifechain.cli import _register_domains, app

    _register_domains()
    out = tmp_path / "report.html"
    res = CliRunner().invoke(app, ["plan", "run", str(GOLDEN / "scenario.yaml"), "--replications", "2",
                                   "--report", str(out), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["replications"] == 2
    page = out.read_text()
    assert page.count("data:image/png;base64,") == 2
    for source in ("Ann Emerg Med 1993;22(11):1652", "Ann Emerg Med 2003;42(2):242", "Circulation 1997;96(10)"):
        assert source in page
    assert "all.within_8_min" in page and yaml.safe_load((GOLDEN / "scenario.yaml").read_text())["name"] in page
    assert "Model simplifications that remain" in page and "straight line x 1.3" in page
