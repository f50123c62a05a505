"""Commands of the dispatch domain: `lifechain demo load` and `lifechain demo calls`."""

from __future__ import annotations

import os
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add `demo load` and `demo calls` to the `lifechain` command."""
    demo = typer.Typer(help="Demo data and a stream of demo calls.", no_args_is_help=True)

    @demo.command("load")
    def load(ctx: typer.Context,
             city: Annotated[str, typer.Option(help="An imported city (lifechain city import).")] = "helsinki",
             ) -> None:
        """Load stations, ambulances, hospitals and demo users for CITY (idempotent; demo mode only)."""
        from lifechain import db
        from lifechain.cli import settings_from
        from lifechain.clock import SystemClock
        from lifechain.dispatch import demo as demo_data
        from lifechain.geo.repo import CityStore
        from lifechain.settings import DEMO_SECRET
        from lifechain.volunteers import cli as volunteer_cli
        from lifechain.volunteers import flows as volunteer_flows

        settings = settings_from(ctx, demo_mode=True)
        # A deployment with its own secret is not a demo: known demo passwords must not appear there by accident.
        if settings.secret_key != DEMO_SECRET and os.environ.get("LIFECHAIN_DEMO_MODE") not in ("1", "true"):
            raise typer.BadParameter("demo data is for demo mode only: this environment sets its own secret key "
                                     "(set LIFECHAIN_DEMO_MODE=1 if it really is a demo)")
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        db.upgrade(settings.sqlalchemy_url)
        store = CityStore.from_settings(settings)
        places = store.places(city)
        router = store.router(city)
        engine = db.make_engine(settings.sqlalchemy_url)
        try:
            with db.transaction(db.make_sessionmaker(engine)) as session:
                loaded = demo_data.load(session=session, city=city, places=places, now=SystemClock().now(),
                                        check=lambda pts: router.snap(pts, mode="drive"))
                responders = volunteer_flows.load_demo(session=session, city=city, places=places,
                                                       now=SystemClock().now(), data_dir=settings.data_dir,
                                                       pbf=volunteer_cli.builtin_pbf(city))
        finally:
            engine.dispose()
        typer.echo(f"{city}: {loaded.stations} stations, {loaded.units} units, {loaded.hospitals} hospitals, "
                   f"{loaded.users} users added (password of every demo user: {demo_data.DEMO_PASSWORD})")
        typer.echo(f"{city}: {responders.volunteers} volunteers, {responders.facilities} school clinics, "
                   f"{responders.aeds} AEDs, {responders.users} volunteer users added")

    @demo.command("calls")
    def calls(rate: Annotated[float, typer.Option(min=0.01, help="Calls per second.")] = 0.2,
              url: Annotated[str, typer.Option(help="Base URL of the running server.")] = "http://127.0.0.1:8000",
              city: Annotated[str, typer.Option(help="City of the calls.")] = "helsinki",
              count: Annotated[int | None, typer.Option(min=1, help="Stop after this many calls (default: never).")]
              = None,
              username: Annotated[str, typer.Option(help="A dispatcher account.")] = "dispatcher",
              password: Annotated[str, typer.Option(help="Its password.")] = "lifechain-demo",
              dispatch: Annotated[bool, typer.Option(help="Also send the recommended unit.")] = True,
              seed: Annotated[int, typer.Option(help="Random seed (repeatable runs).")] = 1) -> None:
        """Play realistic calls (mix of priorities and pathways, arrests included) against a running server."""
        from lifechain.dispatch import demo as demo_data
        from lifechain.dispatch.protocol import default_protocol

        taken = demo_data.play_calls(url=url, city=city, rate=rate, count=count, username=username,
                                     password=password, protocol=default_protocol(), seed=seed, dispatch=dispatch,
                                     echo=typer.echo)
        typer.echo(f"{taken} calls taken")

    app.add_typer(demo, name="demo")
