"""The `lifechain` command. Each domain adds its commands in its own `cli.py` through `register(app)`."""

from __future__ import annotations

import gc
import importlib
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from lifechain.errors import DomainError, describe
from lifechain.settings import SECRET_REFUSED, Settings

app = typer.Typer(name="lifechain", help="Lifechain: a city's chain of survival as one system.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
# Domains that contribute commands; each has a `cli.py` with `register(app)`.
CLI_DOMAINS = ("geo", "server", "dispatch", "volunteers", "planning")


@app.callback()
def _root(
    ctx: typer.Context,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Data directory (default $LIFECHAIN_DATA_DIR or ./var).")
    ] = None,
) -> None:
    """Lifechain: 120 dispatch, first responders, hospital centres, quality and planning."""
    overrides: dict[str, Any] = {}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    ctx.obj = overrides


def settings_from(ctx: typer.Context, **extra: Any) -> Settings:
    """Build the typed settings from the environment plus the options given on the command line."""
    overrides = dict(ctx.find_root().obj or {})
    overrides.update({k: v for k, v in extra.items() if v is not None})
    try:
        return Settings(**overrides)
    except ValidationError as exc:  # the reasons, without pydantic's input dump and links
        raise typer.BadParameter(describe(exc)) from None
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc


def offline_settings(ctx: typer.Context) -> Settings:
    """The settings for a command that neither serves nor signs anything (importing a city, simulating, optimising).
    The guard against the built-in demo secret is the server's: here an unset secret is no error."""
    try:
        return settings_from(ctx)
    except typer.BadParameter as exc:
        if SECRET_REFUSED not in str(exc):  # a bad value in the environment is reported, never passed over
            raise
        return settings_from(ctx, demo_mode=True)


def fail(exc: DomainError) -> typer.Exit:
    """How every command reports a refused request: `error: <the reason>` on standard error, exit status 2."""
    typer.echo(f"error: {exc.message}", err=True)
    return typer.Exit(code=2)


def _register_domains() -> None:
    for name in CLI_DOMAINS:
        module = importlib.import_module(f"lifechain.{name}.cli")
        module.register(app)


def main() -> None:
    """Entry point of the `lifechain` command."""
    # Importing allocates many long-lived objects; the cyclic GC would scan them again and again for nothing.
    gc.disable()
    try:
        _register_domains()
    finally:
        gc.enable()
    try:
        app()
    except DomainError as exc:  # a command that did not say it itself: the reason, never a traceback
        raise SystemExit(fail(exc).exit_code) from None
