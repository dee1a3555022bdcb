"""Console text renderer for the reply model (``bot.render.message``).

``render_text(outcome, color=True)`` gives rich styling (ANSI) for a terminal;
``color=False`` gives plain text for pipes, logs and golden files. Both show
the same content as the Slack reply, including every finding's ``[id]``.
Host and user text is stripped of control characters (no terminal escape
injection); nothing is truncated (a terminal scrolls).
"""

from __future__ import annotations

import io

from rich.console import Console
from rich.text import Text

from bot.outcome import Outcome
from bot.render import escape as esc
from bot.render.build import build_message
from bot.render.message import (
    Block,
    Buttons,
    Context,
    Divider,
    DriftGroup,
    FindingBlock,
    Heading,
    Items,
    Matrix,
    Message,
    Notice,
    Paragraph,
    Verdict,
)

SEVERITY_STYLE = {
    "critical": "bold red",
    "warning": "bold yellow",
    "info": "bold blue",
    "ok": "bold green",
    "error": "bold red",
}
SEVERITY_WORD = {"critical": "CRITICAL", "warning": "WARNING", "info": "INFO", "ok": "OK", "error": "ERROR"}
WIDTH = 100

Line = list[tuple[str, str]]  # (text, rich style)


def _indent(text: str, prefix: str) -> list[str]:
    return [prefix + line for line in esc.terminal(text).splitlines()] or [prefix]


def _lines(b: Block) -> list[Line]:
    if isinstance(b, Verdict):
        word = SEVERITY_WORD.get(b.level or "", "")
        out: list[Line] = [
            [(f"{word} " if word else "", SEVERITY_STYLE.get(b.level or "", "")), (esc.terminal(b.text), "bold")]
        ]
        sub = []
        if b.subtitle:
            sub.append(esc.terminal(b.subtitle))
        if b.asker:
            sub.append(f"asked by {esc.terminal(b.asker)}")
        if sub:
            out.append([("  " + " · ".join(sub), "dim")])
        return out
    if isinstance(b, Notice):
        mark = {"warning": "⚠ ", "error": "✖ "}.get(b.level, "")
        style = "yellow" if b.level == "warning" else "red"
        return [[(mark + line, style)] for line in esc.terminal(b.text).splitlines() or [""]]
    if isinstance(b, Paragraph):
        return [[(line, "")] for line in esc.terminal(b.text).splitlines()] or [[("", "")]]
    if isinstance(b, Heading):
        return [[(esc.terminal(b.text), "bold underline")]]
    if isinstance(b, FindingBlock):
        return _finding(b)
    if isinstance(b, Matrix):
        return _matrix(b)
    if isinstance(b, Context):
        return [[(esc.terminal(line), "dim")] for line in b.lines]
    if isinstance(b, Buttons):
        if not b.buttons:
            return []
        inc = b.buttons[0].value
        cmds = [
            f"{a} {inc}"
            for a in ("incident", "ack", "resolve")
            if any(x.action == a for x in b.buttons) or a == "incident"
        ]
        return [[("next: " + " · ".join(cmds), "dim")]]
    if isinstance(b, Items):
        out = [[(esc.terminal(b.title), "bold")]] if b.title else []
        if not b.items:
            return out + [[("  " + esc.terminal(b.empty), "dim")]]
        for it in b.items:
            first, *rest = esc.terminal(it.text).splitlines() or [""]
            out.append([("  • ", ""), (first, SEVERITY_STYLE.get(it.level or "", ""))])
            out.extend([[("    " + r, "dim")] for r in rest])
        return out
    if isinstance(b, Divider):
        return [[("─" * 40, "dim")]]
    if isinstance(b, DriftGroup):
        return _drift_group(b)
    raise TypeError(f"unknown block {type(b).__name__}")


def _finding(f: FindingBlock) -> list[Line]:
    word = SEVERITY_WORD.get(f.severity, f.severity.upper())
    head: Line = [
        (f"{f.rank}. ", "bold"),
        (f"[{esc.terminal(f.id)}] ", "bold cyan"),
        (esc.terminal(f.title), "bold"),
        (f"  {word}", SEVERITY_STYLE.get(f.severity, "")),
    ]
    if f.confidence < 1.0:
        head.append((f" · confidence {f.confidence:.0%}", "dim"))
    out: list[Line] = [head]
    out += [[(line, "")] for line in _indent(f.explanation, "   ")] if f.explanation else []
    if f.evidence:
        out.append([("   evidence:", "dim")])
        for e in f.evidence:
            out += [[(line, "")] for line in _indent(e, "     - ")]
    for label, code in f.fixes:
        out.append([(f"   fix ({label}):", "green")])
        out += [[(line, "cyan")] for line in _indent(code.rstrip("\n"), "     ")]
    for r in f.references:
        out.append([("   see " + esc.terminal(r), "dim")])
    return out


def _drift_group(g: DriftGroup) -> list[Line]:
    out: list[Line] = [[(esc.terminal(g.title), "bold")]] if g.title else []
    for d in g.drifts:
        finding = f" [{esc.terminal(d.finding)}]" if d.finding else ""
        out.append(
            [
                ("  • ", ""),
                (
                    f"{esc.terminal(d.host)} {esc.terminal(d.key)} = {esc.terminal(d.value)}, "
                    f"expected {esc.terminal(d.expected)} ({esc.terminal(d.lens)})",
                    SEVERITY_STYLE.get(d.severity, ""),
                ),
                (finding, "bold cyan"),
            ]
        )
        if g.details and d.detail:
            out += [[(line, "dim")] for line in _indent(d.detail, "      ")]
        if g.details and d.fix:
            first, *rest = d.fix.splitlines() or [""]
            out.append([("      fix: " + esc.terminal(first) + (" …" if rest else ""), "green")])
        if g.details and d.waived:
            out.append([("      waived " + esc.terminal(d.waived), "dim")])
    if g.more:
        out.append([("  " + esc.terminal(g.more), "dim")])
    return out


def _matrix(m: Matrix) -> list[Line]:
    rows = [[esc.terminal(c) for c in r] for r in m.rows]
    widths = [max(len(c) for c in col) for col in zip(m.columns, *rows)]

    def fmt(row: list[str]) -> str:
        return "  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(row)).rstrip()

    out: list[Line] = [[(esc.terminal(m.title), "bold")], [("  " + fmt(m.columns), "dim")]]
    for r in rows:
        ok, _, total = r[1].partition("/")
        style = "green" if ok == total and total else ("red" if ok == "0" or ok == "-" else "yellow")
        out.append([("  " + fmt(r), style)])
    out += [[(f"  ⚠ {esc.terminal(n)}", "yellow")] for n in m.notes]
    return out


def render_message_text(msg: Message, *, color: bool) -> str:
    lines: list[Line] = []
    sections: list[list[Block]] = [msg.head, list(msg.findings), msg.tail]
    for part in sections:
        if not part:
            continue
        if lines:
            lines.append([("", "")])
        for i, b in enumerate(part):
            lines.extend(_lines(b))
            if isinstance(b, FindingBlock) and i < len(part) - 1:
                lines.append([("", "")])
    while lines and lines[-1] == [("", "")]:
        lines.pop()
    if not color:
        return "\n".join("".join(t for t, _ in line).rstrip() for line in lines) + "\n"
    buf = io.StringIO()
    console = Console(
        file=buf,
        force_terminal=True,
        color_system="standard",
        width=WIDTH,
        soft_wrap=True,
        highlight=False,
        emoji=False,
        markup=False,
    )
    for line in lines:
        t = Text()
        for chunk, style in line:
            t.append(chunk, style=style or None)
        console.print(t)
    return buf.getvalue()


def render_text(outcome: Outcome, *, color: bool) -> str:
    """The console reply for any ``Outcome``; ``color`` when stdout is a terminal."""
    return render_message_text(build_message(outcome), color=color)
