"""The seeded golden scenario reproduces its checked-in summary; the HTML report has its plots and sources."""

from __future__ import annotations

import json
import math
import os
import re
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
    model's remaining simplifications, and every figure in words in the key-figure tables' order, as the command
    line prints them without `--json`."""
    from lifechain.cli import _register_domains, app
    from lifechain.planning.report import interval

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
    assert "Key figures" in page and "<td>priority 1</td>" in page and "<th>within 12 min</th>" in page
    assert "all.within_8_min" in page and yaml.safe_load((GOLDEN / "scenario.yaml").read_text())["name"] in page
    assert "Model simplifications that remain" in page and "straight line x 1.3" in page
    summary = json.loads(res.output)["summary"]
    every = re.findall(r'<tr><td title="([^"]+)">([^<]+)</td><td>([^<]*)</td></tr>', page)
    assert sorted(key for key, _, _ in every) == sorted(summary)  # every figure once, in words
    assert every[0][:2] == ("all.mean_response_min", "all calls, mean (min)")
    words = {key: (text, value) for key, text, value in every}
    assert words["queued_share"] == ("waited for a free unit", interval(summary["queued_share"], "share"))
    assert words["p1.within_8_min"][0] == "priority 1, within 8 min"
    # The command line prints the same rows in the same order (same seed, same figures).
    text = CliRunner().invoke(app, ["plan", "run", str(GOLDEN / "scenario.yaml"), "--replications", "2"])
    assert text.exit_code == 0, text.output
    lines = text.output.splitlines()
    first = lines.index("golden: 2 replication(s), seed 20261122") + 1  # after the transient progress bar
    table = [re.split(r" {2,}", line.strip()) for line in lines[first:]]
    assert table == [["figure", "mean (95% interval over replications)"], *([w, v] for _, w, v in every)]
    nowhere = tmp_path / "no" / "report.html"
    refused = CliRunner().invoke(app, ["plan", "run", str(GOLDEN / "scenario.yaml"), "--report", str(nowhere)])
    assert refused.exit_code == 2 and f"cannot write {nowhere}: No such file or directory" in refused.output
    for command in (["run", str(GOLDEN / "scenario.yaml")], ["compare", *[str(GOLDEN / "scenario.yaml")] * 2]):
        refused = CliRunner().invoke(app, ["plan", *command, "--workers", "0"])  # before: taken as 1
        assert refused.exit_code == 2 and "Invalid value for '--workers'" in refused.output, refused.output


def test_intervals_are_shown_within_what_the_figure_can_be() -> None:
    """A share's interval is cut at 0% and 100%, a time's at 0; one replication (an infinite half-width) shows the
    mean alone, a figure no replication had a dash."""
    from lifechain.planning.report import interval

    assert interval({"mean": 0.948, "low": 0.849, "high": 1.047}, "share") == "94.8% (84.9\u2013100.0)"
    assert interval({"mean": 1.2, "low": -0.4, "high": 2.8}, "minutes") == "1.2 (0.0\u20132.8)"
    assert interval({"mean": 2.214, "low": 0.81, "high": 3.612}, "survivors") == "2.21 (0.81\u20133.61)"
    assert interval({"mean": 5.0, "low": -math.inf, "high": math.inf, "n": 1.0}, "minutes") == "5.0"
    assert interval({"mean": math.nan, "half_width": math.nan, "n": 0.0}, "share") == "-"
    assert interval(None, "share") == "-"


def test_key_figures_put_priorities_areas_targets_and_arrest_variants_in_tables() -> None:
    """From the golden summary: one row per priority and area with a column per target, and the arrest figures
    side by side for EMS alone, with volunteers and with volunteers and AEDs; without volunteers the arrest table
    has the one column of the care simulated, and without arrests none."""
    from lifechain.planning.report import interval, key_figures

    summary = json.loads((GOLDEN / "summary.json").read_text())
    page = key_figures(summary, [8, 12])
    for row in ("<td>all calls</td>", "<td>priority 1</td>", "<td>priority 3</td>", "<td>area north</td>",
                "<th>within 8 min</th>", "<th>within 12 min</th>", "<th>EMS and bystanders</th>",
                "<th>+ volunteers and public AEDs</th>", "expected survivors, Valenzuela 1997"):
        assert row in page, row
    p1 = summary["p1.within_8_min"]
    assert f"{100 * p1['mean']:.1f}% ({100 * p1['low']:.1f}\u2013100.0)" in page  # its t-interval passes 100%
    assert page.index("all calls") < page.index("priority 1") < page.index("area north")
    # What the first responders did, after the arrests' table.
    alerts, arrived = summary["arrest.volunteer_alerts"], summary["arrest.volunteer_arrivals"]
    assert alerts["mean"] > arrived["mean"] > 0
    assert f"<tr><td>volunteer alerts sent</td><td>{interval(alerts, 'number')}</td></tr>" in page
    assert f"<tr><td>volunteers who reached the patient</td><td>{interval(arrived, 'number')}</td></tr>" in page
    assert page.index("expected survivors, Valenzuela 1997") < page.index("<h3>First responders")

    no_volunteers = {k: v for k, v in summary.items()
                     if not k.startswith(("arrest.ems.", "arrest.volunteer", "arrest.aeds_off_network"))}
    page = key_figures(no_volunteers, [8, 12])
    assert "<th>as simulated</th>" in page and "EMS and bystanders" not in page and "First responders" not in page
    survivors = summary["arrest.larsen_1993"]
    assert f"<td>{survivors['mean']:.2f} (" in page
    no_arrests = {**no_volunteers, "arrest.arrests": {"mean": 0.0, "half_width": 0.0, "low": 0.0, "high": 0.0}}
    assert "Cardiac arrests" not in key_figures(no_arrests, [8, 12])
