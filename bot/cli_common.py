"""Options and helpers shared by the CLI modules."""

from __future__ import annotations

import getpass
from typing import Annotated, Optional

import typer

ConfigOpt = Annotated[Optional[str], typer.Option("--config", "-c", help="Configuration file (YAML).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def whoami() -> str:
    """Who runs the CLI, for incidents and waivers: ``cli:<login>``."""
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # noqa: BLE001 - no login name (containers): still a valid asker
        return "cli"


EXIT_PARTIAL = 3  # probe/drift printed their result, but a host (or one of its probes) could not be read
