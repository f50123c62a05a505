"""Commands of the dispatch domain."""

import typer


def register(app: typer.Typer) -> None:
    """Add this domain's commands to the `lifechain` command."""
