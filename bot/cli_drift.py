"""`whycant drift` (placeholder until implemented)."""
from __future__ import annotations

import typer

from bot.cli_common import ConfigOpt


def drift(config: ConfigOpt = None) -> None:
    """Not implemented yet."""
    typer.echo("not implemented yet", err=True)
    raise typer.Exit(1)
