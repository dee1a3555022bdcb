"""Block Kit renderer for the reply model (``bot.render.message``).

Limits honoured (https://docs.slack.dev/reference/block-kit/blocks): 50 blocks
per message, 100 in a Home tab, 3000 characters per section text, 2000 per
context element and per section field, 10 context elements, 25 elements per
actions block, 150 characters in a header, 2000 in a button value. Anything
over a limit is cut with a visible "…and N more", never by failing the post.
Every string from a user or host is escaped (``escape.mrkdwn``).
"""

from __future__ import annotations

from typing import Any

from bot.outcome import Outcome, Progress
from bot.render import escape as esc
from bot.render.build import build_message, progress_message
from bot.render.incidents import home_model
from bot.render.message import (
    SEVERITY_EMOJI,
    Block,
    Button,
    Buttons,
    Confirm,
    Context,
    Divider,
    DriftGroup,
    DriftLine,
    FindingBlock,
    Heading,
    Items,
    Matrix,
    Message,
    Notice,
    Paragraph,
    Verdict,
)

MAX_BLOCKS = 50
MAX_HOME_BLOCKS = 100
MAX_SECTION = 3000
MAX_CONTEXT_ELEMENT = 2000
MAX_CONTEXT_ELEMENTS = 10
MAX_HEADER = 150
MAX_BUTTON_VALUE = 2000
MAX_TEXT = 3000  # fallback `text`: Slack allows 40k, a notification needs far less

Json = dict[str, Any]

NOTICE_EMOJI = {"warning": "⚠", "error": "🚫", "critical": "🔴", "info": "ℹ", "ok": "✅"}


# ----------------------------------------------------------------- primitives
def section(text: str) -> Json:
    return {"type": "section", "text": {"type": "mrkdwn", "text": esc.truncate(text, MAX_SECTION)}}


def context(lines: list[str]) -> Json:
    elems = [{"type": "mrkdwn", "text": esc.truncate(t, MAX_CONTEXT_ELEMENT)} for t in lines if t]
    if len(elems) > MAX_CONTEXT_ELEMENTS:
        extra = len(elems) - (MAX_CONTEXT_ELEMENTS - 1)
        elems = elems[: MAX_CONTEXT_ELEMENTS - 1] + [{"type": "mrkdwn", "text": f"…and {extra} more"}]
    return {"type": "context", "elements": elems or [{"type": "mrkdwn", "text": " "}]}


def header(text: str) -> Json:
    return {"type": "header", "text": {"type": "plain_text", "text": esc.truncate(text, MAX_HEADER), "emoji": True}}


def button(b: Button, *, block_suffix: str = "") -> Json:
    out: Json = {
        "type": "button",
        "text": {"type": "plain_text", "text": b.label, "emoji": True},
        "action_id": b.action_id,
        "value": esc.truncate(b.value, MAX_BUTTON_VALUE, more=""),
    }
    if b.style:
        out["style"] = b.style
    confirm = b.confirm
    if confirm is None and b.action == "resolve":
        confirm = Confirm("Resolve incident?", f"Mark incident #{b.value[:100]} as resolved.", "Resolve")
    if confirm is not None:
        out["confirm"] = {
            "title": {"type": "plain_text", "text": esc.truncate(confirm.title, 100)},
            "text": {"type": "plain_text", "text": esc.truncate(confirm.text, 300)},
            "confirm": {"type": "plain_text", "text": esc.truncate(confirm.confirm, 30)},
            "deny": {"type": "plain_text", "text": esc.truncate(confirm.deny, 30)},
        }
    return out


def actions(buttons: list[Button], block_id: str | None = None) -> Json:
    out: Json = {"type": "actions", "elements": [button(b) for b in buttons[:25]]}
    if block_id:
        out["block_id"] = block_id[:255]
    return out


def _code(label: str | None, code: str, limit: int) -> str:
    """A labelled ``` block whose total length stays within ``limit``."""
    prefix = f"_{esc.mrkdwn(label)}_\n" if label else ""
    budget = limit - len(prefix) - 6
    body = esc.truncate_lines([esc.code(line) for line in code.rstrip("\n").splitlines()] or [""], budget)
    return f"{prefix}```{body}```"


# ----------------------------------------------------------------- blocks
def _verdict(v: Verdict) -> list[Json]:
    emoji = SEVERITY_EMOJI.get(v.level or "", "")
    text = f"{emoji} *{esc.mrkdwn(v.text)}*".strip()
    ctx = []
    if v.subtitle:
        ctx.append(esc.mrkdwn(v.subtitle))
    if v.asker:
        ctx.append(f"asked by {esc.mention(v.asker)}")
    out = [section(text)]
    if ctx:
        out.append(context([" · ".join(ctx)]))
    return out


def _fixes(fixes: list[tuple[str, str]]) -> str:
    """All fix code blocks in one section; when too long, the budget is shared fairly."""
    title = "*Fix*"
    full = [_code(label, code, 10**9) for label, code in fixes]
    if len(title) + sum(len(p) + 1 for p in full) <= MAX_SECTION:
        return "\n".join([title, *full])
    remaining = MAX_SECTION - len(title) - len(fixes)
    budgets: dict[int, int] = {}
    order = sorted(range(len(full)), key=lambda i: len(full[i]))
    for n, i in enumerate(order):
        share = remaining // (len(order) - n)
        budgets[i] = min(len(full[i]), share)
        remaining -= budgets[i]
    parts = [_code(label, code, budgets[i]) for i, (label, code) in enumerate(fixes)]
    return "\n".join([title, *parts])


def _finding(f: FindingBlock) -> list[Json]:
    emoji = SEVERITY_EMOJI.get(f.severity, "")
    headline = f"{emoji} *{f.rank}. {esc.mrkdwn(f.title)}* `[{esc.inline_code(f.id)}]` _{esc.mrkdwn(f.severity)}_"
    if f.confidence < 1.0:
        headline += f" · confidence {f.confidence:.0%}"
    body = esc.mrkdwn(f.explanation)
    top = headline + ("\n" + body if body else "")
    # keep the headline whole; the explanation and evidence share what is left
    evidence = [f"• {esc.mrkdwn(line)}" for line in f.evidence]
    room = MAX_SECTION - len(top) - 1
    if room < 200:
        top = esc.truncate(top, MAX_SECTION - 300)
        room = MAX_SECTION - len(top) - 1
    text = top + ("\n" + esc.truncate_lines(evidence, room, noun="evidence lines") if evidence else "")
    out = [section(text)]
    if f.fixes:
        out.append(section(_fixes(f.fixes)))
    if f.references:
        refs = " · ".join(esc.mrkdwn(r) for r in f.references[:5])
        out.append(context([f"📚 {refs}"]))
    return out


def _matrix(m: Matrix) -> list[Json]:
    widths = [len(c) for c in m.columns]
    for row in m.rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    widths[0] = min(widths[0], 24)

    def fmt(row: list[str]) -> str:
        cells = [
            esc.truncate(c, widths[i]).ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(row)
        ]
        return "  ".join(cells).rstrip()

    lines = [esc.code(fmt(m.columns))] + [esc.code(fmt(r)) for r in m.rows]
    title = f"*{esc.mrkdwn(m.title)}*\n"
    table = esc.truncate_lines(lines, MAX_SECTION - len(title) - 6, noun="vantages")
    out = [section(f"{title}```{table}```")]
    if m.notes:
        out.append(context([f"⚠ {esc.mrkdwn(n)}" for n in m.notes]))
    return out


def _items(b: Items, *, max_blocks: int) -> list[Json]:
    out: list[Json] = []
    if b.title:
        out.append(section(f"*{esc.mrkdwn(b.title)}*"))
    if not b.items:
        out.append(context([esc.mrkdwn(b.empty)]))
        return out
    if any(it.buttons for it in b.items):  # one section (+ actions) per item
        used = len(out)
        for i, it in enumerate(b.items):
            need = 2 if it.buttons else 1
            if used + need + 1 > max_blocks and i < len(b.items):
                out.append(context([f"…and {len(b.items) - i} more"]))
                break
            emoji = SEVERITY_EMOJI.get(it.level or "", "•")
            out.append(section(f"{emoji} {esc.mrkdwn(it.text)}"))
            if it.buttons:
                out.append(actions(it.buttons, block_id=f"item_{i}"))
            used += need
        return out
    lines = [f"{SEVERITY_EMOJI.get(it.level or '', '•')} {esc.mrkdwn(it.text)}" for it in b.items]
    out.append(section(esc.truncate_lines(lines, MAX_SECTION)))
    return out


def _drift_line(d: DriftLine, *, details: bool) -> str:
    """One drift, mrkdwn: host, key, value, expectation, lens, finding id (and detail, fix, waiver)."""
    finding = f" `[{esc.inline_code(d.finding)}]`" if d.finding else ""
    lines = [
        f"{SEVERITY_EMOJI.get(d.severity, '•')} *{esc.mrkdwn(d.host)}* `{esc.inline_code(d.key)}` = "
        f"`{esc.inline_code(d.value)}`, expected {esc.mrkdwn(d.expected)} — _{esc.mrkdwn(d.lens)}_{finding}"
    ]
    if details and d.detail:
        lines.append(f"> {esc.mrkdwn(d.detail)}")
    if details and d.fix:
        lines.append(f"fix: ```{esc.code(esc.truncate(d.fix, 800))}```")
    if details and d.waived:
        lines.append(f"waived {esc.mrkdwn(d.waived)}")
    return "\n".join(lines)


def _drift_group(g: DriftGroup) -> list[Json]:
    """Sections of at most 3000 characters, each drift whole; a drift with a button gets its own section
    with the button beside it (the title rides on the first section)."""
    out: list[Json] = []
    title = f"*{esc.mrkdwn(g.title)}*" if g.title else ""
    text, fresh = title, True  # fresh: text holds nothing but the title
    for d in g.drifts:
        piece = _drift_line(d, details=g.details)
        if d.button is not None:
            if text and not fresh:
                out.append(section(text))
            body = f"{text}\n{piece}" if fresh and text else piece
            out.append({**section(body), "accessory": button(d.button)})
            text, fresh = "", False
            continue
        if text and len(text) + len(piece) + 1 > MAX_SECTION - 50:
            out.append(section(text))
            text = f"*{esc.mrkdwn(g.title)}* (cont.)" if g.title else ""
        text = f"{text}\n{piece}" if text else piece
        fresh = False
    if g.more:
        text = f"{text}\n{esc.mrkdwn(g.more)}" if text else esc.mrkdwn(g.more)
    if text and (not fresh or not out):
        out.append(section(text))
    return out


def render_block(b: Block, *, max_blocks: int = MAX_BLOCKS) -> list[Json]:
    if isinstance(b, Verdict):
        return _verdict(b)
    if isinstance(b, Notice):
        mark = NOTICE_EMOJI.get(b.level, "⚠")
        lines = [f"{mark} {esc.mrkdwn(line)}" for line in b.text.splitlines() or [""]]
        return [section(esc.truncate_lines(lines, MAX_SECTION))]
    if isinstance(b, Paragraph):
        return [section(esc.mrkdwn(b.text) or " ")]
    if isinstance(b, Heading):
        return [header(b.text)]
    if isinstance(b, FindingBlock):
        return _finding(b)
    if isinstance(b, Matrix):
        return _matrix(b)
    if isinstance(b, Context):
        return [context([esc.mrkdwn(line) for line in b.lines])]
    if isinstance(b, Buttons):
        return [actions(b.buttons, block_id="whycant_actions")]
    if isinstance(b, Items):
        return _items(b, max_blocks=max_blocks)
    if isinstance(b, Divider):
        return [{"type": "divider"}]
    if isinstance(b, DriftGroup):
        return _drift_group(b)
    raise TypeError(f"unknown block {type(b).__name__}")


# ----------------------------------------------------------------- messages
def render_blocks(msg: Message, *, max_blocks: int = MAX_BLOCKS) -> list[Json]:
    """Head, as many findings as fit (whole, best first), "…and N more", tail."""
    head = [x for b in msg.head for x in render_block(b, max_blocks=max_blocks)]
    tail = [x for b in msg.tail for x in render_block(b, max_blocks=max_blocks)]
    units = [render_block(f) for f in msg.findings]
    if len(head) + len(tail) > max_blocks:  # pathological: keep the buttons, cut the rest
        keep_tail = tail[-1:] if tail and tail[-1]["type"] == "actions" else []
        head = head[: max_blocks - len(keep_tail) - 1] + [context(["…and more (message cut to fit Slack)"])]
        return head + keep_tail
    room = max_blocks - len(head) - len(tail)
    body: list[Json] = []
    shown = 0
    for i, unit in enumerate(units):
        left_after = len(units) - i - 1
        need = len(unit) + (1 if left_after else 0)
        if len(body) + need > room:
            break
        body.extend(unit)
        shown += 1
    if shown < len(units):
        dropped = msg.findings[shown:]
        if len(body) + 1 > room and body:  # make room for the notice
            body = body[: room - 1]
        ids = ", ".join(f"[{esc.inline_code(f.id)}]" for f in dropped)
        body.append(context([f"…and {len(dropped)} more findings: {ids}"]))
    return head + body + tail


def fallback_text(msg: Message) -> str:
    return esc.truncate(esc.mrkdwn(msg.fallback or "whycant"), MAX_TEXT)


def render_message(msg: Message) -> Json:
    """``{"text", "blocks"}`` ready for chat.postMessage / chat.update / postEphemeral."""
    return {"text": fallback_text(msg), "blocks": render_blocks(msg)}


def render_outcome(outcome: Outcome) -> Json:
    return render_message(build_message(outcome))


def render_progress(progress: Progress | None, *, target: str | None = None) -> Json:
    return render_message(progress_message(progress, target=target))


def render_home(incidents: list[dict], drift_summary: str | None = None) -> Json:
    """The App Home view for views.publish."""
    msg = home_model(incidents, drift_summary)
    others = [b for b in msg.head if not isinstance(b, Items)]
    fixed = sum(len(render_block(b)) for b in others)
    blocks: list[Json] = []
    for b in msg.head:
        blocks.extend(render_block(b, max_blocks=MAX_HOME_BLOCKS - fixed))
    return {"type": "home", "blocks": blocks[:MAX_HOME_BLOCKS]}
