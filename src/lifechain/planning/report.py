"""The HTML reports of a simulation run and of a comparison (pure: they return strings).

A run's: the key figures in tables (response times per priority and area, the operation, cardiac arrests with and
without volunteers and AEDs), response-time curves per priority, a map of demand points coloured by response time,
every figure with its confidence interval, and the sources of the survival models. A comparison's: every figure's
paired change and whether it is larger than the noise, both scenarios' response-time curves, each one's key
figures."""

from __future__ import annotations

import base64
import html
import io
import math
import re
from typing import Any, NamedTuple

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
    return _response_axes(fig, ax, targets_min)


def _response_axes(fig: Any, ax: Any, targets_min: list[float], legend_size: float | None = None) -> str:
    """Finish a plot of response-time curves (targets as vertical lines, axes, legend) as an inline <img>."""
    for t in targets_min:
        ax.axvline(t, color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("call to first unit on scene (minutes)")
    ax.set_ylabel("share of calls reached")
    ax.set_xlim(left=0)
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=legend_size)
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


# The operation figures: summary key, words, kind.
OPERATION = (("calls", "calls", "number"), ("served", "reached by a unit", "number"),
             ("queued_share", "waited for a free unit", "share"),
             ("mean_utilisation", "mean unit utilisation", "share"),
             ("mean_call_to_notified_s", "mean call to unit notified (s)", "seconds"),
             ("redispatches", "units diverted", "number"),
             ("redispatched_share", "calls whose unit was diverted", "share"))
RESPONSE_STATS = (("mean", "mean"), ("p50", "median"), ("p90", "90th percentile"))
_RESPONSE_KEY = re.compile(r"^(all|p\d+|area:.+)\.(?:(mean|p50|p90)_response_min|within_(\d+(?:\.\d+)?)_min)$")
_ARREST_KEY = re.compile(r"^arrest\.(?:(ems|volunteers|volunteers_aed)\.)?(\w+)$")
_ARREST_HEAD = (("arrests", "cardiac arrests reached by EMS", "number"),
                ("median_collapse_to_ems_min", "median collapse to EMS on scene (min)", "minutes"))
# The first responders' counts, per replication, of the run with volunteers and public AEDs (the whole first
# response; `first_response` counts that variant).
_ARREST_COUNTS = (("volunteer_alerts", "volunteer alerts sent", "number"),
                  ("volunteer_acceptances", "volunteer alerts accepted", "number"),
                  ("volunteer_arrivals", "volunteers who reached the patient", "number"),
                  ("volunteer_busy_unanswered", "alerts left unanswered by volunteers busy elsewhere", "number"),
                  ("volunteer_arrests_off_network", "arrests off the walking network (no volunteer routed)",
                   "number"),
                  ("aeds_off_network", "AEDs off the walking network", "number"))
# Every arrest figure (after `arrest.` and its variant): key, words, kind, in the key-figure tables' order.
_ARREST_FIGURES = (*_ARREST_HEAD, *ARREST_ROWS, *_ARREST_COUNTS)


def groups_of(summary: dict[str, Any]) -> list[str]:
    """The groups a summary has response times for: all calls, then priorities, then areas."""
    found = [k.removesuffix(".mean_response_min") for k in summary if k.endswith(".mean_response_min")]
    return sorted(found, key=lambda g: (g != "all", g.startswith("area:"), g))


def group_label(group: str) -> str:
    """`all`, `p1`, `area:north` in words."""
    if group == "all":
        return "all calls"
    return f"area {group[5:]}" if group.startswith("area:") else f"priority {group[1:]}"


def key_figures(summary: dict[str, dict[str, float]], targets_min: list[float]) -> str:
    """The headline tables: response times for all calls, each priority and each area (with the share within each
    target), the operation (calls, queueing, utilisation), and for cardiac arrests the time to CPR and to a shock
    and the expected survivors, with and without volunteers and AEDs side by side, and what the first responders
    did (alerts sent and accepted, volunteers who reached the patient, ...)."""
    head = "".join(f"<th>within {t:g} min</th>" for t in targets_min)
    rows = "".join(
        f"<tr><td>{html.escape(group_label(g))}</td>"
        + "".join(f"<td>{interval(summary.get(f'{g}.{stat}_response_min'), 'minutes')}</td>"
                  for stat, _ in RESPONSE_STATS)
        + "".join(f"<td>{interval(summary.get(f'{g}.within_{t:g}_min'), 'share')}</td>" for t in targets_min)
        + "</tr>" for g in groups_of(summary))
    out = ("<h3>Call to first unit on scene (minutes; 95% interval over replications)</h3><table><tr><th></th>"
           + "".join(f"<th>{text}</th>" for _, text in RESPONSE_STATS) + f"{head}</tr>{rows}</table>")
    out += "<h3>Operation</h3><table>" + "".join(
        f"<tr><td>{text}</td><td>{interval(summary.get(key), kind)}</td></tr>" for key, text, kind in OPERATION
        if key in summary and key != "redispatches") + "</table>"
    arrests = summary.get("arrest.arrests", {}).get("mean", 0.0)
    if not arrests or math.isnan(arrests):
        return out
    shown = [(v, text) for v, text in VARIANTS if f"arrest.{v}.larsen_1993" in summary] or [("", "as simulated")]
    cells = "".join(
        f"<tr><td>{text}</td>"
        + "".join(f"<td>{interval(summary.get(f'arrest.{v}.{key}' if v else f'arrest.{key}'), kind)}</td>"
                  for v, _ in shown) + "</tr>" for key, text, kind in ARREST_ROWS)
    out += (f"<h3>Cardiac arrests ({interval(summary['arrest.arrests'], 'number')} reached by EMS; median "
            f"collapse to EMS on scene {interval(summary.get('arrest.median_collapse_to_ems_min'), 'minutes')}"
            " min)</h3><table><tr><th></th>" + "".join(f"<th>{text}</th>" for _, text in shown)
            + f"</tr>{cells}</table>")
    responders = "".join(f"<tr><td>{text}</td><td>{interval(summary[f'arrest.{key}'], kind)}</td></tr>"
                         for key, text, kind in _ARREST_COUNTS if f"arrest.{key}" in summary)
    if responders:
        out += ("<h3>First responders (per replication, in the run with volunteers and public AEDs)</h3>"
                f"<table>{responders}</table>")
    return out


def figure_of(key: str) -> tuple[str, str]:
    """A summary key in words, and its kind (one of KINDS): `p1.within_8_min` is ("priority 1, within 8 min",
    "share"); a key not known is itself, a number."""
    response = _RESPONSE_KEY.match(key)
    if response:
        group, stat, minutes = response.groups()
        words = f"{dict(RESPONSE_STATS)[stat]} (min)" if stat else f"within {minutes} min"
        return f"{group_label(group)}, {words}", "minutes" if stat else "share"
    for k, text, kind in OPERATION:
        if k == key:
            return text, kind
    arrest = _ARREST_KEY.match(key)
    if arrest:
        variant, figure = arrest.groups()
        for k, text, kind in _ARREST_FIGURES:
            if k == figure:
                return (f"{text}, {dict(VARIANTS)[variant]}" if variant else text), kind
    return key, "number"


def figure_rank(key: str, groups: list[str]) -> tuple[float, ...]:
    """Where a figure stands in the key-figure tables: response times (group by group: mean, median, 90th
    percentile, then the shares by target), the operation, the arrests (EMS alone, then with volunteers, with AEDs);
    keys not known last."""
    response = _RESPONSE_KEY.match(key)
    if response:
        group, stat, minutes = response.groups()
        at = [k for k, _ in RESPONSE_STATS].index(stat) if stat else 3 + float(minutes)
        return 0, groups.index(group) if group in groups else len(groups), at
    operation = [k for k, _, _ in OPERATION]
    if key in operation:
        return 1, operation.index(key)
    arrest = _ARREST_KEY.match(key)
    if arrest:
        variant, figure = arrest.groups()
        rows = [k for k, _, _ in _ARREST_FIGURES]
        return (2, 1 + [v for v, _ in VARIANTS].index(variant) if variant else 0,
                rows.index(figure) if figure in rows else len(rows))
    return (3,)


def change(ci: dict[str, Any] | None, kind: str) -> str:
    """A paired difference as `+mean (low to high)`: shares in percentage points, others in their unit."""
    if ci is None or ci.get("mean") is None or not math.isfinite(ci["mean"]):
        return "-"
    scale, digits, _ = KINDS[kind]
    unit = {"share": " pp", "minutes": " min", "seconds": " s"}.get(kind, "")

    def signed(x: float) -> str:
        return f"{round(x * scale, digits) + 0.0:+.{digits}f}"  # + 0.0: a change rounding to 0 is never "-0.0"

    text = f"{signed(ci['mean'])}{unit}"
    low, high = ci.get("low", math.nan), ci.get("high", math.nan)
    if not (math.isfinite(low) and math.isfinite(high)):
        return text
    return f"{text} ({signed(low)} to {signed(high)})"


class ComparedFigure(NamedTuple):
    """One figure of a comparison as shown: its summary key and words, base and variant, the paired change with its
    95% interval (`change`), and whether that change is larger than the noise."""

    key: str
    words: str
    base: str
    variant: str
    change: str
    significant: bool


def compared_figures(result: dict[str, Any]) -> list[ComparedFigure]:
    """Every figure of a comparison (`flows.compare_scenarios`), those larger than the noise first, each part in the
    key-figure tables' order."""
    diff, base, variant = result["difference"], result["base_summary"], result["variant_summary"]
    groups = groups_of(diff)
    keys = sorted(diff, key=lambda k: (not diff[k].get("significant"), figure_rank(k, groups), k))
    rows = []
    for k in keys:
        words, kind = figure_of(k)
        rows.append(ComparedFigure(k, words, interval(_mean_only(base.get(k)), kind),
                                   interval(_mean_only(variant.get(k)), kind), change(diff[k], kind),
                                   bool(diff[k].get("significant"))))
    return rows


def verdict(significant: bool) -> str:
    """A change's verdict in words."""
    return "larger than the noise" if significant else "within the noise"


def comparison_table(result: dict[str, Any]) -> str:
    """Every figure of a comparison (`compared_figures`) as an HTML table, those larger than the noise in bold."""
    rows = "".join(f'<tr{" class=significant" if f.significant else ""}><td title="{html.escape(f.key)}">'
                   f"{html.escape(f.words)}</td><td>{f.base}</td><td>{f.variant}</td><td>{f.change}</td>"
                   f"<td>{verdict(f.significant)}</td></tr>" for f in compared_figures(result))
    return (f"<table><tr><th>figure</th><th>{html.escape(result['base'])}</th>"
            f"<th>{html.escape(result['variant'])}</th><th>change (95% interval)</th><th></th></tr>{rows}</table>")


def all_figures(summary: dict[str, dict[str, float]]) -> list[tuple[str, str, str]]:
    """Every figure of a run's summary in the key-figure tables' order: its key, its words, and its mean with the 95%
    interval over replications (`interval`)."""
    groups = groups_of(summary)
    rows = []
    for k in sorted(summary, key=lambda k: (figure_rank(k, groups), k)):
        words, kind = figure_of(k)
        rows.append((k, words, interval(summary[k], kind)))
    return rows


def _mean_only(ci: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if ci is None else {"mean": ci.get("mean")}


def compared_curves(base: RunResult, variant: RunResult, names: tuple[str, str], targets_min: list[float]) -> str:
    """Share of calls reached within t minutes in both scenarios (the same calls), for all calls and priority 1."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4))
    ax = fig.add_subplot()
    for run, name, style in ((base, names[0], "-"), (variant, names[1], "--")):
        rt = response_times_s(run) / 60
        for label, mask, color in (("all calls", np.ones(rt.shape, bool), "tab:blue"),
                                   ("priority 1", run.priority == 1, "tab:red")):
            r = np.sort(rt[mask & np.isfinite(rt)])
            if r.size:
                ax.step(r, np.arange(1, r.size + 1) / r.size, where="post", linestyle=style, color=color,
                        label=f"{name}: {label}")
    return _response_axes(fig, ax, targets_min, legend_size=8)


def render_comparison(result: dict[str, Any], base: tuple[RunResult, Scenario],
                      variant: tuple[RunResult, Scenario]) -> str:
    """The report of a comparison as one self-contained HTML page, from each scenario's replication 1 and the
    scenario as run: every figure's paired change with its interval and verdict, both scenarios' response-time curves
    on the same calls, each scenario's key figures."""
    (run_a, a), (run_b, b) = base, variant
    names = (result["base"], result["variant"])
    replaced = ("" if result.get("seed_replaced") is None else
                f" The variant's own seed {result['seed_replaced']} was replaced by the base's, so that both see "
                "the same calls.")
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Lifechain comparison: {html.escape(names[1])} against {html.escape(names[0])}</title>
<style>{_STYLE}tr.significant td{{font-weight:bold}}th:first-child{{text-align:left}}</style></head><body>
<h1>Comparison: {html.escape(names[1])} against {html.escape(names[0])}</h1>
<p>{html.escape(names[0])}: {html.escape(a.description)}<br>{html.escape(names[1])}: {html.escape(b.description)}</p>
<p>{result['replications']} paired replications, seed {result['seed']}: replication k of both scenarios draws the
same calls (common random numbers), so each change is the mean of the paired differences, with its 95% interval; a
change is larger than the noise when its interval leaves out 0.{replaced} Shares are in %, their changes in
percentage points (pp).</p>
<h2>Changes</h2>{comparison_table(result)}
<h2>Response-time curves (replication 1 of each, the same calls)</h2>
{compared_curves(run_a, run_b, names, a.targets_min)}
<h2>Key figures: {html.escape(names[0])}</h2>{key_figures(result['base_summary'], a.targets_min)}
<h2>Key figures: {html.escape(names[1])}</h2>{key_figures(result['variant_summary'], b.targets_min)}
<h2>Survival models</h2><ul>{_models(a)}</ul></body></html>
"""


def _rows(summary: dict[str, dict[str, float]]) -> str:
    return "".join(f'<tr><td title="{html.escape(k)}">{html.escape(words)}</td><td>{value}</td></tr>'
                   for k, words, value in all_figures(summary))


_STYLE = ("body{font-family:sans-serif;max-width:60em;margin:2em auto}table{border-collapse:collapse}"
          "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}td:first-child{text-align:left}")


def _models(scenario: Scenario) -> str:
    """The survival models with the scenario's coefficients and their sources, as list items."""
    a = scenario.arrest
    return (f"<li>Larsen 1993: survival = {a.larsen[0]:g} - {a.larsen[1]:g}/min to CPR - {a.larsen[2]:g}/min to "
            f"shock - {a.larsen[3]:g}/min to EMS. {html.escape(SOURCES['larsen_1993'])}</li>"
            f"<li>De Maio 2003: 1 / (1 + exp({a.de_maio[0]:g} + {a.de_maio[1]:g} t)), t = call to EMS on scene "
            f"(min). {html.escape(SOURCES['de_maio_2003'])}</li>"
            f"<li>Valenzuela 1997: 1 / (1 + exp(-{a.valenzuela[0]:g} + {a.valenzuela[1]:g} t_CPR + "
            f"{a.valenzuela[2]:g} t_shock)), minutes from collapse. {html.escape(SOURCES['valenzuela_1997'])}</li>")


def render(result: dict[str, Any], scenario: Scenario, run: RunResult, cells: np.ndarray) -> str:
    """The whole report as one self-contained HTML page."""
    models = _models(scenario)
    travel = result.get("travel", {})
    simplified = "".join(f"<li>{html.escape(text)}</li>" for text in result.get("simplifications", []))
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Lifechain planning report: {html.escape(scenario.name)}</title>
<style>{_STYLE}</style></head><body>
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
<h2>All figures (mean and 95% interval over replications)</h2>
<table><tr><th>figure</th><th>mean (95% interval)</th></tr>{_rows(result['summary'])}</table>
<h2>Model simplifications that remain</h2><ul>{simplified}</ul>
<h2>Survival models</h2><p>Expected survivors of the simulated cardiac arrests; <code>ems</code> = EMS and bystanders,
<code>volunteers</code> = with volunteers, <code>volunteers_aed</code> = with volunteers and public AEDs.</p>
<ul>{models}</ul></body></html>
"""
