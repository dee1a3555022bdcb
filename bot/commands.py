"""The command registry: every chat command declared once (StackStorm's alias idea).

A ``Command`` holds the grammar (its phrasings and how to read its arguments)
apart from the capability (the permission it needs and the ``Whycant`` method
that runs it), plus its help line and, for incident buttons, the button label.
The request grammar (``bot.request``), permissions (``bot.permissions``), the
help text, the Slack front end, the console and the reply buttons
(``bot.render.message``) all read ``COMMANDS``; adding a command is one entry
here and one handler method on ``bot.service.Whycant``.

Phrasings are word sequences matched at the start of a message (case
insensitive, longest first); the token ``#`` stands for an incident number
(``12`` or ``#12``), which is handed to the argument reader. Argument readers
are pure: words in, argument strings out, ``BadInput`` for malformed input.
This module imports nothing of the bot, so anything may import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from probes.errors import BadInput

__all__ = [
    "BUTTONS",
    "COMMANDS",
    "Command",
    "Match",
    "button_commands",
    "chat_commands",
    "get",
    "help_text",
    "match",
    "permission_for",
    "read_args",
]

ArgReader = Callable[[str, list[str]], list[str]]  # (command name, words after the phrasing) -> args
_NUMBER_FILLER = ("incident", "show", "number", "no", "id", "#")


def _incident_number(token: str) -> str | None:
    n = token.lstrip("#")
    return str(int(n)) if n.isdigit() and n.isascii() and len(n) <= 12 else None


def _number(name: str, words: list[str]) -> list[str]:
    """Exactly one incident number among filler words ("ack incident #3")."""
    rest = [w for w in words if w.lower() not in _NUMBER_FILLER]
    if len(rest) == 1:
        n = _incident_number(rest[0])
        if n is not None:
            return [n]
    raise BadInput(f"{name} needs an incident number, e.g. '{name} 12'")


def _optional_number(name: str, words: list[str]) -> list[str]:
    """The first incident number, if any (the handler says when one is missing)."""
    nums = [n for n in (_incident_number(w) for w in words) if n is not None]
    return nums[:1]


def _nothing(name: str, words: list[str]) -> list[str]:
    return []


def _topic(name: str, words: list[str]) -> list[str]:
    return words[:1]


def _incidents_filter(name: str, words: list[str]) -> list[str]:
    low = [w.lower() for w in words]
    if not low or low[0] in ("list", "open", "all", "recent"):
        return [w for w in low if w != "list"][:1]
    raise BadInput("incident needs an incident number, e.g. 'incident 12'")


def _selectors(name: str, words: list[str]) -> list[str]:
    skip = ("for", "on", "of", "in", "group", "hosts", "the", "and", "or", "&", "+")
    return [w for w in words if w.lower() not in skip]


def _one_host(name: str, words: list[str]) -> list[str]:
    hosts = [w for w in words if w.lower() not in ("of", "for", "on", "host", "the")]
    if not hosts:
        raise BadInput(f"{name} needs a host, e.g. '{name} db01'")
    return hosts[:1]


def _watch_text(name: str, words: list[str]) -> list[str]:
    """``watch db01:5432 from office for 4h every 10s``: the rest, read by ``bot.watch.spec``."""
    if not words:
        raise BadInput("watch what? e.g. 'watch db01:5432 from office for 4h'")
    return [" ".join(words)]


def _watch_number(name: str, words: list[str]) -> list[str]:
    nums = [n for n in (_incident_number(w) for w in words if w.lower() not in ("watch", "#")) if n is not None]
    if len(nums) != 1 or len([w for w in words if w.lower() not in ("watch", "#")]) != 1:
        raise BadInput(f"{name} needs a watch number, e.g. '{name} 3' (`watches` lists them)")
    return nums


@dataclass(frozen=True)
class Command:
    """One chat command: grammar (phrasings, args) apart from capability (permission, handler)."""

    name: str
    help: str  # one line for `help`; empty: not listed
    handler: str  # the ``bot.service.Whycant`` method that runs it
    permission: str | None  # config ``permissions`` key; None: anyone
    phrasings: tuple[str, ...] = ()  # empty: not typed in chat (a button, or the fallback)
    args: ArgReader = _nothing
    button: str | None = None  # label of the incident button that runs it
    probes: bool = False  # runs probes (so it means nothing for a pasted incident)
    raw: bool = False  # takes the raw text after its phrasing (a paste), not words


COMMANDS: tuple[Command, ...] = (
    Command(
        "help", "help — this list", "cmd_help", None, phrasings=("help", "usage", "commands", "?", "h"), args=_topic
    ),
    Command(
        "diagnose",
        "why can't I connect to db01:5432 [from office] — probe and diagnose",
        "cmd_diagnose",
        "diagnose",
        probes=True,
    ),
    Command(
        "analyze",
        "analyze + a pasted block or an attached text file (netstat -s, nstat, sysctl -a, ss -ltn)"
        " — diagnose pasted output, nothing is probed",
        "cmd_analyze",
        "diagnose",
        phrasings=("analyze", "analyse"),
        raw=True,
    ),
    Command(
        "incidents",
        "incidents [open|all] — open incidents",
        "cmd_incidents",
        "diagnose",
        phrasings=("incidents", "list incidents"),
        args=_incidents_filter,
    ),
    Command(
        "incident",
        "incident 42 — one incident, its findings and audit trail",
        "cmd_incident",
        "diagnose",
        phrasings=("incident", "show incident", "incidents show", "incidents #"),
        args=_number,
    ),
    Command(
        "rerun",
        "rerun 42 — diagnose an incident again",
        "cmd_incident",
        "diagnose",
        phrasings=("rerun", "re-run", "retry"),
        args=_optional_number,
        button="Re-run",
        probes=True,
    ),
    Command(
        "ack",
        "ack 42 — acknowledge an incident",
        "cmd_incident",
        "triage",
        phrasings=("ack", "acknowledge", "acked", "incidents ack", "incident # ack"),
        args=_number,
        button="Ack",
    ),
    Command(
        "resolve",
        "resolve 42 — close an incident",
        "cmd_incident",
        "triage",
        phrasings=("resolve", "close", "incidents resolve", "incident # resolve"),
        args=_number,
        button="Resolve",
    ),
    Command(
        "evidence",
        "evidence 42 — the raw evidence of an incident",
        "cmd_incident",
        "diagnose",
        phrasings=("evidence", "show evidence"),
        args=_number,
        button="Show evidence",
    ),
    Command(
        "verify",
        "verify 42 — re-run and resolve the incident when its findings are gone",
        "cmd_incident",
        "diagnose",
        phrasings=("verify", "verify fix"),
        args=_number,
        button="Verify fix",
        probes=True,
    ),
    Command(
        "history",
        "history db01 — past incidents of a host",
        "cmd_history",
        "diagnose",
        phrasings=("history",),
        args=_one_host,
    ),
    Command(
        "drift",
        "drift [db01|group:db] — sysctl drift report",
        "cmd_drift",
        "drift",
        phrasings=("drift",),
        args=_selectors,
    ),
    Command(
        "watch",
        "watch db01:5432 [from office] [for 4h] [every 10s] — catch an intermittent failure",
        "cmd_watch",
        "diagnose",
        phrasings=("watch",),
        args=_watch_text,
        probes=True,
    ),
    Command("watches", "watches — the running watches", "cmd_watch", "diagnose", phrasings=("watches", "list watches")),
    Command(
        "unwatch",
        "unwatch 3 — stop a watch (its summary follows in its thread)",
        "cmd_watch",
        "diagnose",
        phrasings=("unwatch", "stop watch"),
        args=_watch_number,
    ),
    Command("waive", "", "waive", "drift"),  # the drift report's "Waive 30 days" button
)

_BY_NAME: Mapping[str, Command] = {c.name: c for c in COMMANDS}
BUTTONS: tuple[str, ...] = tuple(c.name for c in COMMANDS if c.button)


def get(name: str) -> Command | None:
    return _BY_NAME.get(name)


def permission_for(name: str) -> str | None:
    """The permission a command or button needs; an unknown name is itself a permission (``admin``)."""
    cmd = _BY_NAME.get(name)
    return cmd.permission if cmd is not None else name


def chat_commands() -> list[Command]:
    return [c for c in COMMANDS if c.phrasings]


def button_commands() -> list[Command]:
    return [c for c in COMMANDS if c.button]


@dataclass(frozen=True)
class Match:
    command: Command
    length: int  # words the phrasing used
    numbers: tuple[str, ...]  # incident numbers the phrasing's ``#`` took


def _match_one(phrasing: Sequence[str], low: Sequence[str]) -> tuple[str, ...] | None:
    if len(low) < len(phrasing):
        return None
    numbers: list[str] = []
    for want, word in zip(phrasing, low):
        if want == "#":
            n = _incident_number(word)
            if n is None:
                return None
            numbers.append(n)
        elif want != word:
            return None
    return tuple(numbers)


_PHRASINGS = sorted(((tuple(p.split()), c) for c in COMMANDS for p in c.phrasings), key=lambda pc: -len(pc[0]))


def match(words: Sequence[str]) -> Match | None:
    """The command the first words name (the longest phrasing wins), or None (a diagnosis)."""
    low = [w.lower() for w in words]
    for phrasing, cmd in _PHRASINGS:
        numbers = _match_one(phrasing, low)
        if numbers is not None:
            return Match(cmd, len(phrasing), numbers)
    return None


def read_args(m: Match, words: Sequence[str]) -> list[str]:
    """The command's arguments from the words after its phrasing."""
    return m.command.args(m.command.name, [*m.numbers, *words[m.length :]])


HELP_INTRO = """\
Ask me why a connection fails, e.g.:
  why can't I connect to db01:5432
  db01:postgres from office
  is db01:5432 reachable from dc and office"""


def help_text() -> str:
    """The reply to `help`, one line per chat command."""
    lines = [HELP_INTRO, "Commands:"]
    lines += [f"  {c.help}" for c in COMMANDS if c.help]
    lines.append("Every finding carries an id in brackets, e.g. [listen-queue-overflow].")
    return "\n".join(lines)
