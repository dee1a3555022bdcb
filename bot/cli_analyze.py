"""`whycant analyze`: the same rules over outputs a person pasted or collected."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from bot.cli_common import ConfigOpt, JsonOpt
from bot.paste import read_pastes
from probes.errors import BadInput, ParseError
from probes.evidence import Evidence, Facts, HostEvidence, Request
from probes.parsers.counters import detect_counter_format, parse_counters
from probes.parsers.paste import CounterRun, netstat_run, zero_fill
from probes.parsers.ss import parse_ss_listen
from probes.parsers.sysctl import parse_sysctl_a, parse_sysctl_conf

FileOpt = Annotated[Optional[str], typer.Option(help="File path, or - for standard input.")]
PasteArgs = Annotated[
    Optional[list[str]],
    typer.Argument(
        help="Pasted terminal text: files (or - for standard input) holding any mix of outputs.", show_default=False
    ),
]


def _read(path: str | None, what: str) -> str | None:
    if path is None:
        return None
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text(errors="replace")
    except OSError as e:
        raise BadInput(f"{what} {path}: cannot read: {e.strerror}".lstrip()) from None


def _overlay(base: Evidence, extra: Evidence) -> Evidence:
    """*base* (from positional pastes) with every piece of *extra* (explicit flags) laid over it."""
    assert base.target is not None and extra.target is not None
    tgt = base.target
    for name in ("counters_t0", "counters_t1", "t0_at", "t1_at", "listeners"):
        value = getattr(extra.target, name)
        if value is not None:
            setattr(tgt, name, value)
    if extra.target.sysctls:
        tgt.sysctls = {**(tgt.sysctls or {}), **extra.target.sysctls}
    if extra.target.facts:
        given = extra.target.facts.model_dump(exclude_none=True)
        tgt.facts = tgt.facts.model_copy(update=given) if tgt.facts else extra.target.facts
    base.request = extra.request
    return base


def build_evidence(
    *,
    before: str | None = None,
    after: str | None = None,
    sysctl: str | None = None,
    listeners: str | None = None,
    host: str = "pasted",
    port: int | None = None,
    window: float | None = None,
    mem_gb: float | None = None,
    kernel: str | None = None,
):
    """Evidence from pasted texts; each text is parsed by the parser its format calls for."""
    ev = HostEvidence(host=host)
    if before is not None:
        ev.counters_t0 = parse_counters(before, probe="--before")
    if after is not None:
        ev.counters_t1 = parse_counters(after, probe="--after")
    if (
        before is not None
        and after is not None
        and ev.counters_t0
        and ev.counters_t1
        and detect_counter_format(before) == "netstat-s"
    ):
        # net-tools omits zero counters: a line only the after-file has is a delta from 0
        ev.counters_t0 = zero_fill(netstat_run(before, ev.counters_t0), CounterRun("netstat-s", ev.counters_t1))
    if ev.counters_t0 is not None and ev.counters_t1 is not None:
        ev.t0_at, ev.t1_at = 0.0, float(window) if window else None
    if sysctl is not None:
        try:  # `sysctl -a` output (skips "permission denied" lines) or sysctl.conf syntax
            ev.sysctls = parse_sysctl_a(sysctl, probe="--sysctl")
        except ParseError:
            ev.sysctls = parse_sysctl_conf(sysctl, source="--sysctl")
    if listeners is not None:
        ev.listeners = parse_ss_listen(listeners)
    release = kernel or (
        str(ev.sysctls.get("kernel.osrelease")) if ev.sysctls and "kernel.osrelease" in ev.sysctls else None
    )
    if release or mem_gb:
        ev.facts = Facts(os="Linux", kernel_release=release, mem_total_kb=int(mem_gb * 1024 * 1024) if mem_gb else None)
    req = Request(text="analyze", target=host, address="", port=port)
    return Evidence(source="pasted", request=req, target=ev)


def analyze(
    pastes: PasteArgs = None,
    before: FileOpt = None,
    after: FileOpt = None,
    sysctl: FileOpt = None,
    listeners: FileOpt = None,
    host: Annotated[str, typer.Option(help="Name to show for the host.")] = "pasted",
    port: Annotated[Optional[int], typer.Option(help="The port people cannot reach.")] = None,
    window: Annotated[Optional[float], typer.Option(help="Seconds between --before and --after.")] = None,
    mem_gb: Annotated[Optional[float], typer.Option("--mem-gb", help="The host's memory, for sizing checks.")] = None,
    kernel: Annotated[Optional[str], typer.Option(help="Kernel release, e.g. 3.10.0-1160.el7.x86_64.")] = None,
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Diagnose pasted terminal text for hosts whycant cannot reach: `whycant analyze FILE... | -`
    takes any paste (prompts, command lines, several outputs, grep fragments); the explicit
    --before/--after/--sysctl/--listeners flags take one output each."""
    from bot.cli_ask import emit
    from bot.config import load_config
    from bot.engine import diagnose, load_rules
    from bot.outcome import Outcome

    if not any((pastes, before, after, sysctl, listeners)):
        raise BadInput(
            "analyze needs a pasted FILE (or - for standard input) or one of --before, --after, --sysctl, --listeners"
        )
    if (pastes or []).count("-") + [before, after, sysctl, listeners].count("-") > 1:
        raise BadInput("standard input (-) can be read only once")
    if port is not None and not 1 <= port <= 65535:
        raise BadInput(f"--port {port} is not in 1..65535")
    cfg = load_config(config)
    texts = {
        k: _read(v, f"--{k}")
        for k, v in (("before", before), ("after", after), ("sysctl", sysctl), ("listeners", listeners))
    }
    pasted = [(p, _read(p, "") or "") for p in pastes or []]
    try:
        evidence = build_evidence(**texts, host=host, port=port, window=window, mem_gb=mem_gb, kernel=kernel)
    except ParseError as e:
        raise BadInput(f"cannot parse {e.probe}: {e.message}" + (f" (line {e.line})" if e.line else "")) from None
    if pasted:
        from_paste, notes = read_pastes(
            [t for _, t in pasted], host=host, names=["standard input" if p == "-" else p for p, _ in pasted]
        )
        for note in notes:
            typer.echo(f"analyze: {note}", err=True)
        evidence = _overlay(from_paste, evidence)
        tgt = evidence.target
        if window and tgt and tgt.counters_t0 and tgt.counters_t1 and tgt.t1_at is None:
            tgt.t0_at, tgt.t1_at = 0.0, float(window)
    rules = load_rules(cfg.playbook_paths, base_dir=cfg.base_dir())
    diagnosis = diagnose(evidence, rules)
    emit(Outcome(kind="diagnosis", request=evidence.request, evidence=evidence, diagnosis=diagnosis), json_out)
