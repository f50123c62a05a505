"""Commands that run the server and manage its database."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from lifechain import db

if TYPE_CHECKING:
    from lifechain.settings import Settings


def register(app: typer.Typer) -> None:
    """Add `serve` and `db` to the `lifechain` command."""
    from lifechain.cli import fail, offline_settings, settings_from

    @app.command()
    def serve(
        ctx: typer.Context,
        host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
        port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
        workers: Annotated[int, typer.Option(min=1, max=64, help="Server processes (PostgreSQL fans events out).")] = 1,
        demo: Annotated[bool, typer.Option("--demo", help="Demo mode: demo users and secret allowed.")] = False,
    ) -> None:
        """Start the HTTP server (migrates the database first if it is behind)."""
        import gc
        import os

        # Start-up allocates ~250k objects that live as long as the server; collecting them again and again while
        # importing costs ~0.1 s. The app's lifespan freezes them and switches the collector back on.
        gc.disable()
        settings = settings_from(ctx, demo_mode=True if demo else None)
        _check_configuration(settings)
        if workers == 1:  # this process serves: its road network loads while the app is imported and built
            from lifechain.geo.repo import preload

            preload(settings)
        import uvicorn

        settings.data_dir.mkdir(parents=True, exist_ok=True)
        if db.ensure_upgraded(settings.sqlalchemy_url):
            typer.echo("database upgraded to the newest schema")
        # Worker processes rebuild settings from the environment: hand them what the command line said.
        os.environ["LIFECHAIN_DATA_DIR"] = str(settings.data_dir)
        if settings.demo_mode:
            os.environ["LIFECHAIN_DEMO_MODE"] = "1"
        # No WebSocket routes (live updates are server-sent events): skip loading a WebSocket protocol.
        uvicorn.run("lifechain.server.asgi:app", factory=True, host=host, port=port, workers=workers,
                    log_level="info", ws="none")

    def _check_configuration(settings: Settings) -> None:
        """Refuse to start on a configuration file the server would only read later (the cities' alert policies,
        read at an arrest's alert): `error: <the reason>` and exit status 2, as any refused command."""
        from lifechain.errors import DomainError
        from lifechain.volunteers.flows import check_policies

        try:
            check_policies(data_dir=settings.data_dir, heartbeat_timeout_s=settings.volunteer_heartbeat_timeout_s)
        except DomainError as exc:
            raise fail(exc) from exc

    db_app = typer.Typer(help="Database schema.", no_args_is_help=True)

    @db_app.command("upgrade")
    def upgrade(ctx: typer.Context) -> None:
        """Apply every pending migration."""
        settings = offline_settings(ctx)  # migrating signs nothing: no secret needed (the server's guard stays)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        db.upgrade(settings.sqlalchemy_url)
        typer.echo("database is up to date")

    app.add_typer(db_app, name="db")
