"""Block Kit limits and injection checks, applied to everything the bot sends.

Independent of the renderer on purpose: the renderer is tested against this,
not against itself. Returns human-readable violations; tests assert ``[]``.
"""

from __future__ import annotations

import json
import re
from typing import Any

INJECTION = re.compile(r"<!(channel|here|everyone)|<https?://|<mailto:|<!subteam|<#C")
# mentions the bot builds on purpose: <@U…>; anything else in angle brackets is an injection
ANGLE = re.compile(r"<(?!@[UW][A-Z0-9]+>)[^>]*>")


def _texts(obj: Any) -> list[str]:
    out: list[str] = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == "text" and isinstance(v, str):
                out.append(v)
            else:
                out.extend(_texts(v))
    elif isinstance(obj, list):
        for v in obj:
            out.extend(_texts(v))
    return out


def check_text(text: str, where: str) -> list[str]:
    v = []
    if INJECTION.search(text) or ANGLE.search(text):
        v.append(f"{where}: unescaped Slack markup in {text[:120]!r}")
    return v


def check_blocks(blocks: Any, *, surface: str = "message") -> list[str]:
    """Violations of Block Kit limits in ``blocks`` (a list, or a JSON string)."""
    if isinstance(blocks, str):
        try:
            blocks = json.loads(blocks)
        except ValueError:
            return ["blocks: not valid JSON"]
    if blocks is None:
        return []
    v: list[str] = []
    if not isinstance(blocks, list):
        return ["blocks: not a list"]
    limit = 100 if surface in ("home", "modal") else 50
    if len(blocks) > limit:
        v.append(f"{len(blocks)} blocks > {limit} ({surface})")
    block_ids = set()
    for i, b in enumerate(blocks):
        where = f"block {i} ({b.get('type')})"
        bid = b.get("block_id")
        if bid is not None:
            if len(bid) > 255:
                v.append(f"{where}: block_id longer than 255")
            if bid in block_ids:
                v.append(f"{where}: duplicate block_id {bid!r}")
            block_ids.add(bid)
        t = b.get("type")
        if t == "section":
            text = (b.get("text") or {}).get("text", "")
            if not text and not b.get("fields"):
                v.append(f"{where}: section without text or fields")
            if len(text) > 3000:
                v.append(f"{where}: section text {len(text)} > 3000")
            fields = b.get("fields") or []
            if len(fields) > 10:
                v.append(f"{where}: {len(fields)} fields > 10")
            for f in fields:
                if len(f.get("text", "")) > 2000:
                    v.append(f"{where}: field text > 2000")
        elif t == "context":
            els = b.get("elements") or []
            if not els or len(els) > 10:
                v.append(f"{where}: {len(els)} context elements (1..10)")
            for e in els:
                if len(e.get("text", "")) > 2000:
                    v.append(f"{where}: context element {len(e.get('text', ''))} > 2000")
        elif t == "header":
            text = (b.get("text") or {}).get("text", "")
            if len(text) > 150 or b["text"].get("type") != "plain_text":
                v.append(f"{where}: header text must be plain_text <= 150")
        elif t == "actions":
            els = b.get("elements") or []
            if not els or len(els) > 25:
                v.append(f"{where}: {len(els)} action elements (1..25)")
            ids = [e.get("action_id") for e in els]
            if len(ids) != len(set(ids)):
                v.append(f"{where}: duplicate action_id in one block")
            for e in els:
                if len(e.get("text", {}).get("text", "")) > 75:
                    v.append(f"{where}: button text > 75")
                if len(str(e.get("value", ""))) > 2000:
                    v.append(f"{where}: button value > 2000")
                if len(str(e.get("action_id", ""))) > 255:
                    v.append(f"{where}: action_id > 255")
        elif t not in ("divider", "image", "rich_text", "input", "file"):
            v.append(f"{where}: unexpected block type")
    for text in _texts(blocks):
        v.extend(check_text(text, "blocks"))
    return v


def check_message(args: dict, *, surface: str = "message") -> list[str]:
    """A chat.postMessage / chat.update / postEphemeral / views.publish argument set."""
    v: list[str] = []
    if surface == "message":
        text = args.get("text")
        if not text:
            v.append("message without fallback `text`")
        elif len(text) > 40000:
            v.append("text > 40000")
        else:
            v.extend(check_text(text, "text"))
        v.extend(check_blocks(args.get("blocks"), surface="message"))
    else:
        view = args.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        v.extend(check_blocks((view or {}).get("blocks"), surface=surface))
    return v
