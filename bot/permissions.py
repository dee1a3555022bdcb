"""Who may do what (DESIGN §6 ``permissions``): pure functions over the config.

``permissions`` maps a permission (``diagnose``, ``triage``, ``drift``,
``admin``) to entries: ``"*"`` (everyone), a user id (``U…``/``W…``), a user
group id (``S…``) or a channel id (``C…``/``G…``/``D…``, meaning "anyone, in
that channel"). Members of ``admin`` hold every permission. A permission that
is not configured is held by nobody but admins.
"""
from __future__ import annotations

from typing import Mapping, Sequence

# chat commands and buttons -> the permission they need
COMMAND_PERMISSION = {
    "diagnose": "diagnose",
    "rerun": "diagnose",
    "verify": "diagnose",
    "evidence": "diagnose",
    "incident": "diagnose",
    "incidents": "diagnose",
    "history": "diagnose",
    "help": None,
    "ack": "triage",
    "resolve": "triage",
    "drift": "drift",
}

VERBS = {"diagnose": "diagnose", "triage": "ack or resolve incidents", "drift": "run drift reports",
         "admin": "administer whycant"}


def required_permission(command: str) -> str | None:
    """The permission a command or button needs (``None``: anyone)."""
    return COMMAND_PERMISSION.get(command, "diagnose")


def _matches(entries: Sequence[str], user: str, channel: str | None, groups: Sequence[str]) -> bool:
    for e in entries:
        if e == "*" or e == user or (channel and e == channel) or e in groups:
            return True
    return False


def allowed(permissions: Mapping[str, Sequence[str]], action: str | None, user: str,
            channel: str | None = None, groups: Sequence[str] = ()) -> bool:
    """True when ``user`` (in ``channel``, member of ``groups``) holds ``action``."""
    if action is None:
        return True
    if _matches(permissions.get("admin", ()), user, channel, groups):
        return True
    return _matches(permissions.get(action, ()), user, channel, groups)


def uses_groups(permissions: Mapping[str, Sequence[str]]) -> bool:
    """Whether any entry names a user group (then the front end must look groups up)."""
    return any(e.startswith("S") for entries in permissions.values() for e in entries)


def refusal(action: str | None) -> str:
    return f"you may not {VERBS.get(action or '', action or 'do that')} (ask an admin for the `{action}` permission)"


def command_of(text: str) -> str:
    """The command a chat line is (the first word of the grammar), for permission checks."""
    words = text.strip().lower().split()
    if not words:
        return "help"
    first = words[0]
    if first in ("help", "?"):
        return "help"
    if first in ("incidents", "incident", "ack", "resolve", "drift", "history", "rerun", "verify", "evidence"):
        if first == "incident":
            for w in words[1:3]:
                if w in ("ack", "resolve"):
                    return w
        return first
    return "diagnose"
