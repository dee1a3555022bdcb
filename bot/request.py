"""The chat grammar: free text -> intent, target, port or service, vantages.

Two steps, apart from any capability (StackStorm style):

* ``parse_request(text)`` is pure and knows nothing of the inventory: it
  undoes Slack's wrapping (mentions, ``<http://db01|db01>`` links, curly
  quotes), finds the intent and picks out the tokens.
* ``resolve_request(parsed, inventory)`` turns tokens into inventory objects.
  Every string in a returned ``Request`` (target, address, service, vantages)
  is taken from the inventory, never from the text, so nothing typed in chat
  can reach a command line. Only ``Request.text`` carries the original words
  (for display and storage; never pass it to a shell).

Errors are ``BadInput`` (exit 2) with a one-line reason.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bot import commands
from bot.inventory import BOT_VANTAGE, Inventory, UnknownHost, with_bot_vantage
from probes.errors import BadInput
from probes.evidence import Request
from probes.inventory import Host

__all__ = [
    "INTENTS",
    "MAX_SERVICES",
    "MAX_VANTAGES",
    "ParsedRequest",
    "parse_request",
    "resolve_request",
    "resolve_hosts",
]

INTENTS = tuple(c.name for c in commands.COMMANDS if c.phrasings or c.name == "diagnose")
MAX_PASTE = 256 * 1024  # characters of one pasted analyze block or attached file
MAX_SERVICES = 5  # no port given and the host has more services than this: ask which
MAX_VANTAGES = 10
MAX_TEXT = 4000
EXAMPLE = "e.g. \"why can't I connect to db01:5432\""


@dataclass
class ParsedRequest:
    """What the text asks, before the inventory is consulted (all tokens raw)."""

    target_token: str | None = None
    port: int | None = None
    service: str | None = None  # given explicitly: "db01:postgres", "service postgres"
    vantage_tokens: list[str] = field(default_factory=list)
    intent: str = "diagnose"
    args: list[str] = field(default_factory=list)  # incident number, drift selectors, history host
    extra_tokens: list[str] = field(default_factory=list)  # other words that may name a service
    text: str = ""
    paste: str | None = None  # analyze: the pasted output, raw


# --------------------------------------------------------------------------- normalising

_QUOTES = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201b": "'", "\u02bc": "'", "\u00b4": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2033": '"', "\u00ab": '"', "\u00bb": '"',
})
_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_SLACK = re.compile(r"<([^<>]*)>")
_LEAD = "\"'([{<*~`"
_TRAIL = "?!.,;\"')]}>*~`"
_GREETING = r"(?:(?:hey|hi|hello|yo|whycant|please|pls)[\s,:]+)*"
_ANALYZE = re.compile(r"\s*(?:<@[A-Z0-9]+(?:\|[^>]*)?>[\s,:]*)*" + _GREETING + r"analy[sz]e\b:?(.*)\Z",
                      re.IGNORECASE | re.DOTALL)
_FENCE = re.compile(r"```[ \t]*(?:[A-Za-z0-9_+-]*[ \t]*\n)?(.*?)```", re.DOTALL)


def _unwrap_link(inner: str) -> str:
    """Slack's ``<...>`` markup to plain text: mentions vanish, links become their label."""
    if inner[:1] in ("@", "!", "#"):
        return " "
    if "|" in inner:
        return " " + inner.split("|", 1)[1] + " "
    return " " + inner + " "


def _url_to_hostport(tok: str) -> str:
    """``http://u@db01:5432/x`` -> ``db01:5432``; ``mailto:x@db01`` -> ``db01``."""
    low = tok.lower()
    if low.startswith("mailto:"):
        return tok[7:].rsplit("@", 1)[-1]
    if "://" in tok:
        try:
            netloc = urlsplit(tok).netloc
        except ValueError:
            netloc = tok.split("://", 1)[1].split("/", 1)[0]
        return netloc.rsplit("@", 1)[-1]
    return tok


def _clean(tok: str) -> str:
    tok = _url_to_hostport(tok)
    if "@" in tok:  # root@db01, x@db01 (mail-style)
        tok = tok.rsplit("@", 1)[-1]
    lead = _LEAD if "]" not in tok else _LEAD.replace("[", "")
    trail = _TRAIL if "[" not in tok else _TRAIL.replace("]", "")
    tok = tok.lstrip(lead).rstrip(trail)
    if tok.lower().endswith("'s"):
        tok = tok[:-2]
    if tok.endswith(":") and not tok.endswith("::"):
        tok = tok.rstrip(":").rstrip(trail)
    return tok


def _words(text: str) -> list[str]:
    if len(text) > MAX_TEXT:
        raise BadInput(f"the message is too long ({len(text)} characters; at most {MAX_TEXT})")
    t = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    t = _ZERO_WIDTH.sub("", t)
    t = _SLACK.sub(lambda m: _unwrap_link(m.group(1)), t)
    out = []
    for raw in re.split(r"[\s,]+", t):
        tok = _clean(raw)
        if tok and any(c.isalnum() for c in tok):
            out.append(tok)
    return out


# --------------------------------------------------------------------------- vocabulary

_MODALS = {
    "can't", "cant", "cannot", "can", "not", "couldn't", "couldnt", "could", "won't", "wont",
    "doesn't", "doesnt", "does", "don't", "dont", "do", "isn't", "isnt", "is", "are", "aren't",
    "arent", "why", "how", "come", "still", "suddenly", "no", "longer", "never", "unable",
}
_VERBS = {
    "connect", "connecting", "connects", "reach", "reaching", "reaches", "access", "accessing",
    "talk", "talking", "get", "getting", "hit", "ping", "contact", "open", "see", "ssh", "login",
    "log", "use",
}
_PRONOUNS = {
    "i", "we", "you", "they", "he", "she", "it", "me", "us", "users", "user", "people", "anyone",
    "someone", "nobody", "clients", "client", "customers", "folks", "everyone", "this", "that",
}
_FILLER = {
    "why", "what", "what's", "whats", "where", "when", "how", "is", "are", "was", "were", "be", "been",
    "the", "a", "an", "to", "into", "with", "at", "of", "for", "in", "on", "over", "via", "using", "by",
    "and", "or", "but", "so", "please", "pls", "plz", "hey", "hi", "hello", "yo", "ok", "okay",
    "whycant", "ask", "check", "diagnose", "debug", "look", "again", "now", "today",
    "anymore", "any", "more", "reachable", "unreachable", "reachability", "up", "down", "working",
    "work", "works", "broken", "failing", "fails", "fail", "failed", "slow", "timing", "times",
    "timeout", "timeouts", "out", "refused", "refusing", "refuses", "connection", "connections",
    "host", "server", "there", "here", "my", "our", "your", "their", "its",
    "both", "either", "all", "some", "just", "even", "only", "also", "tcp", "me?", "thanks", "thx",
    "port", "service", "from", "have", "has", "had", "keep", "keeps", "randomly",
    "intermittent", "intermittently", "sometimes", "always", "lately", "suddenly", "else",
} | _MODALS | _VERBS | _PRONOUNS
_LIST_FILLER = {"and", "or", "&", "+", "both", "the", "either", "nor", "also", "our", "my", "vantage", "vantages"}
_ALL_VANTAGES = {"everywhere", "anywhere", "all", "every", "*"}
_SERVICE_RE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,62}\Z")
_PORT_RE = re.compile(r"(?:tcp/)?(\d+)(?:/tcp)?\Z", re.IGNORECASE)


def _port(s: str) -> int:
    if len(s) > 6:
        raise BadInput(f"port {s[:12]}… is not in 1..65535")
    p = int(s)
    if not 1 <= p <= 65535:
        raise BadInput(f"port {p} is not in 1..65535")
    return p


def _as_port(tok: str) -> int | None:
    m = _PORT_RE.match(tok)
    return _port(m.group(1)) if m else None


def split_hostport(tok: str) -> tuple[str, int | None, str | None]:
    """``db01:5432`` / ``db01:postgres`` / ``[2001:db8::1]:5432`` / bare IPv6."""
    rest: str | None = None
    m = re.fullmatch(r"\[([^\]]*)\](?::(.*))?", tok)
    if m:
        host, rest = m.group(1), m.group(2)
    elif tok.count(":") == 1:
        host, rest = tok.split(":", 1)
    else:
        host = tok  # a name, or an IPv6 address without brackets (no port possible)
    if not host:
        raise BadInput(f"{_show(tok)}: no host name before the port; {EXAMPLE}")
    if not rest:
        return host, None, None
    if rest.isdigit():
        return host, _port(rest), None
    if _SERVICE_RE.match(rest):
        return host, None, rest
    raise BadInput(f"{_show(rest)} after {_show(host)}: is not a port number or a service name")


def _show(s: str, limit: int = 64) -> str:
    clean = "".join(c if c.isprintable() else "?" for c in s)
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


# --------------------------------------------------------------------------- intents


def _command(words: list[str]) -> ParsedRequest | None:
    """A registry command (``bot.commands``) named by the first words, or None (a diagnosis)."""
    if not words:
        return ParsedRequest(intent="help")
    m = commands.match(words)
    if m is None:
        return None
    return ParsedRequest(intent=m.command.name, args=commands.read_args(m, words))


def _paste(text: str) -> ParsedRequest | None:
    """``analyze`` + pasted output: the raw text after the word, before any tokenising."""
    m = _ANALYZE.match(text)
    if m is None:
        return None
    body = m.group(1)
    fenced = _FENCE.findall(body)
    if fenced:
        body = "\n".join(fenced)
    body = body.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")  # Slack's escaping
    body = body.strip("\n")
    if not body.strip():
        raise BadInput("analyze needs the output to read: paste it after `analyze` (a code block is best) "
                       "or attach a text file")
    if len(body) > MAX_PASTE:
        raise BadInput(f"the paste is too large ({len(body):,} characters; at most {MAX_PASTE:,}): "
                       "keep only the command outputs, or run `whycant analyze FILE` on the host")
    return ParsedRequest(intent="analyze", paste=body, text=text)


# --------------------------------------------------------------------------- parse


def parse_request(text: str) -> ParsedRequest:
    """Parse one chat line. Pure; raises BadInput for malformed ports and commands."""
    pasted = _paste(text)
    if pasted is not None:
        return pasted
    words = _words(text)
    while words and words[0].lower() in ("hey", "hi", "hello", "yo", "whycant", "please", "pls"):
        words = words[1:]
    if words and words[0].lower() == "ask":
        words = words[1:]
    cmd = _command(words)
    if cmd is not None:
        cmd.text = text
        return cmd

    low = [w.lower() for w in words]
    used: set[int] = set()
    vantages: list[str] = []

    # "from dc and office", "from everywhere"
    i = 0
    while i < len(words):
        if low[i] != "from":
            i += 1
            continue
        used.add(i)
        j = i + 1
        while j < len(words):
            w = low[j]
            if w in _LIST_FILLER:
                used.add(j)
            elif w in _ALL_VANTAGES:
                vantages.append("all")
                used.add(j)
            elif w in _FILLER or _PORT_RE.match(w):
                break
            else:
                vantages.append(words[j])
                used.add(j)
            j += 1
        i = j

    # The subject of "why can't app01 reach ...", "office can't connect to ..."
    verb = next((k for k, w in enumerate(low) if w in _VERBS and k not in used), None)
    if verb is not None:
        k = verb - 1
        while k >= 0 and low[k] in _MODALS:
            k -= 1
        if k >= 0 and k not in used and low[k] not in _FILLER and not _PORT_RE.match(low[k]):
            vantages.insert(0, words[k])
            used.add(k)

    # Explicit ports and services: "on 443", "port 5432", "service postgres", bare numbers.
    port: int | None = None
    service: str | None = None
    ports: list[int] = []
    for k, w in enumerate(low):
        if k in used:
            continue
        p = _as_port(w)
        if p is not None:
            ports.append(p)
            used.add(k)
        elif w in ("service", "port") and k + 1 < len(words) and k + 1 not in used:
            nxt = words[k + 1]
            if _PORT_RE.match(nxt):
                continue
            if not _SERVICE_RE.match(nxt):
                raise BadInput(f"{_show(nxt)} is not a port number or a service name")
            service = nxt
            used.update((k, k + 1))

    # The target: the first candidate after the verb, else the first candidate.
    cands = [k for k, w in enumerate(low) if k not in used and w not in _FILLER]
    after = [k for k in cands if verb is not None and k > verb]
    target: str | None = None
    extras: list[str] = []
    if cands:
        tk = after[0] if after else cands[0]
        target, tport, tservice = split_hostport(words[tk])
        if tport is not None:
            ports.insert(0, tport)
        if tservice is not None:
            if service is not None and service.lower() != tservice.lower():
                raise BadInput(f"two services given ({_show(tservice)} and {_show(service)}): ask about one at a time")
            service = tservice
        extras = [words[k] for k in cands if k != tk]
    uniq = list(dict.fromkeys(ports))
    if len(uniq) > 1:
        raise BadInput(f"several ports given ({', '.join(map(str, uniq))}): ask about one at a time")
    port = uniq[0] if uniq else None
    if target is None:
        if port is not None or service is not None or vantages or verb is not None or set(low) & _MODALS:
            raise BadInput(f"which host? {EXAMPLE}")
        return ParsedRequest(intent="help", args=words[:1], text=text)
    return ParsedRequest(
        target_token=target,
        port=port,
        service=service,
        vantage_tokens=list(dict.fromkeys(vantages)),
        intent="diagnose",
        extra_tokens=extras,
        text=text,
    )


# --------------------------------------------------------------------------- resolve


def _services_text(host: Host) -> str:
    if not host.services:
        return f"{host.name} has no known services; give a port, e.g. {host.name}:5432"
    listed = ", ".join(f"{n} ({p})" for n, p in sorted(host.services.items(), key=lambda kv: (kv[1], kv[0])))
    return f"known services of {host.name}: {listed}"


def _find_service(host: Host, token: str) -> str | None:
    low = token.lower()
    return next((n for n in sorted(host.services) if n.lower() == low), None)


def _resolve_target(parsed: ParsedRequest, inv: Inventory) -> tuple[Host, list[str]]:
    """The target host, and the extra tokens left over. "postgres on db01" swaps."""
    assert parsed.target_token is not None
    try:
        return inv.resolve(parsed.target_token), list(parsed.extra_tokens)
    except UnknownHost:
        for k, tok in enumerate(parsed.extra_tokens):
            host = _try_host(inv, tok)
            if host is not None and _find_service(host, parsed.target_token):
                rest = [parsed.target_token, *parsed.extra_tokens[:k], *parsed.extra_tokens[k + 1 :]]
                return host, rest
        raise


def _try_host(inv: Inventory, tok: str) -> Host | None:
    try:
        name, _, _ = split_hostport(tok)
        return inv.lookup(name)
    except BadInput:
        return None


def resolve_request(parsed: ParsedRequest, inventory: Inventory) -> list[Request]:
    """Inventory objects for a ``diagnose`` request: one Request per service when no
    port was given and the host has several (at most MAX_SERVICES). Other intents
    give ``[]`` (see ``resolve_hosts`` for drift and history)."""
    if parsed.intent != "diagnose":
        return []
    if not parsed.target_token:
        raise BadInput(f"which host? {EXAMPLE}")
    host, extras = _resolve_target(parsed, inventory)

    service: str | None = None
    if parsed.service is not None:
        service = _find_service(host, parsed.service)
        if service is None:
            raise BadInput(f"{host.name} has no service {_show(parsed.service)}; {_services_text(host)}")
    known_anywhere = inventory.all_services()
    for tok in extras:
        other = _try_host(inventory, tok)
        if other is not None and other.name != host.name:
            raise BadInput(
                f"one target at a time: {host.name} and {other.name} are both hosts "
                f"(say 'from {other.name}' to test from it)"
            )
        svc = _find_service(host, tok)
        if svc is not None:
            if service is not None and svc != service:
                raise BadInput(f"two services given ({service} and {svc}): ask about one at a time")
            service = svc
        elif tok.lower() in known_anywhere:
            raise BadInput(f"{host.name} has no service {_show(tok)}; {_services_text(host)}")

    port = parsed.port
    if service is not None:
        sport = host.services[service]
        if port is not None and port != sport:
            raise BadInput(f"{service} on {host.name} is port {sport}, not {port}")
        port = sport
    elif port is not None:
        service = next((n for n, p in sorted(host.services.items()) if p == port), None)

    vantages = _resolve_vantages(parsed.vantage_tokens, inventory, host)

    def req(p: int | None, s: str | None) -> Request:
        return Request(text=parsed.text, target=host.name, address=host.address, port=p, service=s, vantages=vantages)

    if port is not None:
        return [req(port, service)]
    if host.adhoc:
        raise BadInput(
            f"{host.name} is not an inventory host, so only connect tests can run: give a port, e.g. {host.name}:443"
        )
    if len(host.services) > MAX_SERVICES:
        raise BadInput(f"{host.name} has {len(host.services)} services; name one or give a port. {_services_text(host)}")
    return [req(p, n) for n, p in sorted(host.services.items(), key=lambda kv: (kv[1], kv[0]))] or [req(None, None)]


def _resolve_vantages(tokens: list[str], inventory: Inventory, target: Host) -> list[str]:
    """Vantage names (configured names or inventory host names), ``bot`` first
    (not for a target behind a jump host unless asked for: ``with_bot_vantage``).

    None given: every configured vantage. Use ``inventory.resolve_vantage(name)``
    to get the Vantage for each returned name."""
    configured = list(inventory.vantages())
    names: list[str] = []
    explicit_bot = False
    for tok in tokens or ["all"]:
        if tok == "all":
            names.extend(configured)
        else:
            names.append(inventory.resolve_vantage(tok).name)
            explicit_bot = explicit_bot or names[-1] == BOT_VANTAGE
    names = with_bot_vantage(names, target, explicit_bot=explicit_bot)
    if len(names) > MAX_VANTAGES:
        raise BadInput(f"too many vantages ({len(names)}); at most {MAX_VANTAGES} at a time")
    return names


def resolve_hosts(parsed: ParsedRequest, inventory: Inventory) -> list[Host]:
    """Hosts for ``drift`` (selectors, default ``all``) and ``history`` (one host)."""
    if parsed.intent == "drift":
        return inventory.select(parsed.args or ["all"])
    if parsed.intent == "history":
        return [inventory.lookup(parsed.args[0]) or _raise(inventory.unknown(parsed.args[0]))]
    return []


def _raise(e: BaseException) -> Host:
    raise e
