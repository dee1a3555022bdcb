"""`whycant ask TEXT`: diagnose one question from the command line."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Annotated, Optional

import typer

from bot.cli_common import ConfigOpt, JsonOpt, whoami
from probes.errors import BadInput


def ask(
    text: Annotated[list[str], typer.Argument(help='The question, e.g. "why can\'t I connect to db01:5432".')],
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
    who: Annotated[Optional[str], typer.Option("--who", help="Who is asking (recorded on the incident).")] = None,
    no_store: Annotated[bool, typer.Option("--no-store", help="Do not record an incident.")] = False,
) -> None:
    """Diagnose a connection problem: probes, rules, findings and a fix."""
    from bot.config import load_config

    cfg = load_config(config)
    question = " ".join(text).strip()
    if not question:
        raise BadInput('ask needs a question, e.g. whycant ask "why can\'t I connect to db01:5432"')
    outcome = asyncio.run(_ask(cfg, question, who or whoami(), store=not no_store))
    if outcome.kind in ("error", "refused"):
        raise BadInput(outcome.text or "bad request")
    emit(outcome, json_out)


async def _ask(cfg, question: str, who: str, *, store: bool):
    from bot.interrupt import Interrupted, SignalGuard
    from bot.service import Whycant

    svc = None
    try:  # SIGTERM/SIGINT: stop the probes (remote commands killed), mark the incident interrupted, exit 143/130
        async with SignalGuard() as guard:
            svc = await guard.run(Whycant.create(cfg, storage=store))
            try:
                with progress_printer() as on_progress:
                    return await guard.run(svc.handle(question, who=who, on_progress=on_progress))
            finally:
                await svc.close()
    except Interrupted as e:
        e.interrupted = list(svc.interrupted) if svc is not None else []
        raise


class progress_printer:
    """Progress lines on stderr while a diagnosis runs (only on a terminal)."""

    def __enter__(self):
        if not sys.stderr.isatty():
            return None
        from rich.console import Console

        self.console = Console(stderr=True)

        async def on_progress(p) -> None:
            self.console.print(f"… {p.message}", style="dim", markup=False, highlight=False)

        return on_progress

    def __exit__(self, *exc) -> None:
        return None


def emit(outcome, json_out: bool) -> None:
    if json_out:
        from bot.jsonout import diagnosis_json

        sys.stdout.write(json.dumps(diagnosis_json(outcome), indent=2, default=str) + "\n")
        return
    from bot.render.text import render_text

    # render_text already produced ANSI (terminal) or plain text: write it as is, never re-parse markup.
    sys.stdout.write(render_text(outcome, color=sys.stdout.isatty()).rstrip("\n") + "\n")
