"""Options and helpers shared by the CLI modules."""
from __future__ import annotations

from typing import Annotated, Optional

import typer

ConfigOpt = Annotated[Optional[str], typer.Option("--config", "-c", help="Configuration file (YAML).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
EXIT_PARTIAL = 3  # probe/drift printed their result, but a host (or one of its probes) could not be read
