"""Who may do what (config ``permissions``, docs/architecture.md): pure functions over the config.

``permissions`` maps a permission (``diagnose``, ``triage``, ``drift``,
``admin``) to entries: ``"*"`` (everyone), a user id (``U…``/``W…``), a user
group id (``S…``) or a channel id (``C…``/``G…``/``D…``, meaning "anyone, in
that channel"). Members of ``admin`` hold every permission. A permission that
is not configured is held by nobody but admins.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from bot import commands
from bot.request import parse_request
from probes.errors import BadInput

VERBS = {
    "diagnose": "diagnose",
    "triage": "ack or resolve incidents",
    "drift": "run drift reports",
    "admin": "administer whycant",
}


def required_permission(command: str) -> str | None:
    """The permission a command or button needs (``None``: anyone), from the command registry."""
    return commands.permission_for(command)


def _matches(entries: Sequence[str], user: str, channel: str | None, groups: Sequence[str]) -> bool:
    for e in entries:
        if e == "*" or e == user or (channel and e == channel) or e in groups:
            return True
    return False


def allowed(
    permissions: Mapping[str, Sequence[str]],
    action: str | None,
    user: str,
    channel: str | None = None,
    groups: Sequence[str] = (),
) -> bool:
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
    """The command a chat line is, for the front end's permission check before any work.

    The same grammar the service runs (``bot.request.parse_request``); a line the grammar
    refuses is still classed by its first words, so a malformed ``ack`` needs ``triage``."""
    try:
        return parse_request(text).intent
    except BadInput:
        m = commands.match(text.split())
        return m.command.name if m is not None else "diagnose"
