"""The ``whycant`` command line (docs/architecture.md §Front ends and contracts).

Each command group lives in its own module (``bot/cli_*.py``) and is mounted
here. Exit status: 0 done, 2 bad input (one line on stderr), 1 internal failure,
3 partial (``probe``/``drift``: a host could not be probed; docs/inventory.md).
"""

from __future__ import annotations

import logging
import sys

import typer

from bot import (
    cli_analyze,
    cli_ask,
    cli_console,
    cli_db,
    cli_drift,
    cli_incidents,
    cli_playbooks,
    cli_probe,
    cli_runner,
    cli_serve,
    cli_watch,
)
from bot.interrupt import Interrupted
from probes.errors import BadInput

app = typer.Typer(
    name="whycant",
    help="Why can't I connect? Evidence, a diagnosis and a fix.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

app.command("ask")(cli_ask.ask)
app.command("analyze")(cli_analyze.analyze)
app.command("probe")(cli_probe.probe)
app.command("console")(cli_console.console)
app.command("serve")(cli_serve.serve)
app.command("drift")(cli_drift.drift)
app.command("runner")(cli_runner.runner)
app.command("runners")(cli_runner.runners)
app.command("watch")(cli_watch.watch)
app.add_typer(cli_incidents.app, name="incidents")
app.add_typer(cli_playbooks.app, name="playbooks")
app.add_typer(cli_db.app, name="db")


def main(argv: list[str] | None = None) -> int:
    """Entry point: map expected errors to exit codes without tracebacks."""
    from bot.logs import setup_logging

    setup_logging()
    try:
        rc = app(args=argv, standalone_mode=False)
    except BadInput as e:
        print(f"whycant: {str(e).splitlines()[0] if str(e) else type(e).__name__}", file=sys.stderr)
        for extra in str(e).splitlines()[1:]:
            print(f"  {extra.strip()}", file=sys.stderr)
        return 2
    except typer.Exit as e:
        return e.exit_code
    except SystemExit as e:
        return int(e.code or 0)
    except Interrupted as e:
        print(f"whycant: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    except typer.Abort:
        return 1
    except typer.TyperException as e:  # click's errors, vendored by typer (there is no `click` module to import)
        return _usage_error(e)
    except Exception as e:  # noqa: BLE001 - last-resort boundary
        logging.getLogger("whycant").exception("internal error")
        print(f"whycant: internal error: {e}", file=sys.stderr)
        return 1
    return rc if isinstance(rc, int) else 0


def _usage_error(e: typer.TyperException) -> int:
    """One line naming the bad option or argument (``whycant ask: No such option: --bogus``); exit 2.

    ``no_args_is_help`` (``whycant``, ``whycant incidents``) prints the help instead."""
    code = int(getattr(e, "exit_code", 2))
    ctx = getattr(e, "ctx", None)
    if type(e).__name__ == "NoArgsIsHelpError":
        print(e.format_message(), file=sys.stderr)
        return code
    words = ctx.command_path.split()[1:] if ctx is not None else []
    message = " ".join(e.format_message().split())  # one line, whatever click wrapped
    print(f"whycant{''.join(' ' + w for w in words)}: {message}", file=sys.stderr)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
