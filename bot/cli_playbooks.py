"""`whycant playbooks list|test`: the rules (built-in and from `playbook_paths`) and their cases."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Optional

import typer

from bot.cli_common import ConfigOpt, JsonOpt

app = typer.Typer(no_args_is_help=True, help="List playbooks (rules) and run their test cases.")


def _rules(config: str | None):
    from bot.config import load_config
    from bot.engine import load_rules

    cfg = load_config(config)
    return load_rules(cfg.playbook_paths, base_dir=cfg.base_dir())


def _report_load_problems(rs) -> None:
    for w in rs.warnings:
        typer.echo(f"warning: {w}", err=True)
    for e in rs.errors:
        typer.echo(f"error: {e}", err=True)


@app.command("list")
def list_(json_out: JsonOpt = False, config: ConfigOpt = None) -> None:
    """Show every rule: id, severity, title and the file it came from."""
    rs = _rules(config)
    if json_out:
        rows = [
            {
                "id": r.id,
                "severity": r.severity,
                "title": r.title,
                "file": r.path,
                "builtin": r.builtin,
                "version": str(r.spec.version),
                "requires": r.spec.requires,
                "cases": len(r.spec.cases),
            }
            for r in rs
        ]
        sys.stdout.write(
            json.dumps({"rules": rows, "errors": [str(e) for e in rs.errors], "warnings": rs.warnings}, indent=2) + "\n"
        )
    else:
        width = max((len(r.id) for r in rs), default=10)
        for r in rs:
            src = r.path if not r.builtin else f"playbooks/{r.path.rsplit('/', 1)[-1]}"
            typer.echo(f"{r.id:<{width}}  {r.severity:<8}  {r.title}  [{src}]")
        typer.echo(f"{len(rs)} rules" + (f", {len(rs.errors)} failed to load" if rs.errors else ""))
    _report_load_problems(rs)
    if rs.errors:
        raise SystemExit(1)  # not typer.Exit: bot.cli.main (standalone_mode=False) drops its code


@app.command("test")
def test(
    rule: Annotated[Optional[list[str]], typer.Argument(help="Only these rule ids.")] = None,
    json_out: JsonOpt = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show passing cases too.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Run every rule's test cases (exit 1 if any fails or a playbook does not load)."""
    from bot.engine import run_cases

    rs = _rules(config)
    rules = [r for r in rs if not rule or r.id in rule]
    if rule:
        unknown = sorted(set(rule) - {r.id for r in rules})
        if unknown:
            from probes.errors import BadInput

            raise BadInput(f"unknown rule id(s): {', '.join(unknown)}")
    results = run_cases(rules)
    failed = [r for r in results if not r.passed]
    if json_out:
        sys.stdout.write(
            json.dumps(
                {
                    "rules": len(rules),
                    "cases": len(results),
                    "failed": len(failed),
                    "results": [
                        {"rule": r.rule_id, "case": r.case, "passed": r.passed, "failures": r.failures, "file": r.path}
                        for r in results
                    ],
                    "load_errors": [str(e) for e in rs.errors],
                },
                indent=2,
            )
            + "\n"
        )
    else:
        for r in results:
            if r.passed and not verbose:
                continue
            typer.echo(f"{'PASS' if r.passed else 'FAIL'}  {r.rule_id} :: {r.case}")
            for f in r.failures:
                typer.echo(f"      {f}")
        typer.echo(
            f"{len(results) - len(failed)}/{len(results)} cases passed in {len(rules)} rules"
            + (f"; {len(failed)} FAILED" if failed else "")
        )
    _report_load_problems(rs)
    if failed or rs.errors:
        raise SystemExit(1)  # not typer.Exit: bot.cli.main (standalone_mode=False) drops its code
