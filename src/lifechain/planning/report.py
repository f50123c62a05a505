"""The HTML report of a simulation run: the key figures in tables (response times per priority and area, the
operation, cardiac arrests with and without volunteers and AEDs), response-time curves per priority, a map of demand
points coloured by response time, every figure with its confidence interval, and the sources of the survival models
(pure: returns a string)."""

from __future__ import annotations

import base64
import html
import io
import math
from typing import Any

import numpy as np

from lifechain.planning.results import response_times_s
from lifechain.planning.simulate import RunResult, Scenario

SOURCES = {
    "larsen_1993": "Larsen MP, Eisenberg MS, Cummins RO, Hallstrom AP. Predicting survival from out-of-hospital "
                   "cardiac arrest: a graphic model. Ann Emerg Med 1993;22(11):1652-1658.",
    "de_maio_2003": "De Maio VJ, Stiell IG, Wells GA, Spaite DW. Optimal defibrillation response intervals for "
                    "maximum out-of-hospital cardiac arrest survival rates. Ann Emerg Med 2003;42(2):242-250.",
    "valenzuela_1997": "Valenzuela TD, Roe DJ, Cretin S, Spaite DW, Larsen MP. Estimating effectiveness of cardiac "
                       "arrest interventions: a logistic regression survival model. Circulation 1997;96(10):"
                       "3308-3313.",
}


def _png(fig: Any) -> str:
    """A matplotlib figure as an inline <img>."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return f'<img alt="figure" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def response_curves(run: RunResult, targets_min: list[float]) -> str:
    """Share of calls reached within t minutes, one curve per priority, targets as vertical lines."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4))
    ax = fig.add_subplot()
    rt = response_times_s(run) / 60
    for p in sorted(set(run.priority.tolist())):
        r = np.sort(rt[(run.priority == p) & np.isfinite(rt)])
        if r.size:
            ax.step(r, np.arange(1, r.size + 1) / r.size, where="post", label=f"priority {p} ({r.size} calls)")
    for t in targets_min:
        ax.axvline(t, color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("call to first unit on scene (minutes)")
    ax.set_ylabel("share of calls reached")
    ax.set_xlim(left=0)
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    return _png(fig)


def coverage_map(run: RunResult, scenario: Scenario, cells: np.ndarray) -> str:
    """Demand points coloured by the mean response time of their calls; stations and hospitals marked."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 6))
    ax = fig.add_subplot()
    rt = response_times_s(run) / 60
    n = len(scenario.demand)
    ok = np.isfinite(rt)
    total = np.bincount(cells[ok], weights=rt[ok], minlength=n)
    count = np.bincount(cells[ok], minlength=n)
    lat = np.array([p.lat for p in scenario.demand])
    lon = np.array([p.lon for p in scenario.demand])
    seen = count > 0
    ax.scatter(lon[~seen], lat[~seen], s=4, c="#cccccc", label="no call")
    sc = ax.scatter(lon[seen], lat[seen], s=8, c=total[seen] / count[seen], cmap="RdYlGn_r",
                    vmin=0, vmax=max([*scenario.targets_min, 1.0]) * 1.5)
    fig.colorbar(sc, ax=ax, label="mean response (minutes)")
    ax.scatter([s.lon for s in scenario.stations], [s.lat for s in scenario.stations], marker="^", c="black", s=60,
               label="station")
    if scenario.hospitals:
        ax.scatter([h.lon for h in scenario.hospitals], [h.lat for h in scenario.hospitals], marker="P", c="blue",
                   s=70, label="hospital")
    ax.set_aspect(1 / math.cos(math.radians(float(np.mean(lat)))))
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.legend(loc="upper right", fontsize=8)
    return _png(fig)


VARIANTS = (("ems", "EMS and bystanders"), ("volunteers", "+ volunteers"),
            ("volunteers_aed", "+ volunteers and public AEDs"))
ARREST_ROWS = (("median_collapse_to_cpr_min", "median collapse to first CPR (min)", "minutes"),
               ("median_collapse_to_shock_min", "median collapse to first shock (min)", "minutes"),
               ("larsen_1993", "expected survivors, Larsen 1993", "survivors"),
               ("de_maio_2003", "expected survivors, De Maio 2003", "survivors"),
               ("valenzuela_1997", "expected survivors, Valenzuela 1997", "survivors"))
# Per kind of figure: the factor it is shown with, its decimals and the most it can be.
KINDS = {"share": (100.0, 1, 100.0), "minutes": (1.0, 1, math.inf), "seconds": (1.0, 0, math.inf),
         "number": (1.0, 1, math.inf), "survivors": (1.0, 2, math.inf)}


def interval(ci: dict[str, float] | None, kind: str) -> str:
    """A figure as `mean (low-high)` (`kind`: one of KINDS): shares in per cent and their interval kept within
    0-100%, every other interval never below 0 (the Student-t interval of a few replications can reach past what
    the figure can be). One replication has no interval; a figure no replication had is "-"."""
    if ci is None or ci.get("mean") is None or math.isnan(ci["mean"]):
        return "-"
    scale, digits, top = KINDS[kind]
    mean = ci["mean"] * scale
    text = f"{mean:.{digits}f}{'%' if kind == 'share' else ''}"
    low, high = ci.get("low", math.nan) * scale, ci.get("high", math.nan) * scale
    if not (math.isfinite(low) and math.isfinite(high)):
        return text
    return f"{text} ({max(0.0, low):.{digits}f}\u2013{min(top, high):.{digits}f})"


def key_figures(summary: dict[str, dict[str, float]], targets_min: list[float]) -> str:
    """The headline tables: response times for all calls, each priority and each area (with the share within each
    target), the operation (calls, queueing, utilisation), and for cardiac arrests the time to CPR and to a shock
    and the expected survivors, with and without volunteers and AEDs side by side."""
    groups = [k.removesuffix(".mean_response_min") for k in summary if k.endswith(".mean_response_min")]
    groups.sort(key=lambda g: (g != "all", g.startswith("area:"), g))

    def label(group: str) -> str:
        if group == "all":
            return "all calls"
        return f"area {group[5:]}" if group.startswith("area:") else f"priority {group[1:]}"

    head = "".join(f"<th>within {t:g} min</th>" for t in targets_min)
    rows = "".join(
        f"<tr><td>{html.escape(label(g))}</td><td>{interval(summary.get(f'{g}.mean_response_min'), 'minutes')}</td>"
        f"<td>{interval(summary.get(f'{g}.p50_response_min'), 'minutes')}</td>"
        f"<td>{interval(summary.get(f'{g}.p90_response_min'), 'minutes')}</td>"
        + "".join(f"<td>{interval(summary.get(f'{g}.within_{t:g}_min'), 'share')}</td>" for t in targets_min)
        + "</tr>" for g in groups)
    out = ("<h3>Call to first unit on scene (minutes; 95% interval over replications)</h3><table><tr><th></th>"
           f"<th>mean</th><th>median</th><th>90th percentile</th>{head}</tr>{rows}</table>")
    ops = (("calls", "calls", "number"), ("served", "reached by a unit", "number"),
           ("queued_share", "waited for a free unit", "share"), ("mean_utilisation", "mean unit utilisation", "share"),
           ("mean_call_to_notified_s", "mean call to unit notified (s)", "seconds"),
           ("redispatched_share", "calls whose unit was diverted", "share"))
    out += "<h3>Operation</h3><table>" + "".join(
        f"<tr><td>{text}</td><td>{interval(summary.get(key), kind)}</td></tr>" for key, text, kind in ops
        if key in summary) + "</table>"
    arrests = summary.get("arrest.arrests", {}).get("mean", 0.0)
    if not arrests or math.isnan(arrests):
        return out
    shown = [(v, text) for v, text in VARIANTS if f"arrest.{v}.larsen_1993" in summary] or [("", "as simulated")]
    cells = "".join(
        f"<tr><td>{text}</td>"
        + "".join(f"<td>{interval(summary.get(f'arrest.{v}.{key}' if v else f'arrest.{key}'), kind)}</td>"
                  for v, _ in shown) + "</tr>" for key, text, kind in ARREST_ROWS)
    return out + (f"<h3>Cardiac arrests ({interval(summary['arrest.arrests'], 'number')} reached by EMS; median "
                  f"collapse to EMS on scene {interval(summary.get('arrest.median_collapse_to_ems_min'), 'minutes')}"
                  " min)</h3><table><tr><th></th>" + "".join(f"<th>{text}</th>" for _, text in shown)
                  + f"</tr>{cells}</table>")


def _rows(summary: dict[str, dict[str, float]]) -> str:
    def fmt(x: float) -> str:
        return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.4g}"

    return "".join(f"<tr><td>{html.escape(k)}</td><td>{fmt(v['mean'])}</td><td>{fmt(v.get('half_width', math.nan))}"
                   f"</td></tr>" for k, v in summary.items())


def render(result: dict[str, Any], scenario: Scenario, run: RunResult, cells: np.ndarray) -> str:
    """The whole report as one self-contained HTML page."""
    a = scenario.arrest
    models = (f"<li>Larsen 1993: survival = {a.larsen[0]:g} - {a.larsen[1]:g}/min to CPR - {a.larsen[2]:g}/min to "
              f"shock - {a.larsen[3]:g}/min to EMS. {html.escape(SOURCES['larsen_1993'])}</li>"
              f"<li>De Maio 2003: 1 / (1 + exp({a.de_maio[0]:g} + {a.de_maio[1]:g} t)), t = call to EMS on scene "
              f"(min). {html.escape(SOURCES['de_maio_2003'])}</li>"
              f"<li>Valenzuela 1997: 1 / (1 + exp(-{a.valenzuela[0]:g} + {a.valenzuela[1]:g} t_CPR + "
              f"{a.valenzuela[2]:g} t_shock)), minutes from collapse. {html.escape(SOURCES['valenzuela_1997'])}</li>")
    travel = result.get("travel", {})
    simplified = "".join(f"<li>{html.escape(text)}</li>" for text in result.get("simplifications", []))
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Lifechain planning report: {html.escape(scenario.name)}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:2px 8px;text-align:right}}td:first-child{{text-align:left}}</style></head><body>
<h1>Planning report: {html.escape(scenario.name)}</h1>
<p>{html.escape(scenario.description)}</p>
<p>{result['replications']} replication(s), seed {result['seed']}, {scenario.days:g} days from
{scenario.start.isoformat()}; {len(scenario.stations)} stations, {len(scenario.units)} units,
{len(scenario.hospitals)} hospitals, {len(scenario.demand)} demand points; travel: {html.escape(str(travel))}.
Dispatch decisions by the live <code>lifechain.dispatch.core</code>; volunteer alerts by the live
<code>lifechain.volunteers.core</code>.</p>
<h2>Key figures</h2>{key_figures(result['summary'], scenario.targets_min)}
<h2>Response-time curves per priority (replication 1)</h2>{response_curves(run, scenario.targets_min)}
<h2>Coverage map (replication 1)</h2>{coverage_map(run, scenario, cells)}
<h2>All figures (mean and 95% confidence half-width over replications)</h2>
<table><tr><th>figure</th><th>mean</th><th>+/-</th></tr>{_rows(result['summary'])}</table>
<h2>Model simplifications that remain</h2><ul>{simplified}</ul>
<h2>Survival models</h2><p>Expected survivors of the simulated cardiac arrests; <code>ems</code> = EMS and bystanders,
<code>volunteers</code> = with volunteers, <code>volunteers_aed</code> = with volunteers and public AEDs.</p>
<ul>{models}</ul></body></html>
"""
