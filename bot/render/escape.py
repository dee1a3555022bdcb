"""Escaping for every front end: Slack mrkdwn and terminals.

Everything that comes from users or hosts (chat text, host names, command
output, error messages) goes through one of these before it is rendered, so
``<!channel>`` or ``<https://evil|db01>`` can never become a mention or a
link, and host output can never move a terminal's cursor.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,30}$")


def mrkdwn(text: object) -> str:
    """Slack's three control characters, as Slack documents them."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def code(text: object) -> str:
    """Text for inside a ``` block: escaped, and unable to close the block."""
    return mrkdwn(text).replace("```", "`\u200b`\u200b`")


def inline_code(text: object) -> str:
    """Text for inside `inline code`: escaped, no backticks, one line."""
    return mrkdwn(text).replace("`", "'").replace("\n", " ")


def mention(user: str | None) -> str:
    """``<@U123>`` for a real Slack user id, the escaped text otherwise."""
    if not user:
        return "someone"
    if _USER_ID.match(user):
        return f"<@{user}>"
    return mrkdwn(user)


def terminal(text: object) -> str:
    """Strip control characters (ESC sequences, bells, CRs) but keep newlines and tabs."""
    return _CONTROL.sub("", str(text))


def truncate(text: str, limit: int, *, more: str = "…") -> str:
    """Cut ``text`` to at most ``limit`` characters, ending with ``more``."""
    if len(text) <= limit:
        return text
    return text[: max(limit - len(more), 0)] + more


def truncate_lines(lines: list[str], limit: int, *, joiner: str = "\n", noun: str = "lines") -> str:
    """Join as many lines as fit in ``limit`` characters, then ``…and N more <noun>``."""
    out: list[str] = []
    used = 0
    for i, line in enumerate(lines):
        cost = len(line) + (len(joiner) if out else 0)
        tail = f"{joiner}…and {len(lines) - i} more {noun}"
        remaining_after = len(lines) - i - 1
        reserve = len(f"{joiner}…and {remaining_after} more {noun}") if remaining_after else 0
        if used + cost + reserve > limit:
            if not out:  # even the first line does not fit: cut it
                first = truncate(line, max(limit - len(tail), 1))
                return truncate(first + tail, limit)
            return joiner.join(out) + f"{joiner}…and {len(lines) - i} more {noun}"
        out.append(line)
        used += cost
    return joiner.join(out)
