"""Commands of the geo domain: `lifechain city import|list` and `lifechain route`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from lifechain.cli import fail
from lifechain.errors import DomainError, Unavailable
from lifechain.geo.core import check_mode, check_profile, parse_latlon
from lifechain.settings import Settings

if TYPE_CHECKING:
    from lifechain.geo.repo import CityStore


def _settings(ctx: typer.Context) -> Settings:
    from lifechain.cli import offline_settings

    return offline_settings(ctx)


def _store(settings: Settings) -> CityStore:
    # Imported here: every `lifechain` command registers this module, and the import stack (pandas, scipy,
    # shapely) is only needed by the geo commands themselves.
    from lifechain.geo.repo import CityStore

    return CityStore.from_settings(settings)


def register(app: typer.Typer) -> None:
    """Add this domain's commands to the `lifechain` command."""
    city_app = typer.Typer(help="Import and list cities (road and walking networks).", no_args_is_help=True)

    @city_app.command("import")
    def import_(
        ctx: typer.Context,
        source: Annotated[str, typer.Argument(help="An .osm.pbf file, a JEMSS model folder, or builtin:helsinki.")],
        name: Annotated[str, typer.Option("--name", help="City name (folder under the data directory).")],
        if_missing: Annotated[bool, typer.Option("--if-missing", help="Do nothing if the city exists.")] = False,
        walk_speed: Annotated[float, typer.Option(help="Walking speed, m/s.")] = 1.8,
        emergency_factor: Annotated[float, typer.Option(help="Emergency speed / road speed (OSM).")] = 1.2,
        regular_factor: Annotated[float, typer.Option(help="Regular speed / road speed (OSM).")] = 0.85,
    ) -> None:
        """Compile a city into the data directory (an existing one is replaced atomically)."""
        from lifechain.geo.flows import ImportOptions, import_city

        settings = _settings(ctx)
        store = _store(settings)
        if if_missing and store.exists(name):
            typer.echo(f"city {name} already imported; nothing to do")
            return
        options = ImportOptions(walk_speed_mps=walk_speed, emergency_factor=emergency_factor,
                                regular_factor=regular_factor)
        try:
            manifest = import_city(source, name=name, cities_dir=settings.cities_dir, now=datetime.now(UTC),
                                   options=options)
        except DomainError as exc:
            raise fail(exc) from exc
        for mode, rep in manifest["networks"].items():
            typer.echo(f"{name} {mode}: {rep['nodes']} nodes, {rep['arcs']} arcs kept; dropped "
                       f"{rep['dropped_nodes']} nodes and {rep['dropped_arcs']} arcs outside the largest strongly "
                       f"connected component ({rep['components']} components)")

    @city_app.command("list")
    def list_(ctx: typer.Context) -> None:
        """Show the imported cities."""
        store = _store(_settings(ctx))
        damaged = False
        for name in store.names():
            try:
                info = store.info(name)
            except Unavailable as exc:  # the others are still listed; the status says one is damaged
                typer.echo(f"error: {exc.message}", err=True)
                damaged = True
                continue
            nets = ", ".join(f"{m} {r['nodes']} nodes/{r['arcs']} arcs ({'/'.join(r['profiles'])})"
                             for m, r in info["networks"].items())
            typer.echo(f"{info['name']}: bbox {info['bbox']}; {nets}; from {info['source']}")
        if damaged:
            raise typer.Exit(2)

    @app.command()
    def route(
        ctx: typer.Context,
        city: Annotated[str, typer.Argument(help="City name.")],
        origin: Annotated[str, typer.Argument(metavar="FROM", help="lat,lon")],
        destination: Annotated[str, typer.Argument(metavar="TO", help="lat,lon")],
        mode: Annotated[str, typer.Option(help="drive or walk.")] = "drive",
        profile: Annotated[str, typer.Option(help="emergency or regular (driving only).")] = "emergency",
        engine: Annotated[str | None, typer.Option(help="ch or scipy (default from settings).")] = None,
        as_json: Annotated[bool, typer.Option("--json", help='Print {"seconds": ..., "meters": ...}.')] = False,
    ) -> None:
        """Fastest route between two points (southern latitudes: options first, then `--` before the points)."""
        store = _store(_settings(ctx))
        try:
            router = store.router(city, engine)
            result = router.route(parse_latlon(origin), parse_latlon(destination), mode=check_mode(mode),
                                  profile=check_profile(profile))
        except DomainError as exc:
            raise fail(exc) from exc
        if as_json:
            typer.echo(json.dumps({"seconds": round(result.seconds, 3), "meters": round(result.meters, 1)}))
        else:
            typer.echo(f"{result.seconds:.1f} s, {result.meters:.0f} m, {len(result.geometry)} points")

    app.add_typer(city_app, name="city")
