"""Commands of the planning domain: `lifechain plan optimize ...` (and `plan run` for simulations)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lifechain.cli import fail
from lifechain.errors import DomainError

if TYPE_CHECKING:
    from lifechain.geo.repo import CityStore

plan_app = typer.Typer(help="Planning: location models and city simulations.", no_args_is_help=True)


# The models each model option applies to: given to another model, an option is refused rather than ignored.
_MODEL_OPTIONS = {"p": ("mclp", "pmedian", "pcenter", "aed"), "radius": ("mclp", "lscp", "mexclp", "aed"),
                  "units": ("mexclp",), "busy-fraction": ("mexclp",), "capacity": ("mexclp",), "fixed": ("mclp", "aed")}
# The input options that apply only with --costs, and only with --city.
_SOURCE_OPTIONS = {"--costs": ("demand-col", "site-col", "cost-col"),
                   "--city": ("sites", "mode", "profile", "site-id-col")}


def _refuse_unused(model: str, source: str, given: dict[str, bool]) -> None:
    """Refuse an option the model or the input (`--costs` or `--city`) does not use: it was quietly ignored, so a
    `--fixed` site given to pmedian, say, was not kept open and nothing said so."""
    for option, models in _MODEL_OPTIONS.items():
        if given.get(option) and model not in models:
            raise typer.BadParameter(f"--{option} does not apply to {model} (only to {', '.join(models)})")
    for other, options in _SOURCE_OPTIONS.items():
        wrong = [f"--{o}" for o in options if given.get(o)] if other != source else []
        if wrong:
            raise typer.BadParameter(f"{', '.join(wrong)} {'applies' if len(wrong) == 1 else 'apply'} only with "
                                     f"{other}, not with {source}")


def _check_workers(workers: int, ray: str | None) -> None:
    """Refuse --workers above 1 with --ray: the cluster spreads the replications, so the processes would not be
    used."""
    if ray is not None and workers > 1:
        raise typer.BadParameter("--workers is for local processes: with --ray the cluster runs the replications")


def _params(model: str, p: int | None, radius: float | None, units: int | None, busy_fraction: float | None,
            capacity: list[str], fixed: list[str]) -> dict[str, Any]:
    """The keyword arguments a model needs, checking the ones that are required."""
    need = {"mclp": ("p", "radius"), "lscp": ("radius",), "pmedian": ("p",), "pcenter": ("p",),
            "mexclp": ("units", "radius"), "aed": ("p", "radius")}[model]
    given = {"p": p, "radius": radius, "units": units}
    missing = [n for n in need if given[n] is None]
    if missing:
        raise typer.BadParameter(f"{model} needs --{' and --'.join(missing)}")
    params: dict[str, Any] = {n: given[n] for n in need}
    if model == "mexclp":
        caps: dict[str, int] = {}
        for item in capacity:
            site, _, value = item.partition("=")
            if not value.isdigit():
                raise typer.BadParameter(f"--capacity expects SITE=N, got {item!r}")
            if site in caps:
                raise typer.BadParameter(f"--capacity names site {site!r} twice ({site}={caps[site]}, {item})")
            caps[site] = int(value)
        params.update(busy_fraction=0.3 if busy_fraction is None else busy_fraction, capacities=caps)
    if model in ("mclp", "aed") and fixed:
        params["fixed"] = fixed
    return params


def _print(solution: Any, time_limit: float | None = None) -> None:
    """Human-readable summary of a solution; one not proven optimal says how far from the optimum it can be, when
    the solver gave a bound (an upper bound for mclp, aed and mexclp, a lower bound for pmedian)."""
    status = "optimal" if solution.optimal else "NOT proven optimal" + (
        f" within the {time_limit:g} s time limit" if time_limit is not None else "")
    typer.echo(f"{solution.model}: {status}, objective {solution.objective:.6g}")
    if not solution.optimal:
        typer.echo(f"  {_how_far(solution.objective, solution.params)}")
    typer.echo(f"  open sites ({len(solution.sites)}): {', '.join(solution.sites)}")
    if solution.units:
        typer.echo("  units: " + ", ".join(f"{s}={n}" for s, n in solution.units.items()))
    typer.echo(f"  covered {solution.covered_points}/{solution.total_points} points "
               f"({solution.covered_share:.3%}; weighted {solution.covered_weight_share:.3%}); "
               f"uncovered {solution.uncovered_points}")
    mean = f"{solution.mean_cost:.3f}" if math.isfinite(solution.mean_cost) else \
        "none (no reached point has a weight)"
    most = f"{solution.max_cost:.3f}" if math.isfinite(solution.max_cost) else "infinite (some points unreached)"
    typer.echo(f"  weighted mean cost {mean}; max cost {most}")


def _how_far(objective: float, params: dict[str, Any]) -> str:
    """How far an unproven answer can be from the optimum, from the bound in `params` (`upper_bound` when
    maximising, `lower_bound` when minimising), as a share of the smaller of answer and bound: never less than the
    true distance as a share of the optimum."""
    upper, lower = params.get("upper_bound"), params.get("lower_bound")
    if upper is not None and objective > 0:
        return f"at most {(upper - objective) / objective:.3%} below the optimum (upper bound {upper:.6g})"
    if lower is not None and lower > 0:
        return f"at most {(objective - lower) / lower:.3%} above the optimum (lower bound {lower:.6g})"
    return "how far from the optimum is unknown: the solver stopped before it had a useful bound"


def _count(n: int, one: str, many: str) -> str:
    """`n` and the words that go with it: "1 demand point", "2 demand points"."""
    return f"{n} {one if n == 1 else many}"


def _aligned(rows: list[tuple[str, ...]], right: frozenset[int] = frozenset()) -> list[str]:
    """Rows of text (the first a header) as lines indented by two spaces, each column padded to its widest cell,
    right-aligned for the columns in `right`; trailing blanks cut."""
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    return ["  " + "  ".join(cell.rjust(w) if c in right else cell.ljust(w)
                             for c, (cell, w) in enumerate(zip(row, widths, strict=True))).rstrip() for row in rows]


def _cities(ctx: typer.Context) -> CityStore:
    """The imported cities of the command's settings, routed with their routing settings (snap distance, off-road
    speed, engine) as the server of the same environment routes live dispatch."""
    from lifechain.cli import offline_settings
    from lifechain.geo.repo import CityStore

    return CityStore.from_settings(offline_settings(ctx))


def register(app: typer.Typer) -> None:
    """Add this domain's commands to the `lifechain` command."""

    @plan_app.command("optimize")
    def optimize_cmd(
        ctx: typer.Context,
        model: Annotated[str, typer.Argument(help="mclp, lscp, pmedian, pcenter, mexclp or aed")],
        costs: Annotated[Path | None, typer.Option(help="Long cost table CSV: demand id, site id, cost.")] = None,
        city: Annotated[str | None, typer.Option(
            help="Instead of --costs: travel seconds on this imported city's network, from --sites to --demand "
                 "(both CSVs with lat and lon columns).")] = None,
        demand: Annotated[Path | None, typer.Option(
            help="Demand CSV: an id and a weight column (with --city: lat, lon, optional id and weight).")] = None,
        sites: Annotated[Path | None, typer.Option(
            help="Candidate sites CSV with lat, lon and an optional id column (with --city).")] = None,
        mode: Annotated[str | None, typer.Option(
            help="Network for --city: drive or walk (default: walk for aed, else drive).")] = None,
        profile: Annotated[str | None, typer.Option(
            help="Driving profile for --city: emergency (the default) or regular.")] = None,
        p: Annotated[int | None, typer.Option("--p", help="Sites to open (mclp, pmedian, pcenter); AEDs to add "
                                                         "(aed).")] = None,
        radius: Annotated[float | None, typer.Option(
            help="Service radius in the cost's unit (seconds with --city); the walking time for aed.")] = None,
        units: Annotated[int | None, typer.Option(help="Ambulances to place (mexclp).")] = None,
        busy_fraction: Annotated[float | None, typer.Option(
            help="Probability a unit is busy (mexclp; default 0.3).")] = None,
        capacity: Annotated[list[str], typer.Option(help="SITE=N station capacity (mexclp), repeatable.")] = [],  # noqa: B006
        fixed: Annotated[list[str], typer.Option(
            help="Site that must stay open, repeatable (mclp: counted in --p; aed: an AED already there).")] = [],  # noqa: B006
        demand_col: Annotated[str | None, typer.Option(help="Demand id column of the cost table.")] = None,
        site_col: Annotated[str | None, typer.Option(help="Site id column of the cost table.")] = None,
        cost_col: Annotated[str | None, typer.Option(help="Cost column of the cost table.")] = None,
        demand_id_col: Annotated[str | None, typer.Option(help="Id column of the demand file.")] = None,
        weight_col: Annotated[str | None, typer.Option(help="Weight column of the demand file.")] = None,
        site_id_col: Annotated[str | None, typer.Option(help="Id column of the sites file (with --city).")] = None,
        time_limit: Annotated[float | None, typer.Option(
            "--time-limit", min=0.0, help="Seconds the exact solve may take; then the best answer found, flagged "
                                          "as not proven optimal (mclp, aed, pmedian, mexclp).")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the solution as JSON.")] = False,
    ) -> None:
        """Solve a location model exactly (HiGHS) on a cost table or on a city's road or walking network."""
        from lifechain.planning import core, flows

        if model not in core.MODELS:
            raise typer.BadParameter(f"unknown model {model!r}: expected one of {', '.join(core.MODELS)}")
        if (costs is None) == (city is None):
            raise typer.BadParameter("give either --costs (a cost table) or --city (travel times on a city)")
        if city is not None and (demand is None or sites is None):
            raise typer.BadParameter("--city needs --demand and --sites (CSV files with lat and lon columns)")
        _refuse_unused(model, "--city" if city is not None else "--costs", {
            "p": p is not None, "radius": radius is not None, "units": units is not None,
            "busy-fraction": busy_fraction is not None, "capacity": bool(capacity), "fixed": bool(fixed),
            "demand-col": demand_col is not None, "site-col": site_col is not None, "cost-col": cost_col is not None,
            "sites": sites is not None, "mode": mode is not None, "profile": profile is not None,
            "site-id-col": site_id_col is not None})
        params = _params(model, p, radius, units, busy_fraction, capacity, fixed)
        if time_limit is not None:
            if model not in flows.TIME_LIMITED:
                raise typer.BadParameter(f"--time-limit applies to {', '.join(flows.TIME_LIMITED)}; {model} solves "
                                         "set-covering problems to the end")
            params["time_limit_s"] = time_limit
        try:
            if city is not None and demand is not None and sites is not None:
                problem = flows.problem_on_city(
                    _cities(ctx), city, demand, sites,
                    mode=mode or ("walk" if model == "aed" else "drive"), profile=profile or "emergency",
                    demand_id_col=demand_id_col, weight_col=weight_col, site_id_col=site_id_col)
            elif costs is not None:
                problem = flows.read_problem(costs, demand=demand, demand_col=demand_col, site_col=site_col,
                                             cost_col=cost_col, demand_id_col=demand_id_col, weight_col=weight_col)
            off = flows.unreachable(problem)
            solution = flows.optimize(model, problem, **params)
        except DomainError as exc:
            raise fail(exc) from exc
        if as_json:
            typer.echo(json.dumps({**solution.as_dict(), "unreachable": off}, indent=2))
            return
        _print(solution, time_limit)
        if any(off.values()):
            why = "not on the network or cut off" if city is not None else "no finite cost in the table"
            typer.echo(f"  {why}: {_count(off['demand_points'], 'demand point', 'demand points')} no site reaches, "
                       f"{_count(off['sites'], 'site that reaches', 'sites that reach')} no point")

    @plan_app.command("run")
    def run_cmd(
        ctx: typer.Context,
        scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
        replications: Annotated[int, typer.Option(help="Independent replications.")] = 1,
        workers: Annotated[int, typer.Option(min=1, help="Parallel processes.")] = 1,
        ray: Annotated[str | None, typer.Option("--ray", help="Run on the Ray cluster at ADDRESS.")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
        report: Annotated[Path | None, typer.Option(help="Write an HTML report with plots to this file.")] = None,
        calls: Annotated[Path | None, typer.Option(
            help="Write every call of replication 1 with its time nodes to this CSV file.")] = None,
    ) -> None:
        """Simulate a scenario on the live dispatch rules and print response times, queueing and survival."""
        from rich.progress import Progress

        from lifechain.planning import flows

        _check_workers(workers, ray)
        try:
            sc = flows.load_scenario(scenario)
            for out in (report, calls):
                if out is not None:
                    flows.check_writable(out)
            cities = _cities(ctx) if sc.travel.kind == "city" else None
            with Progress(disable=as_json, transient=True) as bar:
                task = bar.add_task(f"{sc.name}: replications", total=replications)
                result = flows.run_scenario(sc, replications=replications, workers=workers, cities=cities,
                                            ray_address=ray, progress=lambda n: bar.advance(task, n),
                                            keep_first=report is not None or calls is not None)
            if report is not None:
                flows.write_report(result, report)
            written = flows.write_calls(result, calls) if calls is not None else 0
        except DomainError as exc:
            raise fail(exc) from exc
        result.pop("first_run", None)
        result.pop("prepared", None)
        if as_json:
            typer.echo(json.dumps(result, indent=2, default=str))
            return
        typer.echo(f"{result['scenario']}: {replications} replication(s), seed {result['seed']}")
        if report is not None:
            typer.echo(f"  report written to {report}")
        if calls is not None:
            typer.echo(f"  {written} calls of replication 1 written to {calls}")
        from lifechain.planning.report import all_figures

        for line in _aligned([("figure", "mean (95% interval over replications)"),
                              *((words, value) for _, words, value in all_figures(result["summary"]))]):
            typer.echo(line)

    @plan_app.command("compare")
    def compare(
        ctx: typer.Context,
        base: Annotated[Path, typer.Argument(help="Scenario YAML file of the system as it is.")],
        variant: Annotated[Path, typer.Argument(help="Scenario YAML file with the change (e.g. +1 ambulance).")],
        replications: Annotated[int, typer.Option(help="Paired replications (at least 2).")] = 10,
        workers: Annotated[int, typer.Option(min=1, help="Parallel processes.")] = 1,
        ray: Annotated[str | None, typer.Option("--ray", help="Run on the Ray cluster at ADDRESS.")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON.")] = False,
        report: Annotated[Path | None, typer.Option(help="Write an HTML report with plots to this file.")] = None,
    ) -> None:
        """Compare two scenarios on the same calls: each figure's change with its 95% interval, and whether it is
        larger than the noise."""
        from rich.progress import Progress

        from lifechain.planning import flows

        _check_workers(workers, ray)
        try:
            a, b = flows.load_scenario(base), flows.load_scenario(variant)
            if report is not None:
                flows.check_writable(report)
            cities = _cities(ctx) if "city" in (a.travel.kind, b.travel.kind) else None
            with Progress(disable=as_json, transient=True) as bar:
                task = bar.add_task(f"{a.name} vs {b.name}: replications", total=2 * replications)
                result = flows.compare_scenarios(a, b, replications=replications, workers=workers,
                                                 cities=cities, ray_address=ray,
                                                 progress=lambda n: bar.advance(task, n),
                                                 keep_first=report is not None)
            if report is not None:
                flows.write_report(result, report)
        except DomainError as exc:
            raise fail(exc) from exc
        result.pop("first_runs", None)
        if as_json:
            typer.echo(json.dumps(result, indent=2, default=str))
            return
        typer.echo(f"{result['variant']} against {result['base']}: {replications} paired replications on the same "
                   f"calls (seed {result['seed']})")
        if result["seed_replaced"] is not None:
            typer.echo(f"  {variant} was run on the base's seed {result['seed']}, not its own "
                       f"{result['seed_replaced']}, so that both see the same calls")
        from lifechain.planning.report import compared_figures, verdict

        for line in _aligned([("figure", "base", "variant", "change (95% interval)", ""),
                              *((f.words, f.base, f.variant, f.change, verdict(f.significant))
                                for f in compared_figures(result))], right=frozenset({1, 2})):
            typer.echo(line)
        if report is not None:
            typer.echo(f"  report written to {report}")

    @plan_app.command("import-jemss")
    def import_jemss_cmd(
        ctx: typer.Context,
        model: Annotated[Path, typer.Argument(help="JEMSS model folder, e.g. .../jemss/auckland/models/1.")],
        out: Annotated[Path, typer.Option(help="Scenario YAML file to write.")],
        city: Annotated[str | None, typer.Option(help="Imported geo city for travel (lifechain city import).")] = None,
        days: Annotated[float, typer.Option(help="Simulated days.")] = 365.0,
        block: Annotated[int, typer.Option(help="Population raster cells summed per demand point (block x block).")]
        = 10,
        seed: Annotated[int, typer.Option(help="Scenario seed.")] = 0,
    ) -> None:
        """Write a scenario from a JEMSS city model: stations, ambulances, hospitals, gen_config calls, raster."""
        import yaml

        from lifechain.errors import Invalid, validated
        from lifechain.planning import core, flows

        if block < 1:
            raise typer.BadParameter("--block must be at least 1")
        cities = _cities(ctx)
        note = None
        try:
            flows.check_writable(out)
            data = flows.import_jemss(model, city=city, days=days, block=block, seed=seed)
            scenario = validated(core.Scenario, data, where=f"{model} does not make a valid scenario")
            try:
                flows.check_city(scenario, "scenario", cities)
            except DomainError as exc:  # the file is good: the city may be imported before the run
                note = f"note: {exc.message}; import it before `lifechain plan run`"
            else:  # a city imported here must be the model's: the run would refuse its stations
                try:
                    flows.on_network(scenario, flows.source_router(scenario, cities=cities))
                except Invalid as exc:
                    raise Invalid(f"{exc.message}: is {city!r} the city of {model}?") from exc
            flows.write_text(out, yaml.safe_dump(data, sort_keys=False, width=120))
        except DomainError as exc:
            raise fail(exc) from exc
        counts = (_count(len(data[key]), one, one + "s") for key, one in (
            ("stations", "station"), ("units", "ambulance"), ("hospitals", "hospital"), ("demand", "demand point")))
        typer.echo(f"wrote {out}: {', '.join(counts)}; {data['description']}")
        if note:
            typer.echo(note, err=True)

    app.add_typer(plan_app, name="plan")
