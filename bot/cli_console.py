"""`whycant console`: the bot in a terminal (the README's `make run`).

Reads one request per line from stdin (`analyze` takes the pasted block after it), answers with the same rendering the
Slack front end uses (rich on a terminal, plain text when piped), exits at end
of input or on `quit`.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Annotated, Optional

import typer

from bot import permissions
from bot.cli_common import ConfigOpt, whoami
from bot.watch.manager import manager_for
from bot.watch.sinks import TextSink


def console(
    config: ConfigOpt = None,
    who: Annotated[Optional[str], typer.Option("--who", help="Who is talking (permissions, incidents).")] = None,
    no_store: Annotated[bool, typer.Option("--no-store", help="Do not record incidents.")] = False,
) -> None:
    """Talk to whycant in a terminal: the same commands as in Slack."""
    from bot.config import load_config

    cfg = load_config(config)
    asyncio.run(_run(cfg, who or whoami().replace("cli:", "console:"), store=not no_store))


async def _read_block(first: str, readline: Callable[[], Awaitable[str]]) -> str:
    """`analyze` and the pasted block after it: up to the closing ``` of a fenced block, else up to a
    blank line or the end of input (a paste on the `analyze` line itself ends the block there)."""
    lines = [first]
    head = first.split(None, 1)
    fenced = first.count("```") % 2 == 1
    if not fenced and len(head) > 1 and "```" not in first:
        return first
    while True:
        line = await readline()
        if not line:
            break
        line = line.rstrip("\n")
        if not fenced and len(lines) == 1 and line.strip().startswith("```"):
            fenced = line.count("```") % 2 == 1
            lines.append(line)
            continue
        if not fenced and not line.strip():
            break
        lines.append(line)
        if fenced and "```" in line:
            break
    return "\n".join(lines)


async def _run(cfg, who: str, *, store: bool) -> None:
    """The loop under SIGTERM/SIGINT handling (bot/interrupt.py): a signal stops the question being
    diagnosed (remote commands killed, incident marked interrupted) or the wait for input; exit 143/130."""
    from bot.interrupt import Interrupted, SignalGuard

    started: list = []
    try:
        async with SignalGuard() as guard:
            await _loop(cfg, who, store=store, started=started, guard=guard)
    except Interrupted as e:
        e.interrupted = [i for svc in started for i in svc.interrupted]
        raise


class StdinLines:
    """Lines from stdin that a signal can interrupt: the event loop waits for input (no thread blocked
    in ``readline`` that would hold the process at exit). A regular file falls back to plain reads."""

    def __init__(self, fd: int = 0):
        self.fd, self.buf, self.eof = fd, b"", False

    async def readline(self) -> str:
        loop = asyncio.get_running_loop()
        while b"\n" not in self.buf and not self.eof:
            ready: asyncio.Future[None] = loop.create_future()
            try:
                loop.add_reader(self.fd, _wake, ready)
            except PermissionError:  # a regular file: reading never blocks
                return await asyncio.to_thread(sys.stdin.readline)
            try:
                await ready
            finally:
                loop.remove_reader(self.fd)
            chunk = os.read(self.fd, 65536)
            self.eof = not chunk
            self.buf += chunk
        line, sep, self.buf = self.buf.partition(b"\n")
        return (line + sep).decode("utf-8", "replace")


def _wake(ready: asyncio.Future[None]) -> None:
    if not ready.done():
        ready.set_result(None)


async def _loop(cfg, who: str, *, store: bool, started: list, guard) -> None:
    from bot.render.text import render_text
    from bot.service import Whycant

    tty = sys.stdin.isatty() and sys.stdout.isatty()
    rich_console = None
    if tty:
        from rich.console import Console

        rich_console = Console()
        from rich.markup import escape

        rich_console.print(
            f"[bold]whycant[/bold] console ({escape(cfg.source)}). Type `help`, or a question; Ctrl-D quits."
        )
    svc = await guard.run(Whycant.create(cfg, storage=store))
    started.append(svc)
    stdin = StdinLines()
    if svc.store is not None:  # watches run in the background and print their events here
        svc.watch_manager = manager_for(svc, lambda _rec: TextSink())
    try:
        while True:
            if tty:
                sys.stdout.write("whycant> ")
                sys.stdout.flush()
            line = await guard.run(stdin.readline())
            if not line:
                break
            line = line.strip()
            if not line:
                continue
            if line.lower() in ("quit", "exit"):
                break

            async def on_progress(p) -> None:
                if rich_console is not None:
                    rich_console.print(f"… {p.message}", style="dim", markup=False, highlight=False)

            if permissions.command_of(line) == "analyze":
                line = await guard.run(_read_block(line, stdin.readline))
            outcome = await guard.run(svc.handle(line, who=who, on_progress=on_progress))
            # already ANSI (terminal) or plain: written as is, so "[finding-id]" is never taken for markup
            sys.stdout.write(render_text(outcome, color=tty).rstrip("\n") + "\n")
            sys.stdout.flush()
    finally:
        if svc.watch_manager is not None:
            await svc.watch_manager.shutdown()
        await svc.close()
