"""`whycant incidents list|show|ack|resolve|history|replay` (docs/architecture.md §Front ends and contracts).

Every subcommand takes ``--config/-c``; unknown incident ids are bad input (exit 2).
Human output is a rich table / text (finding ids shown as ``[rule-id]``); ``--json`` prints JSON.
"""

from __future__ import annotations

import asyncio
import getpass
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Optional, TypeVar

import typer

from bot.cli_common import ConfigOpt, JsonOpt
from probes.errors import BadInput

app = typer.Typer(no_args_is_help=True, help="List, inspect, acknowledge, resolve and replay incidents.")
T = TypeVar("T")

# Tests (and embedders) may set this: config -> diagnose_fn(Evidence) -> Diagnosis, used by `replay`.
DIAGNOSE_FN_FACTORY: Callable[[Any], Callable[[Any], Any]] | None = None

WhoOpt = Annotated[Optional[str], typer.Option("--who", help="Who is acting (default: cli:$USER).")]
IdArg = Annotated[int, typer.Argument(help="Incident id.", min=1)]


def _who(who: str | None) -> str:
    if who:
        return who
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # noqa: BLE001
        return "cli"


def _run(config: str | None, fn: Callable[[Any, Any], Awaitable[T]]) -> T:
    """``fn(store, config)`` on the configured database (``bot.storage.store.Store``, migrated if allowed)."""
    from bot.config import load_config
    from bot.storage.store import open_store

    cfg = load_config(config)

    async def main() -> T:
        store = await open_store(cfg, mark_interrupted=False)
        try:
            return await fn(store, cfg)
        finally:
            await store.close()

    return asyncio.run(main())


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


def _console() -> Any:
    from rich.console import Console

    return Console(highlight=False)


_SEV_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}
_STATUS_STYLE = {"open": "bold", "acked": "yellow", "resolved": "green", "interrupted": "magenta"}


def _when(iso_or_dt: Any) -> str:
    s = iso_or_dt.isoformat() if hasattr(iso_or_dt, "isoformat") else str(iso_or_dt or "")
    return s[:19].replace("T", " ")


def _table(items: list[Any], title: str, with_findings: bool = False) -> None:
    """A rich table on a terminal; plain aligned lines otherwise (pipes, files, tests)."""
    console = _console()
    if not console.is_terminal:
        for i in items:
            line = (
                f"#{i.id:<6} {i.status + ('*' if i.diagnosing else ''):<12} {i.target:<28} "
                f"{i.top_severity or '-':<8} x{i.asked_count:<3} {_when(i.created_at)}  {i.verdict or ''}"
            )
            if with_findings and i.finding_ids:
                line += "  " + " ".join(f"[{f}]" for f in i.finding_ids)
            typer.echo(line.rstrip())
        return
    from rich.markup import escape
    from rich.table import Table

    t = Table(title=title, title_justify="left")
    for col in ("id", "status", "target", "severity", "asked", "created (UTC)", "verdict"):
        t.add_column(col, overflow="fold", no_wrap=col in ("id", "status", "target", "created (UTC)"))
    if with_findings:
        t.add_column("findings", overflow="fold")
    for i in items:
        row = [
            str(i.id),
            f"[{_STATUS_STYLE.get(i.status, '')}]{i.status}[/]" + (" …" if i.diagnosing else ""),
            escape(i.target),
            f"[{_SEV_STYLE.get(i.top_severity or '', '')}]{i.top_severity or '-'}[/]",
            str(i.asked_count),
            _when(i.created_at),
            escape(i.verdict or ""),
        ]
        if with_findings:
            row.append(" ".join(escape(f"[{f}]") for f in i.finding_ids))
        t.add_row(*row)
    console.print(t)


@app.command("list")
def list_(
    status: Annotated[
        Optional[str], typer.Option("--status", help="open, acked, resolved, interrupted (comma-separated)")
    ] = None,
    host: Annotated[Optional[str], typer.Option("--host", help="Target host (inventory name or address).")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="At most this many, newest first.")] = 50,
    json_: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """List incidents, newest first."""
    items = _run(config, lambda store, cfg: store.list_incidents(status=status, host=host, limit=limit))
    if json_:
        _print_json({"incidents": [i.to_dict() for i in items]})
    elif not items:
        typer.echo("no incidents")
    else:
        _table(items, "incidents")


@app.command("show")
def show(incident_id: IdArg, json_: JsonOpt = False, config: ConfigOpt = None) -> None:
    """Findings, evidence summary and audit trail of one incident."""
    d = _run(config, lambda store, cfg: store.get(incident_id))
    if json_:
        _print_json(d.to_dict())
        return
    from rich.markup import escape

    c, i = _console(), d.incident
    c.print(
        f"[bold]incident {i.id}[/]  {escape(i.target)}  [{_STATUS_STYLE.get(i.status, '')}]{i.status}[/]"
        + ("  (diagnosing)" if i.diagnosing else "")
    )
    c.print(f"verdict: {escape(i.verdict or '-')}")
    c.print(
        f"asked {i.asked_count}× by {escape(', '.join(sorted({a['who'] for a in d.askers})) or '-')}; "
        f"opened {_when(i.created_at)} UTC"
        + (f"; resolved {_when(i.resolved_at)} UTC by {escape(d.resolved_by or '-')}" if i.resolved_at else "")
    )
    if d.resolution_note:
        c.print(f"note: {escape(d.resolution_note)}")
    c.print("\n[bold]findings[/]" if d.findings else "\nno findings")
    for f in d.findings:
        c.print(
            f"  [{_SEV_STYLE.get(f['severity'], '')}]{f['severity']:8}[/] \\[{escape(f['id'])}] {escape(f['title'])}"
        )
        for line in f["evidence"]:
            c.print(f"           · {escape(str(line))}")
    ev = d.latest_evidence
    if ev:
        c.print(
            f"\n[bold]evidence[/] ({len(d.evidence)} stored; latest #{ev['id']} {_when(ev['taken_at'])} UTC, "
            f"{ev.get('source')})"
        )
        for row in ev.get("connect") or []:
            counts = ", ".join(
                f"{k} {row[k]}"
                for k in ("ok", "refused", "timeout", "reset", "unreachable", "addr_not_avail", "error")
                if row.get(k)
            )
            c.print(f"  connect from {escape(row['vantage'])}: {row['attempts']} attempts: {counts or '-'}")
        delta = ev.get("counters_delta") or {}
        if delta:
            c.print("  counters moved: " + ", ".join(f"{k} +{v}" for k, v in list(delta.items())[:8]))
        for e in ev.get("probe_errors") or []:
            c.print(
                f"  probe error: {escape(str(e.get('host')))} {escape(str(e.get('probe')))}: {escape(str(e.get('error')))}"
            )
    c.print("\n[bold]audit[/]")
    for a in d.audit:
        c.print(f"  {_when(a['at'])}  {a['action']:11} {escape(a['who'] or '-')}")


@app.command("ack")
def ack(incident_id: IdArg, who: WhoOpt = None, json_: JsonOpt = False, config: ConfigOpt = None) -> None:
    """Acknowledge an incident (someone is on it)."""
    i = _run(config, lambda store, cfg: store.ack(incident_id, _who(who)))
    _print_json(i.to_dict()) if json_ else typer.echo(f"incident {i.id} ({i.target}): {i.status}")


@app.command("resolve")
def resolve(
    incident_id: IdArg,
    note: Annotated[Optional[str], typer.Option("--note", help="What fixed it.")] = None,
    who: WhoOpt = None,
    json_: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Resolve an incident; the next ask about its target opens a new one."""
    i = _run(config, lambda store, cfg: store.resolve(incident_id, _who(who), note))
    _print_json(i.to_dict()) if json_ else typer.echo(f"incident {i.id} ({i.target}): {i.status}")


@app.command("history")
def history(
    host: Annotated[str, typer.Argument(help="Target host (inventory name or address).")],
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 50,
    json_: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Every incident about a host, newest first, with what was found."""
    items = _run(config, lambda store, cfg: store.history(host, limit=limit))
    if json_:
        _print_json({"host": host, "incidents": [i.to_dict() for i in items]})
    elif not items:
        typer.echo(f"no incidents about {host}")
    else:
        _table(items, f"history of {host}", with_findings=True)


def engine_diagnose_fn(cfg: Any) -> Callable[[Any], Any]:
    """diagnose_fn backed by the current playbooks (bot.engine, imported lazily)."""
    if DIAGNOSE_FN_FACTORY is not None:
        return DIAGNOSE_FN_FACTORY(cfg)
    try:
        from bot.engine import diagnose, load_rules
    except ImportError as e:
        raise BadInput(f"replay needs the diagnosis engine (bot.engine), which is not available: {e}") from None
    paths = [str((cfg.base_dir() / p).resolve()) if not p.startswith(("/", "~")) else p for p in cfg.playbook_paths]
    try:
        rules = load_rules(paths)
    except TypeError:
        rules = load_rules()
    return lambda evidence: diagnose(evidence, rules)


@app.command("replay")
def replay(incident_id: IdArg, who: WhoOpt = None, json_: JsonOpt = False, config: ConfigOpt = None) -> None:
    """Diagnose the stored evidence again with the current playbooks and show what would change."""
    r = _run(config, lambda store, cfg: store.replay(incident_id, engine_diagnose_fn(cfg), who=_who(who)))
    if json_:
        _print_json(r.to_dict())
        return
    from rich.markup import escape

    c = _console()
    c.print(f"incident {r.incident_id}: replayed evidence #{r.evidence_id} with the current playbooks")
    if r.before_verdict != r.after_verdict:
        c.print(f"verdict: {escape(r.before_verdict or '-')}  →  {escape(r.after_verdict)}")
    else:
        c.print(f"verdict unchanged: {escape(r.after_verdict)}")
    for ch in r.added:
        c.print(f"  [green]+ added  [/] \\[{escape(ch.id)}] {ch.severity}: {escape(ch.title)}")
    for ch in r.removed:
        c.print(f"  [red]- removed[/] \\[{escape(ch.id)}] {ch.severity}: {escape(ch.title)}")
    for ch in r.changed:
        c.print(f"  [yellow]~ changed[/] \\[{escape(ch.id)}] {ch.before_severity} → {ch.severity}")
    for fid in r.unchanged:
        c.print(f"  = same   \\[{escape(fid)}]")
    if not r.differs:
        c.print("no change")
