"""`whycant playbooks ...` (placeholder until implemented)."""
from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, help="playbooks commands")


@app.command("help")
def _placeholder() -> None:
    """Not implemented yet."""
    raise typer.Exit(1)
